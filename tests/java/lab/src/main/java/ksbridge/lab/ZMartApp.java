package ksbridge.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.Stores;

/**
 * The lab's Kafka Streams demo app, modelled on the ZMart retail example of "Kafka Streams in
 * Action" (chapter 7): purchases have their card numbers masked, are split by department,
 * joined with the customer table (rewards) and the global store table, and aggregated into a
 * persistent (RocksDB) key-value store (totals per department, through a repartition topic), an
 * in-memory key-value store (purchases per zip code) and, for stock transactions, a RocksDB
 * window store whose results pass through {@code suppress(untilWindowCloses)}.
 *
 * <p>A generator thread in the same JVM (see {@link Generator}) feeds the input topics at
 * {@code --rate} records per second. The app takes no JMX flags: it is found by pid.
 *
 * <p>Stdout lines tests wait for: {@code STATE <new> <old>}, {@code THREADS <names>},
 * {@code THREAD-FAILED <thread> <exception>}, {@code RESTORE-START store= partition= start= end=},
 * {@code RESTORE-END store= partition= records=}, {@code PAUSED}, {@code RESUMED},
 * {@code FAIL-INJECTED after=N}, {@code THREAD-REMOVED <thread>}. Stdin commands (through
 * {@link Guard}): {@code pause}, {@code resume}, {@code status}, {@code remove-thread}
 * ({@code KafkaStreams.removeStreamThread()}: one thread fewer, no failure).
 */
public final class ZMartApp {
  static final AtomicBoolean PAUSED = new AtomicBoolean();
  static final AtomicLong PROCESSED = new AtomicLong();
  static final AtomicBoolean FAILED_ONCE = new AtomicBoolean();
  static volatile long failAfter = -1;
  /** The running client, for stdin commands. */
  static volatile KafkaStreams STREAMS;

  private ZMartApp() {}

