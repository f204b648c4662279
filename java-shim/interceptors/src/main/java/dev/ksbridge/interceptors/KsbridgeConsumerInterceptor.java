package dev.ksbridge.interceptors;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumer interceptor: records and bytes consumed and the age of each record (now minus its
 * timestamp) per client id and topic ({@code onConsume}), the last committed offset per
 * partition and commits counted ({@code onCommit}), as MBeans
 * {@code ksbridge.interceptors:type=consumer|consumer-partition,client-id=..,topic=..}; optional
 * rate-limited log lines under {@code ksbridge.interceptor.consumer}.
 *
 * <p>Enable with {@code interceptor.classes=dev.ksbridge.interceptors.KsbridgeConsumerInterceptor}
 * (Kafka Streams: {@code main.consumer.interceptor.classes}). It returns the records unchanged,
 * never throws, never blocks, keeps bounded state; {@code close()} unregisters its MBeans.
 */
public final class KsbridgeConsumerInterceptor implements ConsumerInterceptor<Object, Object> {
  static final String LOGGER = "ksbridge.interceptor.consumer";
  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);

  /** Per-topic counters and the age histogram, under this object's lock (once per batch). */
  static final class TopicStats {
    private long consumed;
    private long bytes;
    private long commits;
    final Histogram age = Histogram.millis(Histogram.AGE_SECONDS);

    synchronized void batch(long records, long batchBytes, long[] ageCells, long ageSum) {
      consumed += records;
      bytes += batchBytes;
      age.addBatch(ageCells, ageSum);
    }

    synchronized void committed() {
      commits++;
    }

    synchronized void read(Object[] out) {
      out[0] = consumed;
      out[1] = bytes;
      out[2] = commits;
      age.snapshot(out, 3);
    }
  }

  /** Per-partition offsets and counts, under this object's lock. */
  static final class PartitionStats {
    private long committedOffset = -1;
    private long consumedOffset = -1;
    private long consumed;
    private long commits;

    synchronized void batch(long records, long lastOffset) {
      consumed += records;
      consumedOffset = lastOffset;
    }

    synchronized void committed(long offset) {
      committedOffset = offset;
      commits++;
    }

    synchronized void read(Object[] out) {
      out[0] = committedOffset;
      out[1] = commits;
      out[2] = consumedOffset;
      out[3] = consumed;
    }
  }

  private volatile Settings settings = Settings.DEFAULT;
  private volatile String clientId = "";
  private volatile Beans beans = new Beans(false, LOG);
  private volatile LogGate log = new LogGate(LOG, Settings.DEFAULT);
  private final ConcurrentHashMap<String, TopicStats> topics = new ConcurrentHashMap<>();
  private final AtomicInteger topicCount = new AtomicInteger();
  private final ConcurrentHashMap<TopicPartition, PartitionStats> partitions =
      new ConcurrentHashMap<>();
  private final AtomicInteger partitionCount = new AtomicInteger();
  private final LongAdder commits = new LongAdder();
  private final LongAdder overflowRecords = new LongAdder();
  private final LongAdder overflowPartitions = new LongAdder();
  private final LongAdder internalErrors = new LongAdder();

  @Override
  public void configure(Map<String, ?> configs) {
    try {
      Settings s = Settings.parse(configs);
      Object id = configs.get("client.id");
      clientId = id == null ? "" : id.toString();
      settings = s;
      log = new LogGate(LOG, s);
      beans = new Beans(s.jmx, LOG);
      for (String p : s.problems) LOG.warn("ksbridge consumer interceptor {}: {}", clientId, p);
      final LogGate g = log;
      beans.register("consumer-client", clientId, new String[0], StatsBean
          .builder("ksbridge consumer interceptor of one client")
          .number("commits-total", "Offset commits the broker confirmed (onCommit calls)")
          .number("overflow-records-total",
              "Records of topics beyond ksbridge.interceptor.max.topics (not tracked per topic)")
          .number("overflow-partition-updates-total",
              "Partition updates beyond ksbridge.interceptor.max.partitions (not tracked)")
          .number("internal-errors-total",
              "Errors inside the interceptor, caught and counted (the client is not affected)")
          .number("log-lines-total", "Log lines written")
          .number("log-suppressed-total",
              "Log lines left out by ksbridge.interceptor.log.max.per.second")
          .build(out -> {
            out[0] = commits.sum();
            out[1] = overflowRecords.sum();
            out[2] = overflowPartitions.sum();
            out[3] = internalErrors.sum();
            out[4] = g.written.sum();
            out[5] = g.suppressed.sum();
          }));
    } catch (Throwable t) {
      KsbridgeProducerInterceptor.rethrowFatal(t);
      internalErrors.increment();
    }
  }

  private TopicStats topic(String topic) {
    TopicStats s = topics.get(topic);
    if (s != null) return s;
    if (topicCount.incrementAndGet() > settings.maxTopics) {
      topicCount.decrementAndGet();
      return null;
    }
    TopicStats fresh = new TopicStats();
    s = topics.putIfAbsent(topic, fresh);
    if (s != null) {
      topicCount.decrementAndGet();
      return s;
    }
    beans.register("consumer", clientId, new String[] {"topic", topic}, StatsBean
        .builder("ksbridge consumer interceptor: one client and topic")
        .number("records-consumed-total", "Records returned by poll() (onConsume)")
        .number("bytes-consumed-total", "Serialized key and value bytes consumed")
        .number("commits-total", "Confirmed commits that included this topic")
        .histogram("record-age-seconds", fresh.age,
            "Age of consumed records: consume time minus record timestamp")
        .build(fresh::read));
    return fresh;
  }

  private PartitionStats partition(TopicPartition tp) {
    PartitionStats s = partitions.get(tp);
    if (s != null) return s;
    if (partitionCount.incrementAndGet() > settings.maxPartitions) {
      partitionCount.decrementAndGet();
      overflowPartitions.increment();
      return null;
    }
    PartitionStats fresh = new PartitionStats();
    s = partitions.putIfAbsent(tp, fresh);
    if (s != null) {
      partitionCount.decrementAndGet();
      return s;
    }
    beans.register("consumer-partition", clientId,
        new String[] {"topic", tp.topic(), "partition", Integer.toString(tp.partition())}, StatsBean
            .builder("ksbridge consumer interceptor: one client and partition")
            .number("committed-offset",
                "Last offset the broker confirmed as committed (onCommit); -1 before the first")
            .number("commits-total", "Confirmed commits of this partition")
            .number("consumed-offset",
                "Offset of the last record returned by poll(); -1 before the first")
            .number("records-consumed-total", "Records returned by poll()")
            .build(fresh::read));
    return fresh;
  }

  @Override
  public ConsumerRecords<Object, Object> onConsume(ConsumerRecords<Object, Object> records) {
    try {
      if (records.isEmpty()) return records;
      long nowMs = System.currentTimeMillis();
      for (TopicPartition tp : records.partitions()) {
        List<ConsumerRecord<Object, Object>> list = records.records(tp);
        if (list.isEmpty()) continue;
        TopicStats s = topic(tp.topic());
        if (s == null) {
          overflowRecords.add(list.size());
          continue;
        }
        // Counted locally, added once per partition: a handful of adds per poll, not per record.
        long[] cells = new long[s.age.cells()];
        long bytes = 0;
        long ageSum = 0;
        for (ConsumerRecord<Object, Object> r : list) {
          bytes += Math.max(0, r.serializedKeySize()) + Math.max(0, r.serializedValueSize());
          long ts = r.timestamp();
          if (ts >= 0) {
            long age = Math.max(0, nowMs - ts);
            cells[s.age.cell(age)]++;
            ageSum += age;
          }
        }
        s.batch(list.size(), bytes, cells, ageSum);
        PartitionStats p = partition(tp);
        if (p != null) p.batch(list.size(), list.get(list.size() - 1).offset());
        if (log.allow(false)) {
          if (settings.logPayload) {
            StringBuilder b = new StringBuilder();
            int n = 0;
            for (ConsumerRecord<Object, Object> r : list) {
              if (n++ == 10) {
                b.append(" ...");
                break;
              }
              b.append(" [offset=").append(r.offset()).append(" key=")
                  .append(LogGate.payload(r.key())).append(" value=")
                  .append(LogGate.payload(r.value())).append(']');
            }
            LOG.info("consumed topic={} partition={} records={} offsets={}..{}{}", tp.topic(),
                tp.partition(), list.size(), list.get(0).offset(),
                list.get(list.size() - 1).offset(), b);
          } else {
            LOG.info("consumed topic={} partition={} records={} offsets={}..{}", tp.topic(),
                tp.partition(), list.size(), list.get(0).offset(),
                list.get(list.size() - 1).offset());
          }
        }
      }
    } catch (Throwable t) {
      KsbridgeProducerInterceptor.rethrowFatal(t);
      internalErrors.increment();
    }
    return records;
  }

  @Override
  public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
    try {
      commits.increment();
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
        TopicPartition tp = e.getKey();
        OffsetAndMetadata om = e.getValue();
        if (tp == null || om == null) continue;
        if (seen.add(tp.topic())) {
          TopicStats s = topic(tp.topic());
          if (s != null) s.committed();
        }
        PartitionStats p = partition(tp);
        if (p != null) p.committed(om.offset());
      }
      if (log.allow(false)) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
          if (b.length() > 0) b.append(", ");
          b.append(e.getKey()).append('=')
              .append(e.getValue() == null ? "null" : Long.toString(e.getValue().offset()));
        }
        LOG.info("committed {}", b);
      }
    } catch (Throwable t) {
      KsbridgeProducerInterceptor.rethrowFatal(t);
      internalErrors.increment();
    }
  }

  @Override
  public void close() {
    try {
      beans.close();
    } catch (Throwable t) {
      KsbridgeProducerInterceptor.rethrowFatal(t);
      internalErrors.increment();
    }
  }
}
