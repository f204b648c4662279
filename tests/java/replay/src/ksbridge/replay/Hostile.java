package ksbridge.replay;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.CompositeDataSupport;
import javax.management.openmbean.CompositeType;
import javax.management.openmbean.OpenType;
import javax.management.openmbean.SimpleType;

/**
 * The replay JVM's hostile modes: what no healthy Kafka Streams app serves,
 * for the tests of what one target may cost a reader. Each command registers
 * beans under the given client id (so a test can tell them from the
 * well-behaved ones) and answers one "ok" line:
 *
 * <pre>
 * wide CLIENT N          a thread bean with N Double attributes
 * bigstring CLIENT N     a client bean whose "version" String is N characters
 * many CLIENT N          N processor-node beans with 2 Double attributes each
 * nested CLIENT DEPTH    a thread bean whose "nested" attribute is CompositeData DEPTH levels deep
 * churn CLIENT N         a thread registering and unregistering N beans in a tight loop; N=0 stops it
 * </pre>
 */
final class Hostile {
    private static volatile Thread churn;
    static final AtomicLong CHURNED = new AtomicLong();

    private Hostile() {
    }

    /**
     * Runs the commands of the system property `ksbridge.replay.hostile`
     * (`;`-separated, e.g. `many hostile 100000;wide hostile 100000`) at
     * start-up, where a slow one has the start-up timeout, not a command's.
     */
    static void fromProperty(MBeanServer server, Map<ObjectName, ReplayBean> beans) throws Exception {
        String spec = System.getProperty("ksbridge.replay.hostile", "");
        for (String c : spec.split(";")) {
            String[] parts = c.strip().split("\\s+", 2);
            if (parts[0].isEmpty()) {
                continue;
            }
            if (execute(server, beans, parts[0], parts.length > 1 ? parts[1] : "") == null) {
                throw new IllegalArgumentException("ksbridge.replay.hostile: unknown command " + parts[0]);
            }
        }
    }

    /** Runs one hostile command, or returns null when `cmd` is not one. */
    static String execute(MBeanServer server, Map<ObjectName, ReplayBean> beans, String cmd, String rest)
            throws Exception {
        String[] a = rest.strip().split("\\s+");
        switch (cmd) {
            case "wide":
                register(server, beans, thread(a[0], "wide"), doubles("metric-", Integer.parseInt(a[1])));
                return "ok";
            case "bigstring": {
                Map<String, ReplayBean.Attr> attrs = doubles("alive-stream-threads", 1);
                ReplayBean.Attr v = new ReplayBean.Attr("version", "double", "version");
                v.value = "x".repeat(Integer.parseInt(a[1]));
                attrs.put("version", v);
                register(server, beans, new ObjectName("kafka.streams:type=stream-metrics,client-id=" + a[0]), attrs);
                return "ok";
            }
            case "many": {
                int n = Integer.parseInt(a[1]);
                for (int k = 0; k < n; k++) {
                    register(server, beans, node(a[0], k), doubles("process-total", 2));
                }
                return "ok";
            }
            case "nested": {
                Map<String, ReplayBean.Attr> attrs = doubles("commit-total", 1);
                ReplayBean.Attr v = new ReplayBean.Attr("nested", "javax.management.openmbean.CompositeData", "nested");
                v.value = nested(Integer.parseInt(a[1]));
                attrs.put("nested", v);
                register(server, beans, thread(a[0], "nested"), attrs);
                return "ok";
            }
            case "churn":
                churn(server, a[0], Integer.parseInt(a[1]));
                return "ok";
            default:
                return null;
        }
    }

    private static ObjectName thread(String client, String what) throws Exception {
        return new ObjectName("kafka.streams:type=stream-thread-metrics,thread-id=" + client + "-StreamThread-" + what);
    }

    private static ObjectName node(String client, int k) throws Exception {
        return new ObjectName("kafka.streams:type=stream-processor-node-metrics,thread-id=" + client
            + "-StreamThread-1,task-id=0_" + (k % 64) + ",processor-node-id=KSTREAM-HOSTILE-" + String.format("%07d", k));
    }

    /** N Double attributes: `first`, then `metric-<k>`. */
    private static Map<String, ReplayBean.Attr> doubles(String first, int n) {
        Map<String, ReplayBean.Attr> m = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            String name = k == 0 ? first : "metric-" + k;
            ReplayBean.Attr attr = new ReplayBean.Attr(name, "double", name);
            attr.value = (double) k;
            m.put(name, attr);
        }
        return m;
    }

    /** {value: 1.0, inner: {value: 2.0, inner: ...}} `depth` levels deep. */
    private static CompositeData nested(int depth) throws Exception {
        CompositeType leaf = new CompositeType("leaf", "leaf", new String[] {"value"}, new String[] {"value"},
            new OpenType<?>[] {SimpleType.DOUBLE});
        CompositeData cd = new CompositeDataSupport(leaf, new String[] {"value"}, new Object[] {0.0});
        for (int d = 1; d < depth; d++) {
            CompositeType t = new CompositeType("level" + d, "level", new String[] {"value", "inner"},
                new String[] {"value", "inner"}, new OpenType<?>[] {SimpleType.DOUBLE, cd.getCompositeType()});
            cd = new CompositeDataSupport(t, new String[] {"value", "inner"}, new Object[] {(double) d, cd});
        }
        return cd;
    }

    private static void register(MBeanServer server, Map<ObjectName, ReplayBean> beans, ObjectName name,
            Map<String, ReplayBean.Attr> attrs) throws Exception {
        ReplayBean b = new ReplayBean(name, ReplayBean.KAFKA_MBEAN_CLASS, attrs);
        if (beans.putIfAbsent(name, b) != null) {
            throw new IllegalArgumentException("bean already registered: " + name);
        }
        server.registerMBean(b, name);
    }

    private static synchronized void churn(MBeanServer server, String client, int n) throws Exception {
        Thread old = churn;
        if (old != null) {
            old.interrupt();
            old.join();
            churn = null;
        }
        if (n <= 0) {
            return;
        }
        ObjectName[] names = new ObjectName[n];
        for (int k = 0; k < n; k++) {
            names[k] = thread(client, "churn-" + k);
        }
        Thread t = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                for (ObjectName name : names) {
                    try {
                        server.registerMBean(new ReplayBean(name, ReplayBean.KAFKA_MBEAN_CLASS, doubles("commit-total", 3)), name);
                        server.unregisterMBean(name);
                        CHURNED.incrementAndGet();
                    } catch (Exception e) {
                        System.err.println("replay: churn: " + e);
                    }
                }
            }
            for (ObjectName name : names) {
                try {
                    if (server.isRegistered(name)) server.unregisterMBean(name);
                } catch (Exception ignored) {
                    // Stopping anyway.
                }
            }
        }, "replay-churn");
        t.setDaemon(true);
        t.start();
        churn = t;
    }
}
