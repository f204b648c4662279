package ksbridge.lab;

import java.time.Duration;
import java.util.Collections;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A plain (non-Streams) Kafka producer and consumer driven by stdin commands, for tests of
 * client-side plug-ins such as interceptors. Flags: {@code --bootstrap B --client-id C
 * --group G [--producer-set k=v]... [--consumer-set k=v]...}. Clients are created on first use.
 *
 * <p>Commands (through {@link Guard}) and the line each prints when done:
 * <ul>
 *   <li>{@code produce TOPIC N} - N purchase-shaped records (key C00x), flushed:
 *       {@code PRODUCED topic=T records=N acked=A failed=F}
 *   <li>{@code produce-big TOPIC BYTES} - one record with a value of BYTES bytes (rejected when
 *       larger than max.request.size): {@code PRODUCED-BIG topic=T failed=<exception class>|none}
 *   <li>{@code consume TOPIC N} - subscribe, poll until N records, commitSync:
 *       {@code CONSUMED topic=T records=N}
 *   <li>{@code close-producer}, {@code close-consumer}: {@code CLOSED producer|consumer}
 * </ul>
 */
public final class ClientDriver {
  private static final Properties PRODUCER = new Properties();
  private static final Properties CONSUMER = new Properties();
  private static KafkaProducer<String, String> producer;
  private static KafkaConsumer<String, String> consumer;
  private static long seq;

  private ClientDriver() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String clientId = "ksb-driver";
    String group = "ksb-driver";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = args[++i];
        case "--client-id" -> clientId = args[++i];
        case "--group" -> group = args[++i];
        case "--producer-set" -> put(PRODUCER, args[++i]);
        case "--consumer-set" -> put(CONSUMER, args[++i]);
        default -> throw new IllegalArgumentException("ClientDriver: unknown argument " + args[i]);
      }
    }
    PRODUCER.putIfAbsent("bootstrap.servers", bootstrap);
    PRODUCER.putIfAbsent("client.id", clientId + "-producer");
    PRODUCER.putIfAbsent("linger.ms", "5");
    CONSUMER.putIfAbsent("bootstrap.servers", bootstrap);
    CONSUMER.putIfAbsent("client.id", clientId + "-consumer");
    CONSUMER.putIfAbsent("group.id", group);
    CONSUMER.putIfAbsent("auto.offset.reset", "earliest");
    CONSUMER.putIfAbsent("enable.auto.commit", "false");
    ZMartApp.say("KSB-DRIVER pid=" + ProcessHandle.current().pid() + " kafka=" + Lab.kafkaVersion());
    new CountDownLatch(1).await();
  }

  private static void put(Properties p, String kv) {
    int eq = kv.indexOf('=');
    p.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
  }

  private static KafkaProducer<String, String> producer() {
    if (producer == null) {
      producer = new KafkaProducer<>(PRODUCER, new StringSerializer(), new StringSerializer());
    }
    return producer;
  }

  public static void onCommand(String line) throws Exception {
    String[] w = line.split("\\s+");
    switch (w[0]) {
      case "produce" -> produce(w[1], Long.parseLong(w[2]));
      case "produce-big" -> produceBig(w[1], Integer.parseInt(w[2]));
      case "consume" -> consume(w[1], Long.parseLong(w[2]));
      case "close-producer" -> {
        if (producer != null) producer.close(Duration.ofSeconds(10));
        producer = null;
        ZMartApp.say("CLOSED producer");
      }
      case "close-consumer" -> {
        if (consumer != null) consumer.close(Duration.ofSeconds(10));
        consumer = null;
        ZMartApp.say("CLOSED consumer");
      }
      default -> ZMartApp.say("UNKNOWN-COMMAND " + line);
    }
  }

  private static void produce(String topic, long n) {
    AtomicLong acked = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    KafkaProducer<String, String> p = producer();
    for (long i = 0; i < n; i++) {
      long k = seq++;
      int c = (int) (k % 20);
      String key = String.format("C%03d", c);
      String value = key + "|" + (4000 + c) + "-0000-0000-" + String.format("%04d", k % 10000)
          + "|electronics|tv|10.00|1|S" + (k % 5) + "|10001|" + System.currentTimeMillis();
      p.send(new ProducerRecord<>(topic, key, value), (md, e) -> {
        if (e == null) acked.incrementAndGet(); else failed.incrementAndGet();
      });
    }
    p.flush();
    ZMartApp.say("PRODUCED topic=" + topic + " records=" + n + " acked=" + acked.get()
        + " failed=" + failed.get());
  }

  private static void produceBig(String topic, int bytes) throws Exception {
    Future<?> f = producer().send(new ProducerRecord<>(topic, "big", "x".repeat(bytes)));
    String failed = "none";
    try {
      f.get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      failed = e.getCause().getClass().getName();
    }
    ZMartApp.say("PRODUCED-BIG topic=" + topic + " failed=" + failed);
  }

  private static void consume(String topic, long n) {
    if (consumer == null) {
      consumer = new KafkaConsumer<>(CONSUMER, new StringDeserializer(), new StringDeserializer());
      consumer.subscribe(Collections.singletonList(topic));
    }
    long got = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (got < n && System.nanoTime() < deadline) {
      ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
      got += records.count();
    }
    consumer.commitSync();
    ZMartApp.say("CONSUMED topic=" + topic + " records=" + got);
  }
}
