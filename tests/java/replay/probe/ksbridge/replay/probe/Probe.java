package ksbridge.replay.probe;

import com.sun.tools.attach.VirtualMachine;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * A reference JMX reader for the replay JVM's tests: connects by pid (attach API
 * -> startLocalManagementAgent -> RMI connector) or by a service:jmx URL with
 * optional credentials, reads MBeanInfo and one bulk getAttributes per bean
 * (and, with --single, every attribute on its own), and prints one JSON
 * document on stdout. Values are written in the capture format; failures as
 * the chain of "exception class: message" from the top to the root cause.
 * It depends on the JDK only, so it can run with or without the Kafka enum
 * classes on its classpath.
 *
 * <pre>
 * java -cp probe-classes[:enum-classes] ksbridge.replay.probe.Probe
 *      (--pid N | --url URL [--user U --password P]) [--pattern P]... [--name OBJECTNAME]... [--single]
 * </pre>
 * Default pattern: kafka.streams:*. "declared" lists MBeanInfo's attributes in order.
 * Exit code 0 when connected (read failures are reported in the JSON), 2 when
 * the connection failed ({"connect_error": [...]}), 1 on bad usage.
 */
public final class Probe {
    private Probe() {
    }

    public static void main(String[] args) {
        String pid = null;
        String url = null;
        String user = null;
        String password = null;
        List<String> patterns = new ArrayList<>();
        List<String> names = new ArrayList<>();
        boolean single = false;
        for (int k = 0; k < args.length; k++) {
            switch (args[k]) {
                case "--pid": pid = args[++k]; break;
                case "--url": url = args[++k]; break;
                case "--user": user = args[++k]; break;
                case "--password": password = args[++k]; break;
                case "--pattern": patterns.add(args[++k]); break;
                case "--name": names.add(args[++k]); break;
                case "--single": single = true; break;
                default:
                    System.err.println("probe: unknown argument " + args[k]);
                    System.exit(1);
            }
        }
        if ((pid == null) == (url == null)) {
            System.err.println("probe: give exactly one of --pid and --url");
            System.exit(1);
        }
        long t0 = System.nanoTime();
        JMXConnector connector;
        try {
            if (pid != null) {
                VirtualMachine vm = VirtualMachine.attach(pid);
                String address;
                try {
                    address = vm.startLocalManagementAgent();
                } finally {
                    vm.detach();
                }
                connector = JMXConnectorFactory.connect(new JMXServiceURL(address));
            } else {
                Map<String, Object> env = new HashMap<>();
                if (user != null) {
                    env.put(JMXConnector.CREDENTIALS, new String[] {user, password});
                }
                connector = JMXConnectorFactory.connect(new JMXServiceURL(url), env);
            }
        } catch (Throwable e) {
            System.out.println("{\"connect_error\":" + chain(e) + "}");
            System.exit(2);
            return;
        }
        long connectMs = (System.nanoTime() - t0) / 1_000_000;
        StringBuilder out = new StringBuilder();
        out.append("{\"connected\":").append(quote(pid != null ? "pid " + pid : url));
        out.append(",\"connect_ms\":").append(connectMs);
        try {
            MBeanServerConnection conn = connector.getMBeanServerConnection();
            TreeMap<String, ObjectName> sorted = new TreeMap<>();
            if (names.isEmpty() && patterns.isEmpty()) {
                patterns.add("kafka.streams:*");
            }
            for (String p : patterns) {
                for (ObjectName n : conn.queryNames(new ObjectName(p), null)) {
                    sorted.put(n.toString(), n);
                }
            }
            for (String n : names) {
                for (ObjectName found : conn.queryNames(new ObjectName(n), null)) {
                    sorted.put(found.toString(), found);
                }
            }
            long r0 = System.nanoTime();
            out.append(",\"beans\":[");
            boolean first = true;
            for (ObjectName n : sorted.values()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                readBean(conn, n, single, out);
            }
            out.append("],\"read_ms\":").append((System.nanoTime() - r0) / 1_000_000);
        } catch (Throwable e) {
            out.append(",\"error\":").append(chain(e));
        }
        out.append('}');
        System.out.println(out);
        try {
            connector.close();
        } catch (Exception e) {
            // ignore: the JSON is out
        }
        System.exit(0);
    }

