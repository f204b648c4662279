package ksbridge.lab;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;

/**
 * Overhead of ksbridge's interceptors (the jar must be on the classpath; it is loaded by name).
 *
 * <pre>
 *   InterceptorBench throughput --bootstrap B [--records N] [--rounds R] [--threads T]
 *   InterceptorBench cost [--iterations N] [--latency-every K]
 * </pre>
 *
 * Times are CPU times (the app JVM's, the timing thread's), which hold up on a busy machine
 * better than the wall clock. {@code throughput}: preloads N purchases once, then runs the ZMart topology over them in
 * one warm-up pair and R counted pairs of rounds without/with the interceptors (the order
 * alternating from pair to pair), each round with a fresh application id; a round's rate is
 * the records its first processors saw divided by the time from the first to the N-th, and its
 * CPU cost the JVM's CPU time over the same span per record (robust on a busy machine). Prints
 * {@code ROUND ...} lines, {@code RESULT throughput_ratio=.. cpu_per_record_ratio=..} and
 * {@code ESTIMATE overhead_percent=..}: interceptor calls per input record (from the
 * interceptors' MBeans) times their timed cost, over the app's CPU time per record. {@code cost}: a timed loop of onSend +
 * onAcknowledgement and of onConsume (batches of 500) on the interceptors alone; prints
 * {@code COST producer_ns_per_record=.. consumer_ns_per_record=..}.
 */
public final class InterceptorBench {
  static final String PRODUCER = "dev.ksbridge.interceptors.KsbridgeProducerInterceptor";
  static final String CONSUMER = "dev.ksbridge.interceptors.KsbridgeConsumerInterceptor";

