package ksbridge.replay;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * One replayed bean: a DynamicMBean shaped like Kafka's JmxReporter$KafkaMbean.
 * MBeanInfo carries the captured class name and declares every attribute with the
 * captured declared type (Kafka: always "double"), read-only; getAttribute returns
 * the runtime object (Double, Integer, Long, BigInteger, String, an enum, null);
 * getAttributes loops over the names and silently skips an attribute whose read
 * throws, exactly as Kafka does. Faults (throw, block, bulk throw) are injected
 * by the replay commands.
 */
public final class ReplayBean implements DynamicMBean {
    public static final String KAFKA_MBEAN_CLASS = "org.apache.kafka.common.metrics.JmxReporter$KafkaMbean";

    /** One attribute: its declared type, its current value and its injected faults. */
    static final class Attr {
        final String name;
        final String declared;
        final String description;
        volatile Object value;
        /** A failure recorded in the capture ("error": "Class: message"): every read throws it. */
        volatile String capturedError;
        /** Injected by `throw`: every read throws a RuntimeException with this message. */
        volatile String throwMessage;
        /** Injected by `block`: every read sleeps this long first. */
        volatile long blockMillis;

        Attr(String name, String declared, String description) {
            this.name = name;
            this.declared = declared;
            this.description = description;
        }
    }

    final ObjectName name;
    private final String className;
    private final Map<String, Attr> attrs;
    private final MBeanInfo info;
    /** Injected by `throwbulk`: getAttributes throws a RuntimeException with this message. */
    volatile String bulkThrowMessage;

    ReplayBean(ObjectName name, String className, Map<String, Attr> attrs) {
        this.name = name;
        this.className = className;
        this.attrs = attrs;
        List<MBeanAttributeInfo> infos = new ArrayList<>();
        for (Attr a : attrs.values()) {
            infos.add(new MBeanAttributeInfo(a.name, a.declared, a.description, true, false, false));
        }
        this.info = new MBeanInfo(className, "", infos.toArray(new MBeanAttributeInfo[0]), null, null, null);
    }

