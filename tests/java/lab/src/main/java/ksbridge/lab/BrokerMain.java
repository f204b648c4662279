package ksbridge.lab;

import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;

/**
 * A single-node KRaft Kafka broker (combined broker + controller) for the lab, in one JVM:
 * writes server.properties into the data directory, formats the storage with Kafka's own
 * StorageTool (skipped when already formatted, so a restart keeps the data), starts
 * {@code kafka.Kafka}, waits until the broker answers a metadata request, and prints
 * a ready line on stdout.
 *
 * <pre>
 *   BrokerMain --dir DIR [--port PORT] [--controller-port CPORT] [--set key=value]...
 * </pre>
 *
 * A port of 0 (the default) picks a free loopback port. The ready line is
 * {@code KSB-LAB READY 127.0.0.1:PORT controller_port=CPORT startup_ms=N format_ms=N}.
 */
public final class BrokerMain {
  private BrokerMain() {}

  public static void main(String[] args) throws Exception {
    long t0 = System.nanoTime();
    Path dir = null;
    int port = 0;
    int cport = 0;
    Properties extra = new Properties();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--dir" -> dir = Path.of(args[++i]);
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--controller-port" -> cport = Integer.parseInt(args[++i]);
        case "--set" -> {
          String kv = args[++i];
          int eq = kv.indexOf('=');
          extra.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("BrokerMain: unknown argument " + args[i]);
      }
    }
    if (dir == null) {
      throw new IllegalArgumentException("BrokerMain: --dir is required");
    }
    if (port == 0) port = freePort();
    if (cport == 0) cport = freePort();
    Files.createDirectories(dir);
    String bootstrap = "127.0.0.1:" + port;
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", "1");
    p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + cport);
    p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + cport);
    p.setProperty("advertised.listeners", "PLAINTEXT://" + bootstrap);
    p.setProperty("controller.listener.names", "CONTROLLER");
    p.setProperty("inter.broker.listener.name", "PLAINTEXT");
    p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.setProperty("log.dirs", dir.resolve("data").toString());
    p.setProperty("num.partitions", "1");
    p.setProperty("default.replication.factor", "1");
    p.setProperty("min.insync.replicas", "1");
    p.setProperty("offsets.topic.replication.factor", "1");
    p.setProperty("offsets.topic.num.partitions", "5");
    p.setProperty("transaction.state.log.replication.factor", "1");
    p.setProperty("transaction.state.log.min.isr", "1");
    p.setProperty("transaction.state.log.num.partitions", "5");
    p.setProperty("group.initial.rebalance.delay.ms", "0");
    p.setProperty("num.network.threads", "2");
    p.setProperty("num.io.threads", "4");
    p.setProperty("num.recovery.threads.per.data.dir", "1");
    p.setProperty("log.cleaner.threads", "1");
    p.setProperty("log.cleaner.dedupe.buffer.size", "8388608");
    if (Lab.kafkaMajor() >= 4) {
      // Kafka 4.x internal topics of the share-group coordinator; unknown to 3.9.
      p.setProperty("share.coordinator.state.topic.replication.factor", "1");
      p.setProperty("share.coordinator.state.topic.min.isr", "1");
      p.setProperty("share.coordinator.state.topic.num.partitions", "1");
    }
    p.putAll(extra);
    Path config = dir.resolve("server.properties");
    try (OutputStream out = Files.newOutputStream(config)) {
      p.store(out, "ksbridge lab broker");
    }

    if (!Files.exists(dir.resolve("data").resolve("meta.properties"))) {
      format(config);
    }
    long tFormatted = System.nanoTime();

    Thread server =
        new Thread(() -> kafka.Kafka.main(new String[] {config.toString()}), "ksb-kafka-main");
    server.start();

    Properties ap = new Properties();
    ap.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    ap.setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
    ap.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
    ap.setProperty(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "50");
    ap.setProperty(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
    ap.setProperty(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "200");
    ap.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, "ksb-lab-ready");
    try (Admin admin = Admin.create(ap)) {
      while (true) {
        if (!server.isAlive()) {
          System.out.println("KSB-LAB FAILED broker exited during startup");
          System.out.flush();
          Runtime.getRuntime().halt(1);
        }
        try {
          int nodes = admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).size();
          if (nodes > 0) break;
        } catch (Exception e) {
          // not up yet
        }
        Thread.sleep(100);
      }
    }
    long t1 = System.nanoTime();
    System.out.println(
        "KSB-LAB READY "
            + bootstrap
            + " controller_port="
            + cport
            + " startup_ms="
            + TimeUnit.NANOSECONDS.toMillis(t1 - t0)
            + " format_ms="
            + TimeUnit.NANOSECONDS.toMillis(tFormatted - t0));
    System.out.flush();
  }

  private static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Runs Kafka's StorageTool in this JVM (it calls Exit at the end; that exit is caught). */
  private static void format(Path config) throws Exception {
    String clusterId = Uuid.randomUuid().toString();
    String[] args = {"format", "-t", clusterId, "-c", config.toString(), "--ignore-formatted"};
    Class<?> tool = Class.forName("kafka.tools.StorageTool");
    PrintStream out =
        new PrintStream(
            new FileOutputStream(config.resolveSibling("format.log").toFile()), true, StandardCharsets.UTF_8);
    Object rc = tool.getMethod("execute", String[].class, PrintStream.class).invoke(null, args, out);
    out.close();
    if (rc instanceof Integer code && code != 0) {
      throw new IllegalStateException("StorageTool format failed with exit code " + code);
    }
  }
}