  /** Options, from command-line flags. */
  static final class Options {
    String bootstrap = "127.0.0.1:9092";
    String appId = "zmart";
    String topicPrefix;
    int threads = 2;
    String recordingLevel = "INFO";
    String guarantee = "at_least_once";
    double rate = 50;
    String stateDir;
    boolean wipeState;
    long failAfter = -1;
    String onFailure = "replace-thread";
    long commitIntervalMs = -1;
    boolean generator = true;
    boolean startPaused;
    int partitions = 2;
    final Properties extra = new Properties();

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--bootstrap" -> o.bootstrap = args[++i];
          case "--app-id" -> o.appId = args[++i];
          case "--topic-prefix" -> o.topicPrefix = args[++i];
          case "--threads" -> o.threads = Integer.parseInt(args[++i]);
          case "--recording-level" -> o.recordingLevel = args[++i].toUpperCase(Locale.ROOT);
          case "--guarantee" -> o.guarantee = args[++i];
          case "--rate" -> o.rate = Double.parseDouble(args[++i]);
          case "--state-dir" -> o.stateDir = args[++i];
          case "--wipe-state" -> o.wipeState = true;
          case "--fail-after" -> o.failAfter = Long.parseLong(args[++i]);
          case "--on-failure" -> o.onFailure = args[++i];
          case "--commit-interval-ms" -> o.commitIntervalMs = Long.parseLong(args[++i]);
          case "--no-generator" -> o.generator = false;
          case "--paused" -> o.startPaused = true;
          case "--partitions" -> o.partitions = Integer.parseInt(args[++i]);
          case "--set" -> {
            String kv = args[++i];
            int eq = kv.indexOf('=');
            o.extra.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
          }
          default -> throw new IllegalArgumentException("ZMartApp: unknown argument " + a);
        }
      }
      if (o.topicPrefix == null) o.topicPrefix = o.appId + "-";
      if (!o.onFailure.equals("replace-thread") && !o.onFailure.equals("shutdown-client")) {
        throw new IllegalArgumentException("--on-failure: replace-thread or shutdown-client");
      }
      return o;
    }
  }

  /** Topic names of one app instance. */
  record Topics(String prefix) {
    String purchases() { return prefix + "purchases"; }
    String stocks() { return prefix + "stock-transactions"; }
    String customers() { return prefix + "customers"; }
    String stores() { return prefix + "stores"; }
    String masked() { return prefix + "purchases-masked"; }
    String electronics() { return prefix + "electronics"; }
    String cafe() { return prefix + "cafe"; }
    String otherDepartments() { return prefix + "other-departments"; }
    String rewards() { return prefix + "rewards"; }
    String departmentTotals() { return prefix + "department-totals"; }
    String zipCounts() { return prefix + "zip-counts"; }
    String stockSummaries() { return prefix + "stock-summaries"; }
    List<String> inputs() { return List.of(purchases(), stocks(), customers(), stores()); }
    List<String> sinks() {
      return List.of(masked(), electronics(), cafe(), otherDepartments(), rewards(),
          departmentTotals(), zipCounts(), stockSummaries());
    }
  }

  /** Stdin commands (Guard calls this for each line). */
  public static void onCommand(String command) {
    switch (command) {
      case "pause" -> {
        PAUSED.set(true);
        say("PAUSED");
      }
      case "resume" -> {
        PAUSED.set(false);
        say("RESUMED");
      }
      case "status" -> say("PROCESSED " + PROCESSED.get() + " paused=" + PAUSED.get());
      case "remove-thread" -> {
        KafkaStreams s = STREAMS;
        say("THREAD-REMOVED " + (s == null ? "none" : s.removeStreamThread().orElse("none")));
      }
      default -> say("UNKNOWN-COMMAND " + command);
    }
  }

  static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  /**
   * The first processor after each source: counts records, blocks while paused (so lag grows),
   * and throws once after --fail-after records (the scripted thread failure).
   */
  static final class Gate implements FixedKeyProcessor<String, String, String> {
    private FixedKeyProcessorContext<String, String> context;

    @Override
    public void init(FixedKeyProcessorContext<String, String> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<String, String> record) {
      while (PAUSED.get()) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      long n = PROCESSED.incrementAndGet();
      if (failAfter >= 0 && n >= failAfter && FAILED_ONCE.compareAndSet(false, true)) {
        say("FAIL-INJECTED after=" + n + " thread=" + Thread.currentThread().getName());
        throw new IllegalStateException("ksbridge lab: scripted failure after " + n + " records");
      }
      context.forward(record);
    }
  }

  static String field(String csv, int index) {
    return csv.split("\\|", -1)[index];
  }

  /** Purchase value: customer|card|department|item|price|quantity|store|zip|timestamp. */
  static String maskCard(String purchase) {
    String[] f = purchase.split("\\|", -1);
    String card = f[1];
    f[1] = "xxxx-xxxx-xxxx-" + card.substring(Math.max(0, card.length() - 4));
    return String.join("|", f);
  }

  static double amount(String purchase) {
    String[] f = purchase.split("\\|", -1);
    return Double.parseDouble(f[4]) * Integer.parseInt(f[5]);
  }

  static Topology topology(Topics t) {
    StreamsBuilder b = new StreamsBuilder();
    Consumed<String, String> strings = Consumed.with(Serdes.String(), Serdes.String());
    Produced<String, String> out = Produced.with(Serdes.String(), Serdes.String());

    // Customer table (KTable, RocksDB by default) and store names (GlobalKTable).
    KTable<String, String> customers =
        b.table(t.customers(), strings, Materialized.as("customers"));
    GlobalKTable<String, String> stores =
        b.globalTable(t.stores(), strings, Materialized.as("store-names"));

    KStream<String, String> purchases =
        b.stream(t.purchases(), strings)
            .processValues(Gate::new, Named.as("purchase-gate"))
            .mapValues(ZMartApp::maskCard, Named.as("mask-card"));
    purchases.to(t.masked(), out);

    purchases
        .split(Named.as("department-"))
        .branch((k, v) -> field(v, 2).equals("electronics"),
            Branched.withConsumer(s -> s.to(t.electronics(), out), "electronics"))
        .branch((k, v) -> field(v, 2).equals("cafe"),
            Branched.withConsumer(s -> s.to(t.cafe(), out), "cafe"))
        .defaultBranch(Branched.withConsumer(s -> s.to(t.otherDepartments(), out), "other"));

    // Rewards: KStream-KTable join on the customer id (both keyed by it, co-partitioned).
    purchases
        .join(customers,
            (p, c) -> "{\"customer\":\"" + field(p, 0) + "\",\"tier\":\"" + field(c, 1)
                + "\",\"points\":" + (int) amount(p) + "}",
            org.apache.kafka.streams.kstream.Joined.with(Serdes.String(), Serdes.String(),
                Serdes.String(), "rewards-join"))
        .to(t.rewards(), out);

    // Department totals: GlobalKTable join for the store name, regroup by department
    // (repartition topic), aggregate into a persistent RocksDB key-value store.
    purchases
        .join(stores, (k, v) -> field(v, 6), (p, s) -> p + "|" + s, Named.as("store-join"))
        .groupBy((k, v) -> field(v, 2), Grouped.with("by-department", Serdes.String(), Serdes.String()))
        .aggregate(() -> 0.0, (dept, p, total) -> total + amount(p),
            Materialized.<String, Double>as(Stores.persistentKeyValueStore("department-totals"))
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Double()))
        .toStream(Named.as("department-totals-stream"))
        .to(t.departmentTotals(), Produced.with(Serdes.String(), Serdes.Double()));

    // Purchases per zip code: regroup by zip, count into an in-memory key-value store.
    purchases
        .groupBy((k, v) -> field(v, 7), Grouped.with("by-zip", Serdes.String(), Serdes.String()))
        .count(Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("zip-counts"))
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
        .toStream(Named.as("zip-counts-stream"))
        .to(t.zipCounts(), Produced.with(Serdes.String(), Serdes.Long()));

    // Stock transactions: shares per symbol in 10 s windows (RocksDB window store), emitted
    // once per window when it closes (suppress).
    b.stream(t.stocks(), strings)
        .processValues(Gate::new, Named.as("stock-gate"))
        .groupByKey(Grouped.with("by-symbol", Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(1)))
        .aggregate(() -> 0L, (sym, v, shares) -> shares + Long.parseLong(field(v, 2)),
            Materialized.<String, Long, org.apache.kafka.streams.state.WindowStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("stock-window")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("stock-suppress"))
        .toStream(Named.as("stock-summaries-stream"))
        .map((w, shares) -> KeyValue.pair(w.key(), w.key() + "@" + w.window().start() + "=" + shares),
            Named.as("stock-summary"))
        .to(t.stockSummaries(), out);
    return b.build();
  }

  static Properties streamsConfig(Options o) throws IOException {
    Properties p = new Properties();
    p.setProperty(StreamsConfig.APPLICATION_ID_CONFIG, o.appId);
    p.setProperty(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    p.setProperty(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.toString(o.threads));
    p.setProperty(StreamsConfig.METRICS_RECORDING_LEVEL_CONFIG, o.recordingLevel);
    p.setProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.guarantee);
    p.setProperty(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
    if (o.stateDir != null) {
      Files.createDirectories(Path.of(o.stateDir));
      p.setProperty(StreamsConfig.STATE_DIR_CONFIG, o.stateDir);
    }
    if (o.commitIntervalMs >= 0) {
      p.setProperty(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(o.commitIntervalMs));
    }
    // Quick joins and leaves in tests (a restarted instance with a new member id would
    // otherwise wait for the old one's session to time out).
    p.setProperty(StreamsConfig.consumerPrefix("session.timeout.ms"), "10000");
    p.setProperty(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
    p.putAll(o.extra);
    return p;
  }

  /** Sleep after each restored batch (ms), from -Dksbridge.lab.restoreDelayMs; 0 = none. */
  static final long RESTORE_DELAY_MS = Long.getLong("ksbridge.lab.restoreDelayMs", 0L);

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    failAfter = o.failAfter;
    PAUSED.set(o.startPaused);
    Topics topics = new Topics(o.topicPrefix);
    say("KSB-APP pid=" + ProcessHandle.current().pid() + " app-id=" + o.appId
        + " kafka=" + Lab.kafkaVersion() + " guarantee=" + o.guarantee
        + " recording-level=" + o.recordingLevel + " threads=" + o.threads);

    Generator generator = new Generator(o.bootstrap, topics, o.rate, o.partitions);
    generator.createTopics();
    generator.seedTables();
    if (o.generator) generator.start();

    Topology topology = topology(topics);
    KafkaStreams streams = new KafkaStreams(topology, streamsConfig(o));
    STREAMS = streams;
    CountDownLatch done = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      say("STATE " + now + " " + before);
      if (now == KafkaStreams.State.RUNNING) {
        List<String> names = new ArrayList<>();
        streams.metadataForLocalThreads().forEach(m -> names.add(m.threadName()));
        say("THREADS " + String.join(",", names));
      }
    });
    final boolean replace = o.onFailure.equals("replace-thread");
    streams.setUncaughtExceptionHandler(e -> {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      say("THREAD-FAILED " + Thread.currentThread().getName() + " " + cause);
      return replace
          ? StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD
          : StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
        say("RESTORE-START store=" + store + " partition=" + tp + " start=" + start + " end=" + end);
      }

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
        // -Dksbridge.lab.restoreDelayMs=N: a slow disk, so a restore lasts long enough to watch.
        if (RESTORE_DELAY_MS > 0) {
          try {
            Thread.sleep(RESTORE_DELAY_MS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long total) {
        say("RESTORE-END store=" + store + " partition=" + tp + " records=" + total);
      }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      PAUSED.set(false); // a paused processor would block the close
      generator.close();
      streams.close(Duration.ofSeconds(5));
      done.countDown();
    }, "zmart-shutdown"));
    if (o.wipeState) {
      streams.cleanUp();
      say("STATE-WIPED");
    }
    streams.start();
    done.await();
  }
}
