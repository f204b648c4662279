package ksbridge.shim;

import java.lang.reflect.Array;
import java.util.Collection;
import java.util.Map;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;

/**
 * A minimal JSON writer for the console's answers (the shim has no JSON
 * library and must stay JDK-only). Any JMX value is rendered: open types
 * (CompositeData, TabularData), arrays, collections, maps, enums; anything
 * else as its toString. Non-finite doubles become strings ("NaN").
 */
final class JsonOut {
    private final StringBuilder sb = new StringBuilder(4096);
    /** Whether the next value in the current object/array needs a comma first. */
    private boolean comma;

    JsonOut beginObject() {
        sep();
        sb.append('{');
        comma = false;
        return this;
    }

    JsonOut endObject() {
        sb.append('}');
        comma = true;
        return this;
    }

    JsonOut beginArray() {
        sep();
        sb.append('[');
        comma = false;
        return this;
    }

    JsonOut endArray() {
        sb.append(']');
        comma = true;
        return this;
    }

    /** An object key; the next call writes its value. */
    JsonOut key(String k) {
        sep();
        str(k);
        sb.append(':');
        comma = false;
        return this;
    }

    JsonOut field(String k, Object v) {
        return key(k).value(v);
    }

    JsonOut value(Object v) {
        sep();
        raw(v, 0);
        comma = true;
        return this;
    }

    private void sep() {
        if (comma) sb.append(',');
    }

    private void raw(Object v, int depth) {
        if (depth > 32) {
            str("<too deep>");
            return;
        }
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean) {
            sb.append(v.toString());
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isFinite(d)) sb.append(d);
            else str(Double.toString(d));
        } else if (v instanceof Number) {
            sb.append(v.toString());
        } else if (v instanceof Enum) {
            str(((Enum<?>) v).name());
        } else if (v instanceof ObjectName || v instanceof CharSequence || v instanceof Character) {
            str(v.toString());
        } else if (v instanceof CompositeData) {
            CompositeData cd = (CompositeData) v;
            sb.append('{');
            boolean first = true;
            for (String k : cd.getCompositeType().keySet()) {
                if (!first) sb.append(',');
                first = false;
                str(k);
                sb.append(':');
                raw(cd.get(k), depth + 1);
            }
            sb.append('}');
        } else if (v instanceof TabularData) {
            sb.append('[');
            boolean first = true;
            for (Object row : ((TabularData) v).values()) {
                if (!first) sb.append(',');
                first = false;
                raw(row, depth + 1);
            }
            sb.append(']');
        } else if (v.getClass().isArray()) {
            sb.append('[');
            int n = Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) sb.append(',');
                raw(Array.get(v, i), depth + 1);
            }
            sb.append(']');
        } else if (v instanceof Collection) {
            sb.append('[');
            boolean first = true;
            for (Object o : (Collection<?>) v) {
                if (!first) sb.append(',');
                first = false;
                raw(o, depth + 1);
            }
            sb.append(']');
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                str(String.valueOf(e.getKey()));
                sb.append(':');
                raw(e.getValue(), depth + 1);
            }
            sb.append('}');
        } else {
            str(v.toString());
        }
    }

    private void str(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                            && Character.isLowSurrogate(s.charAt(i + 1))) {
                        sb.append(c).append(s.charAt(++i));
                    } else if (Character.isSurrogate(c)) {
                        sb.append('\ufffd'); // an unpaired surrogate is not valid UTF-8
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    @Override
    public String toString() {
        return sb.toString();
    }
}
