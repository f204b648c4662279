package dev.ksbridge.interceptors;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.utils.Bytes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Producer interceptor: records sent ({@code onSend}), acknowledged and failed by exception
 * class ({@code onAcknowledgement}) and the send-to-acknowledgement latency per client id and
 * topic, as MBeans {@code ksbridge.interceptors:type=producer,client-id=..,topic=..}; optional
 * rate-limited log lines under {@code ksbridge.interceptor.producer}.
 *
 * <p>Enable with {@code interceptor.classes=dev.ksbridge.interceptors.KsbridgeProducerInterceptor}
 * (Kafka Streams: {@code producer.interceptor.classes}). It never changes the record, never
 * throws, never blocks, and keeps bounded state; {@code close()} unregisters its MBeans.
 */
public final class KsbridgeProducerInterceptor implements ProducerInterceptor<Object, Object> {
  static final String LOGGER = "ksbridge.interceptor.producer";
  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);
  private static final String OTHER = "other";

  /** Per-topic counters and histogram. */
  static final class TopicStats {
    final String topic;
    final LongAdder sent = new LongAdder();
    final LongAdder bytesSent = new LongAdder();
    final LongAdder acked = new LongAdder();
    final LongAdder bytesAcked = new LongAdder();
    final LongAdder failed = new LongAdder();
    final Histogram latency = Histogram.nanos(Histogram.LATENCY_SECONDS);
    final SendTimes sendTimes;

    TopicStats(String topic, int maxInFlight) {
      this.topic = topic;
      this.sendTimes = new SendTimes(maxInFlight);
    }
  }

  private volatile Settings settings = Settings.DEFAULT;
  private volatile String clientId = "";
  private volatile Beans beans = new Beans(false, LOG);
  private volatile LogGate log = new LogGate(LOG, Settings.DEFAULT);
  private final ConcurrentHashMap<String, TopicStats> topics = new ConcurrentHashMap<>();
  private final AtomicInteger topicCount = new AtomicInteger();
  private final ConcurrentHashMap<String, LongAdder> failures = new ConcurrentHashMap<>();
  private final AtomicInteger failureCount = new AtomicInteger();
  private final LongAdder overflowRecords = new LongAdder();
  private final LongAdder unmatched = new LongAdder();
  private final LongAdder internalErrors = new LongAdder();
  private final LongAdder failedWithoutTopic = new LongAdder();

  @Override
  public void configure(Map<String, ?> configs) {
    try {
      Settings s = Settings.parse(configs);
      Object id = configs.get("client.id");
      clientId = id == null ? "" : id.toString();
      settings = s;
      log = new LogGate(LOG, s);
      beans = new Beans(s.jmx, LOG);
      for (String p : s.problems) LOG.warn("ksbridge producer interceptor {}: {}", clientId, p);
      beans.register("producer-client", clientId, new String[0], StatsBean
          .builder("ksbridge producer interceptor of one client")
          .counter("overflow-records-total", overflowRecords,
              "Records of topics beyond ksbridge.interceptor.max.topics (not tracked per topic)")
          .counter("latency-unmatched-total", unmatched,
              "Acknowledgements without a recorded send time (max.in.flight reached)")
          .counter("failed-without-topic-total", failedWithoutTopic,
              "Failed sends reported without topic metadata")
          .counter("internal-errors-total", internalErrors,
              "Errors inside the interceptor, caught and counted (the client is not affected)")
          .counter("log-lines-total", log.written, "Log lines written")
          .counter("log-suppressed-total", log.suppressed,
              "Log lines left out by ksbridge.interceptor.log.max.per.second")
          .build());
    } catch (Throwable t) {
      rethrowFatal(t);
      internalErrors.increment();
    }
  }

  static void rethrowFatal(Throwable t) {
    if (t instanceof VirtualMachineError) throw (VirtualMachineError) t;
  }

  /** The stats of a topic, registered on first sight; null beyond max.topics. */
  private TopicStats topic(String topic) {
    TopicStats s = topics.get(topic);
    if (s != null) return s;
    if (topicCount.incrementAndGet() > settings.maxTopics) {
      topicCount.decrementAndGet();
      return null;
    }
    TopicStats fresh = new TopicStats(topic, settings.maxInFlight);
    s = topics.putIfAbsent(topic, fresh);
    if (s != null) {
      topicCount.decrementAndGet();
      return s;
    }
    beans.register("producer", clientId, new String[] {"topic", topic}, StatsBean
        .builder("ksbridge producer interceptor: one client and topic")
        .counter("records-sent-total", fresh.sent, "Records passed to send() (onSend)")
        .counter("bytes-sent-total", fresh.bytesSent,
            "Key and value bytes at onSend, for byte[], ByteBuffer and Bytes payloads")
        .counter("records-acked-total", fresh.acked, "Records acknowledged by the broker")
        .counter("bytes-acked-total", fresh.bytesAcked,
            "Serialized key and value bytes of acknowledged records")
        .counter("records-failed-total", fresh.failed, "Records whose send failed")
        .histogram("send-ack-latency-seconds", fresh.latency,
            "Time from onSend to the acknowledgement")
        .build());
    return fresh;
  }

  private LongAdder failure(String topic, String exceptionClass) {
    String key = topic + '\u0000' + exceptionClass;
    LongAdder a = failures.get(key);
    if (a != null) return a;
    if (failureCount.incrementAndGet() > settings.maxExceptionClasses) {
      failureCount.decrementAndGet();
      if (exceptionClass.equals(OTHER)) return null;
      return failure(topic, OTHER);
    }
    LongAdder fresh = new LongAdder();
    a = failures.putIfAbsent(key, fresh);
    if (a != null) {
      failureCount.decrementAndGet();
      return a;
    }
    beans.register("producer-failure", clientId,
        new String[] {"topic", topic, "exception", exceptionClass}, StatsBean
            .builder("ksbridge producer interceptor: failed sends of one topic by exception class")
            .counter("records-failed-total", fresh, "Records whose send failed with this exception")
            .build());
    return fresh;
  }

  /** Payload size when it is known before serialization, else -1. */
  static long size(Object o) {
    if (o == null) return 0;
    if (o instanceof byte[]) return ((byte[]) o).length;
    if (o instanceof ByteBuffer) return ((ByteBuffer) o).remaining();
    if (o instanceof Bytes) return ((Bytes) o).get().length;
    return -1;
  }

  @Override
  public ProducerRecord<Object, Object> onSend(ProducerRecord<Object, Object> record) {
    try {
      long now = System.nanoTime();
      TopicStats s = topic(record.topic());
      if (s == null) {
        overflowRecords.increment();
      } else {
        s.sent.increment();
        long k = size(record.key());
        long v = size(record.value());
        if (k >= 0 && v >= 0) s.bytesSent.add(k + v);
        s.sendTimes.push(now);
      }
      if (log.allow(false)) {
        if (settings.logPayload) {
          LOG.info("send topic={} partition={} timestamp={} key={} value={}", record.topic(),
              record.partition(), record.timestamp(), LogGate.payload(record.key()),
              LogGate.payload(record.value()));
        } else {
          LOG.info("send topic={} partition={} timestamp={}", record.topic(), record.partition(),
              record.timestamp());
        }
      }
    } catch (Throwable t) {
      rethrowFatal(t);
      internalErrors.increment();
    }
    return record;
  }

  @Override
  public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
    try {
      long now = System.nanoTime();
      if (metadata == null) {
        if (exception != null) failedWithoutTopic.increment();
        if (exception != null && log.allow(true)) {
          LOG.warn("failed topic=? exception={}", exception.toString());
        }
        return;
      }
      TopicStats s = topic(metadata.topic());
      if (s != null) { // a record of an untracked topic was counted as overflow at onSend
        long sentAt = s.sendTimes.pop();
        if (exception == null) {
          s.acked.increment();
          s.bytesAcked.add(Math.max(0, metadata.serializedKeySize())
              + Math.max(0, metadata.serializedValueSize()));
          if (sentAt == SendTimes.NONE) {
            unmatched.increment();
          } else {
            s.latency.observe(now - sentAt);
          }
        } else {
          s.failed.increment();
          LongAdder f = failure(s.topic, exception.getClass().getName());
          if (f != null) f.increment();
        }
      }
      if (exception == null) {
        if (log.allow(false)) {
          LOG.info("acknowledged topic={} partition={} offset={} timestamp={}", metadata.topic(),
              metadata.partition(), metadata.offset(), metadata.timestamp());
        }
      } else if (log.allow(true)) {
        LOG.warn("failed topic={} partition={} exception={}", metadata.topic(),
            metadata.partition(), exception.toString());
      }
    } catch (Throwable t) {
      rethrowFatal(t);
      internalErrors.increment();
    }
  }

  @Override
  public void close() {
    try {
      beans.close();
    } catch (Throwable t) {
      rethrowFatal(t);
      internalErrors.increment();
    }
  }
}
