package ksbridge.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Feeds the demo app's input topics: creates the topics, writes the customer and store tables
 * once, then produces purchases (about 70%) and stock transactions (about 30%) at a given rate
 * on a daemon thread. It runs in the app's JVM so that one pid is the whole demo; its producer
 * ({@code client.id=ksb-lab-generator}) is the only non-Streams client in that JVM.
 */
final class Generator implements AutoCloseable {
  static final String[] DEPARTMENTS = {"electronics", "cafe", "clothing", "garden", "books"};
  static final String[] ITEMS = {"tv", "latte", "jeans", "rake", "novel", "phone", "muffin", "shirt"};
  static final String[] SYMBOLS = {"ZMRT", "ACME", "INIT", "KAFK", "JMXB"};
  static final String[] TIERS = {"bronze", "silver", "gold", "platinum"};
  static final int CUSTOMERS = 40;
  static final int STORES = 8;

  private final String bootstrap;
  private final ZMartApp.Topics topics;
  private final double rate;
  private final int partitions;
  private final KafkaProducer<String, String> producer;
  private final Random random = new Random(7);
  private volatile boolean running = true;
  private Thread thread;

  Generator(String bootstrap, ZMartApp.Topics topics, double rate, int partitions) {
    this.bootstrap = bootstrap;
    this.topics = topics;
    this.rate = rate;
    this.partitions = partitions;
    Properties p = new Properties();
    p.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.setProperty(ProducerConfig.CLIENT_ID_CONFIG, "ksb-lab-generator");
    p.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.setProperty(ProducerConfig.ACKS_CONFIG, "all");
    p.setProperty(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.setProperty(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    producer = new KafkaProducer<>(p);
  }

  /** Creates the input and sink topics (existing ones are kept). */
  void createTopics() throws Exception {
    Properties p = new Properties();
    p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, "ksb-lab-generator-admin");
    try (Admin admin = Admin.create(p)) {
      List<NewTopic> topicsToCreate = new ArrayList<>();
      topicsToCreate.add(new NewTopic(topics.purchases(), partitions, (short) 1));
      topicsToCreate.add(new NewTopic(topics.stocks(), partitions, (short) 1));
      topicsToCreate.add(new NewTopic(topics.customers(), partitions, (short) 1)
          .configs(java.util.Map.of("cleanup.policy", "compact")));
      topicsToCreate.add(new NewTopic(topics.stores(), 1, (short) 1)
          .configs(java.util.Map.of("cleanup.policy", "compact")));
      for (String sink : topics.sinks()) topicsToCreate.add(new NewTopic(sink, 1, (short) 1));
      for (NewTopic t : topicsToCreate) {
        try {
          admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
      }
    }
  }

  /** Writes the customer table (id -> name|tier) and the store table (id -> name|zip). */
  void seedTables() throws Exception {
    for (int c = 0; c < CUSTOMERS; c++) {
      producer.send(new ProducerRecord<>(topics.customers(), customer(c),
          "customer " + c + "|" + TIERS[c % TIERS.length]));
    }
    for (int s = 0; s < STORES; s++) {
      producer.send(new ProducerRecord<>(topics.stores(), store(s),
          "ZMart #" + s + "|" + zip(s)));
    }
    producer.flush();
  }

  static String customer(int c) {
    return String.format("C%03d", c);
  }

  static String store(int s) {
    return "S" + s;
  }

  static String zip(int s) {
    return Integer.toString(10001 + s * 17);
  }

  /** customer|card|department|item|price|quantity|store|zip|timestamp */
  String purchase(long now) {
    int c = random.nextInt(CUSTOMERS);
    int s = random.nextInt(STORES);
    String card = String.format("%04d-%04d-%04d-%04d", 4000 + c, random.nextInt(10000),
        random.nextInt(10000), random.nextInt(10000));
    String price = String.format(java.util.Locale.ROOT, "%.2f", 1 + random.nextInt(50000) / 100.0);
    return customer(c) + "|" + card + "|" + DEPARTMENTS[random.nextInt(DEPARTMENTS.length)] + "|"
        + ITEMS[random.nextInt(ITEMS.length)] + "|" + price + "|" + (1 + random.nextInt(4)) + "|"
        + store(s) + "|" + zip(s) + "|" + now;
  }

  void start() {
    thread = new Thread(this::run, "ksb-lab-generator");
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    long intervalNs = rate > 0 ? (long) (1e9 / rate) : Long.MAX_VALUE;
    long next = System.nanoTime();
    long n = 0;
    while (running) {
      long now = System.currentTimeMillis();
      if (random.nextInt(10) < 7) {
        String p = purchase(now);
        producer.send(new ProducerRecord<>(topics.purchases(), p.substring(0, 4), p));
      } else {
        String sym = SYMBOLS[random.nextInt(SYMBOLS.length)];
        String v = sym + "|" + (random.nextBoolean() ? "buy" : "sell") + "|"
            + (1 + random.nextInt(500)) + "|" + now;
        producer.send(new ProducerRecord<>(topics.stocks(), sym, v));
      }
      n++;
      if (n % 100_000 == 0) ZMartApp.say("GENERATED " + n);
      next += intervalNs;
      long sleepNs = next - System.nanoTime();
      if (sleepNs > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(sleepNs);
        } catch (InterruptedException e) {
          return;
        }
      } else if (sleepNs < -1_000_000_000L) {
        next = System.nanoTime(); // fell behind by a second: do not burst to catch up
      }
    }
  }

  @Override
  public void close() {
    running = false;
    if (thread != null) thread.interrupt();
    producer.close(java.time.Duration.ofSeconds(2));
  }
}
