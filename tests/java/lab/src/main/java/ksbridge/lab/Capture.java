package ksbridge.lab;

import com.sun.tools.attach.VirtualMachine;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Dumps every MBean of a running JVM to JSON in the capture format ("ksbridge-capture/1", see
 * tests/fixtures/README.md). Attaches by pid (attach API, local management agent, RMI
 * connector), so the target needs no JMX flags. The lab classpath carries the same
 * kafka-streams version as the target, so Kafka's enum attributes deserialize and are written
 * as their constant names with {@code "enum": true}.
 *
 * <pre>
 *   Capture --pid PID [--out FILE] [--pattern OBJECTNAME_PATTERN]... [--source key=value]...
 *   Capture --pid PID --count [--pattern P]      print the number of matching beans
 * </pre>
 *
 * {@code --source} adds or overrides fields of "source" (recording_level, processing_guarantee,
 * note, ...). Attributes are read one by one so that one failing attribute is recorded as an
 * "error" and does not hide the others.
 */
public final class Capture {
  private Capture() {}

  public static void main(String[] args) throws Exception {
    long pid = -1;
    Path out = null;
    boolean count = false;
    List<ObjectName> patterns = new ArrayList<>();
    Map<String, String> sourceExtra = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--pid" -> pid = Long.parseLong(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        case "--pattern" -> patterns.add(new ObjectName(args[++i]));
        case "--count" -> count = true;
        case "--source" -> {
          String kv = args[++i];
          int eq = kv.indexOf('=');
          sourceExtra.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("Capture: unknown argument " + args[i]);
      }
    }
    if (pid <= 0) throw new IllegalArgumentException("Capture: --pid is required");
    if (patterns.isEmpty()) patterns.add(null);

    VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
    String url;
    Properties sys;
    try {
      url = vm.startLocalManagementAgent();
      sys = vm.getSystemProperties();
    } finally {
      vm.detach();
    }
    try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
      MBeanServerConnection mbs = c.getMBeanServerConnection();
      TreeMap<String, ObjectName> names = new TreeMap<>();
      for (ObjectName p : patterns) {
        for (ObjectName n : mbs.queryNames(p, null)) names.put(n.toString(), n);
      }
      if (count) {
        System.out.println(names.size());
        return;
      }
      Writer w =
          out == null
              ? new OutputStreamWriter(System.out, StandardCharsets.UTF_8)
              : Files.newBufferedWriter(out, StandardCharsets.UTF_8);
      try (w) {
        write(w, mbs, names.values(), pid, sys, sourceExtra);
      }
      if (out != null) {
        System.err.println("Capture: " + names.size() + " beans from pid " + pid + " -> " + out);
      }
    }
  }

  static void write(Writer w, MBeanServerConnection mbs, Collection<ObjectName> names, long pid,
      Properties sys, Map<String, String> sourceExtra) throws IOException {
    List<String> beans = new ArrayList<>();
    String kafkaVersion = null;
    for (ObjectName name : names) {
      StringBuilder b = new StringBuilder();
      String v = bean(b, mbs, name);
      if (v != null && kafkaVersion == null) kafkaVersion = v;
      if (b.length() > 0) beans.add(b.toString());
    }
    Map<String, Object> source = new LinkedHashMap<>();
    source.put("pid", pid);
    source.put("main", sys.getProperty("sun.java.command"));
    source.put("java_version", sys.getProperty("java.version"));
    source.put("kafka_version", kafkaVersion);
    for (Map.Entry<String, String> e : sourceExtra.entrySet()) source.put(e.getKey(), e.getValue());

    w.write("{\n  \"format\": \"ksbridge-capture/1\",\n  \"captured_at_ms\": ");
    w.write(Long.toString(System.currentTimeMillis()));
    w.write(",\n  \"source\": {");
    boolean first = true;
    for (Map.Entry<String, Object> e : source.entrySet()) {
      w.write(first ? "" : ", ");
      first = false;
      w.write(quote(e.getKey()));
      w.write(": ");
      Object v = e.getValue();
      w.write(v == null ? "null" : v instanceof Number ? v.toString() : quote(v.toString()));
    }
    w.write("},\n  \"beans\": [");
    for (int i = 0; i < beans.size(); i++) {
      w.write(i == 0 ? "\n" : ",\n");
      w.write(beans.get(i));
    }
    w.write("\n  ]\n}\n");
  }

  /**
   * Appends one bean object to b; returns the Kafka version if this bean says it (a Kafka
   * app-info or stream-metrics bean), else null. A bean that vanished meanwhile is skipped.
   */
  static String bean(StringBuilder b, MBeanServerConnection mbs, ObjectName name)
      throws IOException {
    MBeanInfo info;
    try {
      info = mbs.getMBeanInfo(name);
    } catch (javax.management.InstanceNotFoundException e) {
      return null;
    } catch (Exception e) {
      b.append("    {\"name\": ").append(quote(name.toString()))
          .append(", \"class\": null, \"error\": ").append(quote(error(e))).append(", \"attributes\": {}}");
      return null;
    }
    String version = null;
    b.append("    {\"name\": ").append(quote(name.toString()))
        .append(",\n     \"class\": ").append(quote(info.getClassName()))
        .append(",\n     \"attributes\": {");
    List<String> attrs = new ArrayList<>();
    for (MBeanAttributeInfo a : info.getAttributes()) {
      if (!a.isReadable()) continue;
      Object value;
      try {
        value = mbs.getAttribute(name, a.getName());
      } catch (Exception e) {
        attrs.add(attr(a.getName(), a.getType()) + ", \"error\": " + quote(error(e)) + "}");
        continue;
      }
      if (a.getName().equals("version") && value instanceof String s
          && name.getDomain().startsWith("kafka.")) {
        version = s;
      }
      flatten(attrs, a.getName(), a.getType(), value);
    }
    for (int i = 0; i < attrs.size(); i++) {
      b.append(i == 0 ? "\n" : ",\n").append("        ").append(attrs.get(i));
    }
    b.append(attrs.isEmpty() ? "}}" : "\n     }}");
    return version;
  }

  /** The exception as "<class>: <message>", unwrapping JMX wrappers to the root cause. */
  static String error(Throwable e) {
    Throwable t = e;
    while ((t instanceof javax.management.MBeanException
            || t instanceof javax.management.RuntimeMBeanException
            || t instanceof javax.management.RuntimeErrorException
            || t instanceof java.lang.reflect.InvocationTargetException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t.getClass().getName() + ": " + t.getMessage();
  }

  static String attr(String name, String declared) {
    return quote(name) + ": {\"declared\": " + (declared == null ? "null" : quote(declared));
  }

  /** Adds one attribute (or, for CompositeData/TabularData, one per leaf) to attrs. */
  static void flatten(List<String> attrs, String name, String declared, Object value) {
    if (value instanceof CompositeData cd) {
      Set<String> keys = cd.getCompositeType().keySet();
      for (String k : keys) flatten(attrs, name + "." + k, declared, cd.get(k));
      return;
    }
    if (value instanceof TabularData td) {
      List<String> index = td.getTabularType().getIndexNames();
      for (Object rowObj : td.values()) {
        CompositeData row = (CompositeData) rowObj;
        StringBuilder key = new StringBuilder();
        for (String i : index) {
          if (key.length() > 0) key.append(',');
          key.append(row.get(i));
        }
        for (String k : row.getCompositeType().keySet()) {
          if (index.contains(k)) continue;
          flatten(attrs, name + "." + key + "." + k, declared, row.get(k));
        }
      }
      return;
    }
    attrs.add(attr(name, declared) + ", " + typed(value) + "}");
  }

  /** "type": ..., "value": ... (and "enum": true) for one plain value. */
  static String typed(Object v) {
    if (v == null) return "\"type\": null, \"value\": null";
    String type = quote(v.getClass().getName());
    if (v instanceof Enum<?> e) {
      return "\"type\": " + quote(e.getDeclaringClass().getName()) + ", \"enum\": true, \"value\": "
          + quote(e.name());
    }
    if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (v instanceof Float f) d = Double.parseDouble(Float.toString(f));
      String s;
      if (Double.isNaN(d)) s = "\"NaN\"";
      else if (d == Double.POSITIVE_INFINITY) s = "\"Infinity\"";
      else if (d == Double.NEGATIVE_INFINITY) s = "\"-Infinity\"";
      else s = Double.toString(d);
      return "\"type\": " + type + ", \"value\": " + s;
    }
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      return "\"type\": " + type + ", \"value\": " + v;
    }
    if (v instanceof BigInteger || v instanceof BigDecimal) {
      String s = v instanceof BigDecimal bd ? bd.toPlainString() : v.toString();
      return "\"type\": " + type + ", \"value\": " + quote(s);
    }
    if (v instanceof Boolean) return "\"type\": " + type + ", \"value\": " + v;
    if (v.getClass().isArray()) {
      String component = v.getClass().getComponentType().getSimpleName();
      return "\"type\": " + type + ", \"value\": "
          + quote(component + "[" + Array.getLength(v) + "]");
    }
    return "\"type\": " + type + ", \"value\": " + quote(v.toString());
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
