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

  /**
   * Per-topic counters, send times and latency histogram, all under this object's lock: one
   * short uncontended lock per call costs less than an atomic per field, and JMX reads one
   * consistent snapshot. Sends and acknowledgements are numbered per topic; the latency is
   * measured for every {@code every}-th one (the clock is the main cost of a call).
   */
  static final class TopicStats {
    final String topic;
    private final int every;
    private long sent;
    private long bytesSent;
    private long acked;
    private long bytesAcked;
    private long failed;
    private long sendSeq;
    private long ackSeq;
    private final Histogram latency = Histogram.nanos(Histogram.LATENCY_SECONDS);
    private final SendTimes sendTimes;

    TopicStats(String topic, Settings s) {
      this.topic = topic;
      this.every = s.latencyEvery;
      this.sendTimes = new SendTimes(s.maxInFlight);
    }

    /** A send of {@code bytes} (-1: size unknown before serialization). */
    synchronized void sent(long bytes) {
      sent++;
      if (bytes >= 0) bytesSent += bytes;
      long seq = ++sendSeq;
      if (seq % every == 0) sendTimes.push(seq, System.nanoTime());
    }

    /** An acknowledgement; false when its send was sampled but no send time was kept. */
    synchronized boolean acked(long bytes) {
      acked++;
      bytesAcked += bytes;
      long seq = ++ackSeq;
      if (seq % every != 0) return true;
      long sentAt = sendTimes.take(seq);
      if (sentAt == SendTimes.NONE) return false;
      latency.observe(System.nanoTime() - sentAt);
      return true;
    }

    synchronized void failed() {
      failed++;
      long seq = ++ackSeq;
      if (seq % every == 0) sendTimes.take(seq);
    }

    synchronized void read(Object[] out) {
      out[0] = sent;
      out[1] = bytesSent;
      out[2] = acked;
      out[3] = bytesAcked;
      out[4] = failed;
      latency.snapshot(out, 5);
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
      final LogGate g = log;
      beans.register("producer-client", clientId, new String[0], StatsBean
          .builder("ksbridge producer interceptor of one client")
          .number("overflow-records-total",
              "Records of topics beyond ksbridge.interceptor.max.topics (not tracked per topic)")
          .number("latency-unmatched-total",
              "Acknowledgements without a recorded send time (max.in.flight reached)")
          .number("failed-without-topic-total", "Failed sends reported without topic metadata")
          .number("internal-errors-total",
              "Errors inside the interceptor, caught and counted (the client is not affected)")
          .number("log-lines-total", "Log lines written")
          .number("log-suppressed-total",
              "Log lines left out by ksbridge.interceptor.log.max.per.second")
          .build(out -> {
            out[0] = overflowRecords.sum();
            out[1] = unmatched.sum();
            out[2] = failedWithoutTopic.sum();
            out[3] = internalErrors.sum();
            out[4] = g.written.sum();
            out[5] = g.suppressed.sum();
          }));
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
    TopicStats fresh = new TopicStats(topic, settings);
    s = topics.putIfAbsent(topic, fresh);
    if (s != null) {
      topicCount.decrementAndGet();
      return s;
    }
    beans.register("producer", clientId, new String[] {"topic", topic}, StatsBean
        .builder("ksbridge producer interceptor: one client and topic")
        .number("records-sent-total", "Records passed to send() (onSend)")
        .number("bytes-sent-total",
            "Key and value bytes at onSend, for byte[], ByteBuffer and Bytes payloads")
        .number("records-acked-total", "Records acknowledged by the broker")
        .number("bytes-acked-total", "Serialized key and value bytes of acknowledged records")
        .number("records-failed-total", "Records whose send failed")
        .histogram("send-ack-latency-seconds", fresh.latency,
            "Time from onSend to the acknowledgement, one send in"
                + " ksbridge.interceptor.latency.sample.every")
        .build(fresh::read));
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
            .number("records-failed-total", "Records whose send failed with this exception")
            .build(out -> out[0] = fresh.sum()));
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
      TopicStats s = topic(record.topic());
      if (s == null) {
        overflowRecords.increment();
      } else {
        long k = size(record.key());
        long v = size(record.value());
        s.sent(k >= 0 && v >= 0 ? k + v : -1);
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
      if (metadata == null) {
        if (exception != null) failedWithoutTopic.increment();
        if (exception != null && log.allow(true)) {
          LOG.warn("failed topic=? exception={}", exception.toString());
        }
        return;
      }
      TopicStats s = topic(metadata.topic());
      if (s != null) { // a record of an untracked topic was counted as overflow at onSend
        if (exception == null) {
          long bytes = Math.max(0, metadata.serializedKeySize())
              + Math.max(0, metadata.serializedValueSize());
          if (!s.acked(bytes)) unmatched.increment();
        } else {
          s.failed();
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
