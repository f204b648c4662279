package ksbridge.shim;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;

/**
 * Encoder of the flat buffer one read returns (decoder: src/jmx/wire.rs).
 * Big-endian; strings are u32 length + UTF-8.
 */
final class Wire {
    static final byte NULL = 0, DOUBLE = 1, FLOAT = 2, INT = 3, LONG = 4, SHORT = 5, BYTE = 6,
            BOOL = 7, STRING = 8, ENUM = 9, BIGINT = 10, BIGDEC = 11, CHAR = 12, ARRAY = 13,
            OBJECT = 14, UNREADABLE = 15;

    /** One attribute ready to encode: a flattened name and a value or an error. */
    static final class Attr {
        final String name;
        final Object value;
        final String error;

        Attr(String name, Object value, String error) {
            this.name = name;
            this.value = value;
            this.error = error;
        }
    }

    static final class BeanOut {
        final String name;
        final String className;
        final List<Attr> attrs = new ArrayList<>();
        /** Readable attributes left out by Limits.attributes. */
        int attrsCut;
        /** Values nested deeper than Limits.DEPTH, left out. */
        int tooDeep;

        BeanOut(String name, String className) {
            this.name = name;
            this.className = className;
        }

        /** Adds a value, flattening CompositeData and TabularData into dotted names. */
        void add(String attr, Object v) {
            add(attr, v, 0);
        }

        private void add(String attr, Object v, int depth) {
            boolean nested = v instanceof CompositeData || v instanceof TabularData
                    || (v instanceof Map && !((Map<?, ?>) v).isEmpty() && ((Map<?, ?>) v).size() <= 256);
            if (nested && depth >= Limits.DEPTH) {
                tooDeep++;
                return;
            }
            if (v instanceof CompositeData) {
                CompositeData cd = (CompositeData) v;
                for (String k : cd.getCompositeType().keySet()) {
                    add(attr + "." + k, cd.get(k), depth + 1);
                }
            } else if (v instanceof TabularData) {
                TabularData td = (TabularData) v;
                List<String> index = td.getTabularType().getIndexNames();
                for (Object row : td.values()) {
                    CompositeData cd = (CompositeData) row;
                    StringBuilder key = new StringBuilder();
                    for (String ix : index) {
                        if (key.length() > 0) key.append(',');
                        key.append(cd.get(ix));
                    }
                    for (String k : cd.getCompositeType().keySet()) {
                        if (!index.contains(k)) add(attr + "." + key + "." + k, cd.get(k), depth + 1);
                    }
                }
            } else if (v instanceof Map && !((Map<?, ?>) v).isEmpty()
                    && ((Map<?, ?>) v).size() <= 256) {
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    add(attr + "." + e.getKey(), e.getValue(), depth + 1);
                }
            } else {
                attrs.add(new Attr(attr, v, null));
            }
        }

        void fail(String attr, String error) {
            attrs.add(new Attr(attr, null, error));
        }
    }

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 * 1024);
    private final DataOutputStream out = new DataOutputStream(bytes);
    private final Limits limits;
    private final Limits.Cuts cuts;

    Wire(Limits limits, Limits.Cuts cuts) {
        this.limits = limits;
        this.cuts = cuts;
    }

    /**
     * Encodes a read: beans until the buffer reaches Limits.bytes (the bean
     * count is patched afterwards), the problems, and what the limits cut.
     */
    byte[] encode(long takenAtMs, List<BeanOut> beans, List<String[]> problems) throws IOException {
        out.write(new byte[] {'K', 'S', 'B', '1'});
        out.writeLong(takenAtMs);
        out.writeInt(beans.size());
        int written = 0;
        for (BeanOut b : beans) {
            if (bytes.size() >= limits.bytes) {
                cuts.add("bytes", beans.size() - written);
                break;
            }
            written++;
            cuts.add("depth", b.tooDeep);
            str(b.name);
            str(b.className == null ? "" : b.className);
            out.writeInt(b.attrs.size());
            for (Attr a : b.attrs) {
                str(a.name);
                if (a.error != null) {
                    out.writeByte(UNREADABLE);
                    str(a.error);
                } else {
                    value(a.value);
                }
            }
        }
        out.writeInt(problems.size());
        for (String[] p : problems) {
            str(p[0]);
            str(p[1]);
        }
        Map<String, Long> cut = cuts.snapshot();
        if (!cut.isEmpty()) {
            out.writeInt(cut.size());
            for (Map.Entry<String, Long> e : cut.entrySet()) {
                str(e.getKey());
                out.writeLong(e.getValue());
            }
        }
        out.flush();
        byte[] buf = bytes.toByteArray();
        if (written != beans.size()) {
            // The bean count sits after the magic and the timestamp.
            buf[12] = (byte) (written >>> 24);
            buf[13] = (byte) (written >>> 16);
            buf[14] = (byte) (written >>> 8);
            buf[15] = (byte) written;
        }
        return buf;
    }

    private void str(String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private void value(Object v) throws IOException {
        if (v == null) {
            out.writeByte(NULL);
        } else if (v instanceof Double) {
            out.writeByte(DOUBLE);
            out.writeDouble((Double) v);
        } else if (v instanceof Float) {
            out.writeByte(FLOAT);
            out.writeFloat((Float) v);
        } else if (v instanceof Integer) {
            out.writeByte(INT);
            out.writeInt((Integer) v);
        } else if (v instanceof Long) {
            out.writeByte(LONG);
            out.writeLong((Long) v);
        } else if (v instanceof Short) {
            out.writeByte(SHORT);
            out.writeShort((Short) v);
        } else if (v instanceof Byte) {
            out.writeByte(BYTE);
            out.writeByte((Byte) v);
        } else if (v instanceof Boolean) {
            out.writeByte(BOOL);
            out.writeByte((Boolean) v ? 1 : 0);
        } else if (v instanceof String) {
            out.writeByte(STRING);
            String text = (String) v;
            // Characters, not bytes: close enough, and never more than 3x.
            if (text.length() > limits.valueLength) {
                cuts.add("value_length", 1);
                text = text.substring(0, limits.valueLength);
            }
            str(text);
        } else if (v instanceof Enum) {
            Enum<?> e = (Enum<?>) v;
            out.writeByte(ENUM);
            str(e.getDeclaringClass().getName());
            str(e.name());
        } else if (v instanceof Conn.UnknownEnum) {
            Conn.UnknownEnum e = (Conn.UnknownEnum) v;
            out.writeByte(ENUM);
            str(e.className);
            str(e.constant);
        } else if (v instanceof BigInteger) {
            out.writeByte(BIGINT);
            str(v.toString());
        } else if (v instanceof BigDecimal) {
            out.writeByte(BIGDEC);
            str(((BigDecimal) v).toPlainString());
        } else if (v instanceof Character) {
            out.writeByte(CHAR);
            out.writeChar((Character) v);
        } else if (v.getClass().isArray()) {
            out.writeByte(ARRAY);
            str(v.getClass().getName());
            out.writeInt(java.lang.reflect.Array.getLength(v));
        } else {
            out.writeByte(OBJECT);
            str(v.getClass().getName());
            String text;
            try {
                text = String.valueOf(v);
            } catch (RuntimeException e) {
                text = "<toString failed: " + e + ">";
            }
            str(text.length() > 4096 ? text.substring(0, 4096) : text);
        }
    }
}