    /** Builds a bean from one capture bean object ({"name", "class", "attributes"}). */
    @SuppressWarnings("unchecked")
    static ReplayBean fromCapture(Object json) throws MalformedObjectNameException {
        if (!(json instanceof Map)) {
            throw new IllegalArgumentException("a bean must be a JSON object");
        }
        Map<String, Object> bean = (Map<String, Object>) json;
        Object n = bean.get("name");
        if (!(n instanceof String)) {
            throw new IllegalArgumentException("a bean needs a string \"name\"");
        }
        Object c = bean.get("class");
        String cls = c instanceof String ? (String) c : KAFKA_MBEAN_CLASS;
        Object a = bean.get("attributes");
        Map<String, Object> attrsJson = a instanceof Map ? (Map<String, Object>) a : Map.of();
        Map<String, Attr> attrs = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : attrsJson.entrySet()) {
            attrs.put(e.getKey(), attrFromCapture(e.getKey(), e.getValue()));
        }
        return new ReplayBean(new ObjectName((String) n), cls, attrs);
    }

    @SuppressWarnings("unchecked")
    private static Attr attrFromCapture(String name, Object json) {
        if (!(json instanceof Map)) {
            throw new IllegalArgumentException("attribute " + name + " must be a JSON object");
        }
        Map<String, Object> m = (Map<String, Object>) json;
        Object declared = m.get("declared");
        Object description = m.get("description");
        Attr attr = new Attr(name, declared instanceof String ? (String) declared : "double",
                description instanceof String ? (String) description : name);
        if (m.containsKey("error")) {
            attr.capturedError = String.valueOf(m.get("error"));
        } else {
            attr.value = valueFromCapture(m);
        }
        return attr;
    }

    /** Turns a capture value object ({"type", "value", "enum"}) into the runtime object it stands for. */
    @SuppressWarnings("unchecked")
    static Object valueFromCapture(Object json) {
        if (!(json instanceof Map)) {
            throw new IllegalArgumentException("a value must be a JSON object like {\"type\":\"java.lang.Double\",\"value\":1.0}");
        }
        Map<String, Object> m = (Map<String, Object>) json;
        Object type = m.get("type");
        Object v = m.get("value");
        if (type == null) {
            return null;
        }
        if (!(type instanceof String)) {
            throw new IllegalArgumentException("\"type\" must be a string or null");
        }
        return convert((String) type, v);
    }

    private static String text(Object v) {
        if (v instanceof Json.Num || v instanceof String) {
            return v.toString();
        }
        throw new IllegalArgumentException("expected a number or a string, got " + v);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object convert(String type, Object v) {
        if (v == null) {
            return null;
        }
        switch (type) {
            case "java.lang.Double":
                return Double.valueOf(text(v));
            case "java.lang.Float":
                return Float.valueOf(text(v));
            case "java.lang.Integer":
                return Integer.valueOf(text(v));
            case "java.lang.Long":
                return Long.valueOf(text(v));
            case "java.lang.Short":
                return Short.valueOf(text(v));
            case "java.lang.Byte":
                return Byte.valueOf(text(v));
            case "java.math.BigInteger":
                return new BigInteger(text(v));
            case "java.math.BigDecimal":
                return new BigDecimal(text(v));
            case "java.lang.Boolean":
                if (v instanceof Boolean) {
                    return v;
                }
                return Boolean.valueOf(text(v));
            case "java.lang.String":
                if (v instanceof String) {
                    return v;
                }
                return text(v);
            default:
                break;
        }
        Class<?> c;
        try {
            c = Class.forName(type);
        } catch (ClassNotFoundException e) {
            System.err.println("replay: unknown value class " + type + ", replaying its value as a String");
            return String.valueOf(v);
        }
        if (c.isEnum()) {
            return Enum.valueOf((Class) c, text(v));
        }
        if (c.isArray()) {
            // Captures summarize arrays as "long[3]": rebuild an array of that length.
            String t = text(v);
            int open = t.lastIndexOf('[');
            int len = open >= 0 && t.endsWith("]") ? Integer.parseInt(t.substring(open + 1, t.length() - 1)) : 0;
            return Array.newInstance(c.getComponentType(), len);
        }
        System.err.println("replay: value class " + type + " is not replayable, replaying its value as a String");
        return String.valueOf(v);
    }

    Attr attr(String attrName) {
        Attr a = attrs.get(attrName);
        if (a == null) {
            throw new IllegalArgumentException("no attribute " + attrName + " on " + name);
        }
        return a;
    }

    int attributeCount() {
        return attrs.size();
    }

    /** Clears every injected fault of this bean (captured errors stay). */
    void clearAll() {
        bulkThrowMessage = null;
        for (Attr a : attrs.values()) {
            a.throwMessage = null;
            a.blockMillis = 0;
        }
    }

    private static RuntimeException capturedException(String error) {
        int colon = error.indexOf(": ");
        String cls = colon > 0 ? error.substring(0, colon) : error;
        String msg = colon > 0 ? error.substring(colon + 2) : null;
        try {
            Class<?> c = Class.forName(cls);
            if (RuntimeException.class.isAssignableFrom(c)) {
                Constructor<?> k = c.getConstructor(String.class);
                return (RuntimeException) k.newInstance(msg);
            }
        } catch (ReflectiveOperationException | LinkageError e) {
            // fall through to a plain RuntimeException carrying the whole text
        }
        return new RuntimeException(error);
    }

    @Override
    public Object getAttribute(String attrName) throws AttributeNotFoundException {
        Attr a = attrs.get(attrName);
        if (a == null) {
            throw new AttributeNotFoundException("Could not find attribute " + attrName);
        }
        long block = a.blockMillis;
        if (block > 0) {
            System.err.println("replay: blocking read of " + attrName + " on " + name + " for " + block + " ms");
            try {
                Thread.sleep(block);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        String t = a.throwMessage;
        if (t != null) {
            throw new RuntimeException(t);
        }
        String err = a.capturedError;
        if (err != null) {
            throw capturedException(err);
        }
        return a.value;
    }

    @Override
    public AttributeList getAttributes(String[] names) {
        String bulk = bulkThrowMessage;
        if (bulk != null) {
            throw new RuntimeException(bulk);
        }
        AttributeList list = new AttributeList();
        for (String n : names) {
            try {
                list.add(new Attribute(n, getAttribute(n)));
            } catch (Exception e) {
                // Kafka logs at warn and skips the attribute.
                System.err.println("replay: Error getting JMX attribute '" + n + "' of " + name + ": " + e);
            }
        }
        return list;
    }

    @Override
    public void setAttribute(Attribute attribute) {
        throw new UnsupportedOperationException("Set not allowed.");
    }

    @Override
    public AttributeList setAttributes(AttributeList list) {
        throw new UnsupportedOperationException("Set not allowed.");
    }

    @Override
    public Object invoke(String actionName, Object[] params, String[] signature) {
        throw new UnsupportedOperationException("Invoke not allowed.");
    }

    @Override
    public MBeanInfo getMBeanInfo() {
        return info;
    }

    String className() {
        return className;
    }
}
