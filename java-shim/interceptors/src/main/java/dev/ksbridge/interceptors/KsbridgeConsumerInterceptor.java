package dev.ksbridge.interceptors;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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

  static final class TopicStats {
    final LongAdder consumed = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder commits = new LongAdder();
    final Histogram age = Histogram.millis(Histogram.AGE_SECONDS);
  }

  static final class PartitionStats {
    final AtomicLong committedOffset = new AtomicLong(-1);
    final AtomicLong consumedOffset = new AtomicLong(-1);
    final LongAdder consumed = new LongAdder();
    final LongAdder commits = new LongAdder();
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
      beans.register("consumer-client", clientId, new String[0], StatsBean
          .builder("ksbridge consumer interceptor of one client")
          .counter("commits-total", commits, "Offset commits the broker confirmed (onCommit calls)")
          .counter("overflow-records-total", overflowRecords,
              "Records of topics beyond ksbridge.interceptor.max.topics (not tracked per topic)")
          .counter("overflow-partition-updates-total", overflowPartitions,
              "Partition updates beyond ksbridge.interceptor.max.partitions (not tracked)")
          .counter("internal-errors-total", internalErrors,
              "Errors inside the interceptor, caught and counted (the client is not affected)")
          .counter("log-lines-total", log.written, "Log lines written")
          .counter("log-suppressed-total", log.suppressed,
              "Log lines left out by ksbridge.interceptor.log.max.per.second")
          .build());
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
        .counter("records-consumed-total", fresh.consumed, "Records returned by poll() (onConsume)")
        .counter("bytes-consumed-total", fresh.bytes, "Serialized key and value bytes consumed")
        .counter("commits-total", fresh.commits, "Confirmed commits that included this topic")
        .histogram("record-age-seconds", fresh.age,
            "Age of consumed records: consume time minus record timestamp")
        .build());
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
            .gauge("committed-offset", fresh.committedOffset,
                "Last offset the broker confirmed as committed (onCommit); -1 before the first")
            .counter("commits-total", fresh.commits, "Confirmed commits of this partition")
            .gauge("consumed-offset", fresh.consumedOffset,
                "Offset of the last record returned by poll(); -1 before the first")
            .counter("records-consumed-total", fresh.consumed, "Records returned by poll()")
            .build());
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
        s.consumed.add(list.size());
        s.bytes.add(bytes);
        s.age.addBatch(cells, ageSum);
        PartitionStats p = partition(tp);
        if (p != null) {
          p.consumed.add(list.size());
          p.consumedOffset.set(list.get(list.size() - 1).offset());
        }
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
          if (s != null) s.commits.increment();
        }
        PartitionStats p = partition(tp);
        if (p != null) {
          p.committedOffset.set(om.offset());
          p.commits.increment();
        }
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