  private InterceptorBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new HashMap<>();
    for (int i = 1; i + 1 < args.length; i += 2) o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    switch (args.length == 0 ? "" : args[0]) {
      case "throughput" -> throughput(o);
      case "cost" -> {
        double[] c = cost(Long.parseLong(o.getOrDefault("iterations", "5000000")),
            o.getOrDefault("latency-every", "4"));
        System.out.printf(Locale.ROOT, "COST producer_ns_per_record=%.1f"
            + " consumer_ns_per_record=%.1f%n", c[0], c[1]);
      }
      default -> throw new IllegalArgumentException("usage: InterceptorBench throughput|cost ...");
    }
    System.exit(0);
  }

  static void throughput(Map<String, String> o) throws Exception {
    String bootstrap = o.get("bootstrap");
    long n = Long.parseLong(o.getOrDefault("records", "30000"));
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "3"));
    String prefix = "bench-" + Long.toHexString(System.nanoTime()) + "-";
    ZMartApp.Topics topics = new ZMartApp.Topics(prefix);
    Generator g = new Generator(bootstrap, topics, 0, 2);
    g.createTopics();
    g.seedTables();
    Properties pp = new Properties();
    pp.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.setProperty(ProducerConfig.LINGER_MS_CONFIG, "20");
    try (KafkaProducer<String, String> p =
        new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
      for (long i = 0; i < n; i++) {
        String v = g.purchase(System.currentTimeMillis());
        p.send(new ProducerRecord<>(topics.purchases(), v.substring(0, 4), v));
      }
      p.flush();
    }
    System.out.println("PRELOADED records=" + n + " topic=" + topics.purchases());
    // Warm-up pairs (not counted), then R pairs in alternating order (off,on / on,off) so
    // drift and JIT warm-up hit both variants alike; each pair gives one ratio on/off of the
    // wall-clock rate and one of the app JVM's CPU time per record.
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "2"));
    List<Double> rateRatios = new ArrayList<>();
    List<Double> cpuRatios = new ArrayList<>();
    List<Double> cpuOff = new ArrayList<>();
    List<Double> cpuOn = new ArrayList<>();
    double sendsPerRecord = 0;
    double consumedPerRecord = 0;
    int i = 0;
    for (int pair = -warmup; pair < rounds; pair++) {
      double[][] r = new double[2][];
      for (int k = 0; k < 2; k++) {
        boolean with = (pair & 1) == 0 ? k == 1 : k == 0;
        double[] x = round(o, bootstrap, topics, prefix + "app-" + i, n, with);
        r[with ? 1 : 0] = x;
        System.out.printf(Locale.ROOT,
            "ROUND %d pair=%s interceptors=%s records_per_second=%.0f cpu_us_per_record=%.2f%n",
            i++, pair < 0 ? "warm-up" : Integer.toString(pair), with ? "on" : "off", x[0],
            x[1] / 1000);
      }
      if (pair < 0) continue;
      rateRatios.add(r[1][0] / r[0][0]);
      cpuRatios.add(r[1][1] / r[0][1]);
      cpuOff.add(r[0][1]);
      cpuOn.add(r[1][1]);
      sendsPerRecord = r[1][2];
      consumedPerRecord = r[1][3];
    }
    double rate = median(rateRatios);
    double cpu = median(cpuRatios);
    System.out.printf(Locale.ROOT,
        "RESULT throughput_ratio=%.4f (median of pairs %s) cpu_per_record_ratio=%.4f (median of"
            + " pairs %s; off %.2f us, on %.2f us) pairs=%d records=%d%n",
        rate, fmt(rateRatios), cpu, fmt(cpuRatios), median(cpuOff) / 1000, median(cpuOn) / 1000,
        rounds, n);
    // The model: interceptor calls per input record times their cost per call (timed now, in
    // the same JVM under the same machine load) over the app's CPU time per record.
    double[] cost = cost(2_000_000, "4");
    double perRecordNs = sendsPerRecord * cost[0] + consumedPerRecord * cost[1];
    System.out.printf(Locale.ROOT,
        "ESTIMATE sends_per_record=%.2f consumed_per_record=%.2f interceptor_ns_per_record=%.0f"
            + " app_cpu_ns_per_record=%.0f overhead_percent=%.2f%n",
        sendsPerRecord, consumedPerRecord, perRecordNs, median(cpuOff),
        100 * perRecordNs / median(cpuOff));
  }

  static String fmt(List<Double> xs) {
    return xs.stream().map(x -> String.format(Locale.ROOT, "%.3f", x)).toList().toString();
  }

  /**
   * One round: {records per second (wall clock), CPU nanoseconds of this JVM per record,
   * producer interceptor calls (sends) per input record, consumer records per input record}
   * (the last two read from the interceptors' own MBeans before close; 0 without them).
   */
  static double[] round(Map<String, String> o, String bootstrap, ZMartApp.Topics topics,
      String appId, long n, boolean interceptors) throws Exception {
    ZMartApp.Options opts = ZMartApp.Options.parse(new String[] {
      "--bootstrap", bootstrap, "--app-id", appId, "--topic-prefix", topics.prefix(),
      "--threads", o.getOrDefault("threads", "2"), "--state-dir",
      java.nio.file.Files.createTempDirectory("ksb-bench").toString()});
    Properties props = ZMartApp.streamsConfig(opts);
    props.setProperty("consumer.auto.offset.reset", "earliest");
    if (interceptors) {
      props.setProperty("producer.interceptor.classes", PRODUCER);
      props.setProperty("main.consumer.interceptor.classes", CONSUMER);
    }
    ZMartApp.PROCESSED.set(0);
    KafkaStreams streams = new KafkaStreams(ZMartApp.topology(topics), props);
    streams.start();
    com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
        java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    long first = 0;
    long firstCount = 0;
    long firstCpu = 0;
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (ZMartApp.PROCESSED.get() < n) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("round " + appId + " stalled");
      long c = ZMartApp.PROCESSED.get();
      if (first == 0 && c > 0) {
        first = System.nanoTime();
        firstCpu = os.getProcessCpuTime();
        firstCount = c;
      }
      Thread.sleep(1);
    }
    long end = System.nanoTime();
    long endCpu = os.getProcessCpuTime();
    double sends = interceptorTotal("producer", "records-sent-total") / n;
    double consumed = interceptorTotal("consumer", "records-consumed-total") / n;
    streams.close(Duration.ofSeconds(30));
    streams.cleanUp();
    double records = n - firstCount;
    return new double[] {records / ((end - first) / 1e9), (endCpu - firstCpu) / records, sends,
        consumed};
  }

  /** The sum of one attribute over the interceptor beans of a type in this JVM. */
  static double interceptorTotal(String type, String attribute) throws Exception {
    javax.management.MBeanServer server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
    double sum = 0;
    for (javax.management.ObjectName on : server.queryNames(
        new javax.management.ObjectName("ksbridge.interceptors:type=" + type + ",*"), null)) {
      sum += ((Number) server.getAttribute(on, attribute)).doubleValue();
    }
    return sum;
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    int m = s.size() / 2;
    return s.size() % 2 == 1 ? s.get(m) : (s.get(m - 1) + s.get(m)) / 2;
  }

  /** {producer ns per record (onSend + onAcknowledgement), consumer ns per record (onConsume)}. */
  @SuppressWarnings({"unchecked", "deprecation"})
  static double[] cost(long iterations, String latencyEvery) throws Exception {
    ProducerInterceptor<Object, Object> p = (ProducerInterceptor<Object, Object>)
        Class.forName(PRODUCER).getDeclaredConstructor().newInstance();
    ConsumerInterceptor<Object, Object> c = (ConsumerInterceptor<Object, Object>)
        Class.forName(CONSUMER).getDeclaredConstructor().newInstance();
    p.configure(Map.of("client.id", "bench-producer",
        "ksbridge.interceptor.latency.sample.every", latencyEvery));
    c.configure(Map.of("client.id", "bench-consumer"));
    byte[] key = "C001".getBytes();
    byte[] value = new byte[120];
    TopicPartition tp = new TopicPartition("bench", 0);
    ProducerRecord<Object, Object> rec = new ProducerRecord<>("bench", key, value);
    RecordMetadata md = new RecordMetadata(tp, 0, 0, System.currentTimeMillis(), 4, 120);
    List<ConsumerRecord<Object, Object>> batch = new ArrayList<>();
    long now = System.currentTimeMillis();
    for (int i = 0; i < 500; i++) {
      batch.add(new ConsumerRecord<>("bench", 0, i, now - i, TimestampType.CREATE_TIME, 4, 120, key,
          value, new RecordHeaders(), Optional.empty()));
    }
    ConsumerRecords<Object, Object> records = new ConsumerRecords<>(Map.of(tp, batch));
    double pNs = 0;
    double cNs = 0;
    // This thread's CPU time, not the wall clock: on a busy machine the thread is descheduled.
    java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
    for (int pass = 0; pass < 3; pass++) { // the first passes warm the JIT up; the last counts
      long t0 = cpu.getCurrentThreadCpuTime();
      for (long i = 0; i < iterations; i++) {
        p.onSend(rec);
        p.onAcknowledgement(md, null);
      }
      long t1 = cpu.getCurrentThreadCpuTime();
      for (long i = 0; i < iterations / 500; i++) c.onConsume(records);
      long t2 = cpu.getCurrentThreadCpuTime();
      pNs = (t1 - t0) / (double) iterations;
      cNs = (t2 - t1) / (double) (iterations / 500 * 500);
    }
    p.close();
    c.close();
    return new double[] {pNs, cNs};
  }
}
