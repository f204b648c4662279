package ksbridge.lab;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.internals.namedtopology.KafkaStreamsNamedTopologyWrapper;
import org.apache.kafka.streams.processor.internals.namedtopology.NamedTopologyBuilder;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * Writes the {@code topology-description} metric of Kafka Streams clients built from topologies
 * of several shapes, one file per shape ({@code <out>/<shape>.txt}), exactly as the client's
 * {@code stream-metrics} MBean serves it. The clients are constructed but never started, so no
 * broker is needed. Usage: {@code TopologyShapes --out DIR}.
 */
public final class TopologyShapes {
  private TopologyShapes() {}

  public static void main(String[] args) throws Exception {
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--out")) out = Path.of(args[++i]);
    }
    if (out == null) {
      System.err.println("usage: TopologyShapes --out DIR");
      System.exit(2);
    }
    Files.createDirectories(out);
    Map<String, Topology> shapes = new LinkedHashMap<>();
    shapes.put("joins", joins());
    shapes.put("windowed-suppress", windowedSuppress());
    shapes.put("global-table", globalTable());
    shapes.put("pattern", pattern());
    shapes.put("processor-api", processorApi());
    shapes.put("topic-extractor", topicExtractor());
    shapes.put("sessions-cogroup", sessionsCogroup());
    for (Map.Entry<String, Topology> e : shapes.entrySet()) {
      try (KafkaStreams streams = new KafkaStreams(e.getValue(), props(out, e.getKey()))) {
        write(out, e.getKey(), description(streams.metrics()));
      }
    }
    write(out, "named-topologies", namedTopologies(out));
    System.out.println("KSB-SHAPES " + shapes.size() + 1 + " kafka=" + Lab.kafkaVersion());
  }

  static void write(Path out, String shape, String text) throws Exception {
    Files.write(out.resolve(shape + ".txt"), text.getBytes(StandardCharsets.UTF_8));
  }

  static Properties props(Path out, String appId) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "shapes-" + appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
    p.put(StreamsConfig.STATE_DIR_CONFIG, out.resolve(".state").toString());
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    return p;
  }

  /** The value of the client's {@code topology-description} metric. */
  static String description(Map<MetricName, ? extends Metric> metrics) {
    for (Map.Entry<MetricName, ? extends Metric> m : metrics.entrySet()) {
      if (m.getKey().name().equals("topology-description")) {
        return String.valueOf(m.getValue().metricValue());
      }
    }
    throw new IllegalStateException("no topology-description metric");
  }

  /** Stream-stream, stream-table, table-table and foreign-key joins. */
  static Topology joins() {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> left = b.stream("orders");
    KStream<String, String> right = b.stream("payments");
    KTable<String, String> users = b.table("users", Materialized.as("users-store"));
    KTable<String, String> addresses = b.table("addresses");
    left.join(right, (l, r) -> l + r, JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMinutes(5)))
        .selectKey((k, v) -> v)
        .leftJoin(users, (v, u) -> v + u)
        .to("orders-enriched");
    users.join(addresses, (u, a) -> u + a).toStream().to("users-with-address");
    users.join(addresses, u -> u, (u, a) -> u + a).toStream().to("users-fk");
    return b.build();
  }

  /** Windowed aggregation with grace and suppression until the window closes. */
  static Topology windowedSuppress() {
    StreamsBuilder b = new StreamsBuilder();
    b.<String, String>stream("clicks")
        .groupBy((k, v) -> v, Grouped.as("by-page"))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(1)))
        .count(Materialized.as("clicks-per-window"))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("final"))
        .toStream()
        .map((w, c) -> KeyValue.pair(w.key(), String.valueOf(c)))
        .to("click-counts");
    b.<String, String>stream("views")
        .groupByKey()
        .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(30)))
        .reduce((a, c) -> a + c)
        .toStream()
        .map((w, v) -> KeyValue.pair(w.key(), v))
        .to("view-sums");
    return b.build();
  }

  /** A global table joined with a stream, and a global store from the Processor API. */
  static Topology globalTable() {
    StreamsBuilder b = new StreamsBuilder();
    GlobalKTable<String, String> countries = b.globalTable("countries", Materialized.as("countries-store"));
    b.<String, String>stream("visits")
        .join(countries, (k, v) -> v, (v, c) -> v + c, Named.as("visit-country"))
        .to("visits-by-country");
    b.addGlobalStore(
        Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("rates"), Serdes.String(), Serdes.String())
            .withLoggingDisabled(),
        "rates",
        Consumed.with(Serdes.String(), Serdes.String()),
        () -> new Processor<String, String, Void, Void>() {
          KeyValueStore<String, String> store;

          @Override
          public void init(ProcessorContext<Void, Void> context) {
            store = context.getStateStore("rates");
          }

          @Override
          public void process(Record<String, String> r) {
            store.put(r.key(), r.value());
          }
        });
    return b.build();
  }

  /** A source subscribed by pattern, and a named repartition. */
  static Topology pattern() {
    StreamsBuilder b = new StreamsBuilder();
    b.<String, String>stream(Pattern.compile("logs-.*"), Consumed.as("all-logs"))
        .repartition(Repartitioned.as("by-host"))
        .groupByKey()
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("lines-per-host"))
        .toStream()
        .mapValues(String::valueOf)
        .to("log-counts", Produced.as("write-counts"));
    return b.build();
  }

  /** A hand-built Processor API topology: named nodes, a shared store, two sinks. */
  static Topology processorApi() {
    Topology t = new Topology();
    t.addSource("Source", "words-in", "words-alt");
    t.addProcessor("Split", Passthrough::new, "Source");
    t.addProcessor("Count", Passthrough::new, "Split");
    t.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("Counts"), Serdes.String(), Serdes.Long()),
        "Count");
    t.addSink("Sink", "word-counts", "Count");
    t.addSink("Audit", "audit", "Split", "Count");
    return t;
  }

  /** Records routed to topics chosen per record (TopicNameExtractor). */
  static Topology topicExtractor() {
    StreamsBuilder b = new StreamsBuilder();
    b.<String, String>stream("events").to((k, v, ctx) -> "events-" + k);
    return b.build();
  }

  /** Session windows and a cogroup. */
  static Topology sessionsCogroup() {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> a = b.stream("taps");
    KStream<String, String> c = b.stream("swipes");
    a.groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMinutes(1)))
        .count()
        .toStream()
        .map((w, n) -> KeyValue.pair(w.key(), String.valueOf(n)))
        .to("sessions");
    a.groupByKey()
        .cogroup((String k, String v, String agg) -> agg + v)
        .cogroup(c.groupByKey(), (k, v, agg) -> agg + v)
        .aggregate(() -> "", Named.as("gestures"))
        .toStream()
        .to("gestures");
    return b.build();
  }

  /** Two named topologies in one client (the internal NamedTopology API of 3.x and 4.x). */
  static String namedTopologies(Path out) throws Exception {
    try (KafkaStreamsNamedTopologyWrapper w =
        new KafkaStreamsNamedTopologyWrapper(props(out, "named-topologies"))) {
      NamedTopologyBuilder first = w.newNamedTopologyBuilder("billing");
      first.<String, String>stream("invoices").groupByKey().count().toStream()
          .mapValues(String::valueOf).to("invoice-counts");
      NamedTopologyBuilder second = w.newNamedTopologyBuilder("shipping");
      second.<String, String>stream("parcels").filter((k, v) -> v != null).to("parcels-valid");
      w.addNamedTopology(first.build());
      w.addNamedTopology(second.build());
      return description(w.metrics());
    }
  }

  /** A processor that forwards every record. */
  static final class Passthrough implements Processor<String, String, String, String> {
    ProcessorContext<String, String> context;

    @Override
    public void init(ProcessorContext<String, String> context) {
      this.context = context;
    }

    @Override
    public void process(Record<String, String> r) {
      context.forward(r);
    }
  }
}