    private static void readBean(MBeanServerConnection conn, ObjectName n, boolean single, StringBuilder out) {
        out.append("{\"name\":").append(quote(n.toString()));
        List<String> attrNames = new ArrayList<>();
        try {
            MBeanInfo info = conn.getMBeanInfo(n);
            out.append(",\"class\":").append(quote(info.getClassName()));
            out.append(",\"declared\":[");
            boolean first = true;
            for (MBeanAttributeInfo a : info.getAttributes()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append("{\"name\":").append(quote(a.getName())).append(",\"type\":").append(quote(a.getType()))
                    .append(",\"readable\":").append(a.isReadable()).append(",\"writable\":").append(a.isWritable())
                    .append('}');
                attrNames.add(a.getName());
            }
            out.append(']');
        } catch (Throwable e) {
            out.append(",\"info_error\":").append(chain(e)).append('}');
            return;
        }
        long b0 = System.nanoTime();
        try {
            AttributeList list = conn.getAttributes(n, attrNames.toArray(new String[0]));
            long ms = (System.nanoTime() - b0) / 1_000_000;
            out.append(",\"bulk_ms\":").append(ms).append(",\"bulk\":{");
            boolean first = true;
            for (Attribute a : list.asList()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(quote(a.getName())).append(':').append(value(a.getValue()));
            }
            out.append('}');
        } catch (Throwable e) {
            long ms = (System.nanoTime() - b0) / 1_000_000;
            out.append(",\"bulk_ms\":").append(ms).append(",\"bulk_error\":").append(chain(e));
        }
        if (single) {
            out.append(",\"single\":{");
            boolean first = true;
            for (String a : attrNames) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(quote(a)).append(':');
                try {
                    out.append(value(conn.getAttribute(n, a)));
                } catch (Throwable e) {
                    out.append("{\"error\":").append(chain(e)).append('}');
                }
            }
            out.append('}');
        }
        out.append('}');
    }

    /** A value in the capture format: {"type": class, "value": ..., "enum": true}. */
    private static String value(Object v) {
        if (v == null) {
            return "{\"type\":null,\"value\":null}";
        }
        String type = quote(v.getClass().getName());
        String val;
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            val = Double.isNaN(d) || Double.isInfinite(d) ? quote(String.valueOf(d)) : String.valueOf(v);
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            val = String.valueOf(v);
        } else if (v instanceof BigInteger || v instanceof BigDecimal) {
            val = quote(v.toString());
        } else if (v instanceof Boolean) {
            val = v.toString();
        } else if (v instanceof Enum) {
            Enum<?> e = (Enum<?>) v;
            return "{\"type\":" + quote(e.getDeclaringClass().getName()) + ",\"enum\":true,\"value\":" + quote(e.name()) + "}";
        } else if (v.getClass().isArray()) {
            val = quote(v.getClass().getComponentType().getName() + "[" + Array.getLength(v) + "]");
        } else {
            val = quote(v.toString());
        }
        return "{\"type\":" + type + ",\"value\":" + val + "}";
    }

    /** The exception chain as a JSON array of "class: message", top first. */
    private static String chain(Throwable e) {
        StringBuilder b = new StringBuilder("[");
        Map<Throwable, Boolean> seen = new LinkedHashMap<>();
        Throwable t = e;
        while (t != null && !seen.containsKey(t)) {
            seen.put(t, true);
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(quote(t.getClass().getName() + ": " + t.getMessage()));
            t = t.getCause();
        }
        return b.append(']').toString();
    }

    private static String quote(String v) {
        StringBuilder b = new StringBuilder(v.length() + 2);
        b.append('"');
        for (int k = 0; k < v.length(); k++) {
            char c = v.charAt(k);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
