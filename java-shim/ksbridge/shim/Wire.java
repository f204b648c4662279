package ksbridge.shim;

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

    /**
     * A growable big-endian byte buffer, unsynchronized (one writer at a
     * time; a ByteArrayOutputStream under a DataOutputStream takes a lock
     * per byte of every int it writes).
     */
    static final class Buf {
        byte[] a;
        int n;

        Buf(int capacity) {
            a = new byte[capacity];
        }

        private void room(int k) {
            if (n + k > a.length) a = java.util.Arrays.copyOf(a, Math.max(a.length * 2, n + k));
        }

        void put(int b) {
            room(1);
            a[n++] = (byte) b;
        }

        void putShort(int v) {
            room(2);
            a[n++] = (byte) (v >>> 8);
            a[n++] = (byte) v;
        }

        void putInt(int v) {
            room(4);
            a[n++] = (byte) (v >>> 24);
            a[n++] = (byte) (v >>> 16);
            a[n++] = (byte) (v >>> 8);
            a[n++] = (byte) v;
        }

        void putLong(long v) {
            putInt((int) (v >>> 32));
            putInt((int) v);
        }

        void put(byte[] b, int off, int len) {
            room(len);
            System.arraycopy(b, off, a, n, len);
            n += len;
        }

        /** u32 length + UTF-8; ASCII is copied without an intermediate array. */
        void str(String s) {
            int len = s.length();
            room(4 + len);
            int at = n;
            n += 4;
            for (int i = 0; i < len; i++) {
                char c = s.charAt(i);
                if (c >= 0x80) {
                    n = at;
                    byte[] b = s.getBytes(StandardCharsets.UTF_8);
                    putInt(b.length);
                    put(b, 0, b.length);
                    return;
                }
                a[n++] = (byte) c;
            }
            a[at] = (byte) (len >>> 24);
            a[at + 1] = (byte) (len >>> 16);
            a[at + 2] = (byte) (len >>> 8);
            a[at + 3] = (byte) len;
        }
    }

    /**
     * The beans of one part of a read, encoded as they are read (a bean's
     * objects die young instead of living until the whole read is encoded),
     * with per bean where its record ends and what the limits cut from it.
     */
    static final class Beans {
        final Buf buf;
        /** Per bean: end offset, values too deep, strings cut to length, attributes cut. */
        int[] meta = new int[64];
        int count;

        /** {@code sizeHint}: the bytes this part took last time (one array, not a doubling series). */
        Beans(int sizeHint) {
            this(new Buf(sizeHint > 0 ? sizeHint + sizeHint / 8 : 64 * 1024));
        }

        private Beans(Buf buf) {
            this.buf = buf;
        }

        void add(BeanOut b, Limits limits) {
            int[] valueCuts = new int[1];
            buf.str(b.name);
            buf.str(b.className == null ? "" : b.className);
            buf.putInt(b.attrs.size());
            for (Attr a : b.attrs) {
                buf.str(a.name);
                if (a.error != null) {
                    buf.put(UNREADABLE);
                    buf.str(a.error);
                } else {
                    value(buf, a.value, limits, valueCuts);
                }
            }
            if (4 * count + 4 > meta.length) meta = java.util.Arrays.copyOf(meta, meta.length * 2);
            meta[4 * count] = buf.n;
            meta[4 * count + 1] = b.tooDeep;
            meta[4 * count + 2] = valueCuts[0];
            meta[4 * count + 3] = b.attrsCut;
            count++;
        }

        /** The beans so far (for a read that answers before this part ends). */
        Beans copy() {
            Buf b = new Buf(buf.n);
            b.put(buf.a, 0, buf.n);
            Beans c = new Beans(b);
            c.meta = java.util.Arrays.copyOf(meta, meta.length);
            c.count = count;
            return c;
        }

        int attrsCut() {
            int sum = 0;
            for (int i = 0; i < count; i++) sum += meta[4 * i + 3];
            return sum;
        }
    }

    private final Limits limits;
    private final Limits.Cuts cuts;

    Wire(Limits limits, Limits.Cuts cuts) {
        this.limits = limits;
        this.cuts = cuts;
    }

    /**
     * Encodes a read: the parts' beans in order until the buffer reaches
     * Limits.bytes, the problems, and what the limits cut; into one array
     * of the exact size (a read of 2,000 beans is about 2 MB: one large
     * array, not a growing buffer and a copy).
     */
    byte[] encode(long takenAtMs, List<Beans> parts, List<String[]> problems) {
        int total = 0;
        for (Beans p : parts) total += p.count;
        // Which beans fit: the buffer stops growing once it reaches Limits.bytes.
        final int header = 16;
        int size = header;
        int written = 0;
        boolean full = false;
        for (Beans p : parts) {
            int from = 0;
            for (int i = 0; i < p.count; i++) {
                if (size >= limits.bytes) {
                    full = true;
                    break;
                }
                int end = p.meta[4 * i];
                size += end - from;
                from = end;
                written++;
                cuts.add("depth", p.meta[4 * i + 1]);
                cuts.add("value_length", p.meta[4 * i + 2]);
            }
            if (full) break;
        }
        if (written != total) cuts.add("bytes", total - written);
        Buf tail = new Buf(256);
        tail.putInt(problems.size());
        for (String[] p : problems) {
            tail.str(p[0]);
            tail.str(p[1]);
        }
        Map<String, Long> cut = cuts.snapshot();
        if (!cut.isEmpty()) {
            tail.putInt(cut.size());
            for (Map.Entry<String, Long> e : cut.entrySet()) {
                tail.str(e.getKey());
                tail.putLong(e.getValue());
            }
        }
        Buf o = new Buf(size + tail.n);
        o.put('K');
        o.put('S');
        o.put('B');
        o.put('1');
        o.putLong(takenAtMs);
        o.putInt(written);
        int left = written;
        for (Beans p : parts) {
            if (left == 0) break;
            int k = Math.min(left, p.count);
            if (k == 0) continue; // a part that read no bean (all problems, or cut off by the deadline)
            o.put(p.buf.a, 0, p.meta[4 * (k - 1)]);
            left -= k;
        }
        o.put(tail.a, 0, tail.n);
        return o.a;
    }

    private static void value(Buf out, Object v, Limits limits, int[] valueCuts) {
        if (v == null) {
            out.put(NULL);
        } else if (v instanceof Double) {
            out.put(DOUBLE);
            out.putLong(Double.doubleToLongBits((Double) v));
        } else if (v instanceof Float) {
            out.put(FLOAT);
            out.putInt(Float.floatToIntBits((Float) v));
        } else if (v instanceof Integer) {
            out.put(INT);
            out.putInt((Integer) v);
        } else if (v instanceof Long) {
            out.put(LONG);
            out.putLong((Long) v);
        } else if (v instanceof Short) {
            out.put(SHORT);
            out.putShort((Short) v);
        } else if (v instanceof Byte) {
            out.put(BYTE);
            out.put((Byte) v);
        } else if (v instanceof Boolean) {
            out.put(BOOL);
            out.put((Boolean) v ? 1 : 0);
        } else if (v instanceof String) {
            out.put(STRING);
            String text = (String) v;
            // Characters, not bytes: close enough, and never more than 3x.
            if (text.length() > limits.valueLength) {
                valueCuts[0]++;
                text = text.substring(0, limits.valueLength);
            }
            out.str(text);
        } else if (v instanceof Enum) {
            Enum<?> e = (Enum<?>) v;
            out.put(ENUM);
            out.str(e.getDeclaringClass().getName());
            out.str(e.name());
        } else if (v instanceof Conn.UnknownEnum) {
            Conn.UnknownEnum e = (Conn.UnknownEnum) v;
            out.put(ENUM);
            out.str(e.className);
            out.str(e.constant);
        } else if (v instanceof BigInteger) {
            out.put(BIGINT);
            out.str(v.toString());
        } else if (v instanceof BigDecimal) {
            out.put(BIGDEC);
            out.str(((BigDecimal) v).toPlainString());
        } else if (v instanceof Character) {
            out.put(CHAR);
            out.putShort((Character) v);
        } else if (v.getClass().isArray()) {
            out.put(ARRAY);
            out.str(v.getClass().getName());
            out.putInt(java.lang.reflect.Array.getLength(v));
        } else {
            out.put(OBJECT);
            out.str(v.getClass().getName());
            String text;
            try {
                text = String.valueOf(v);
            } catch (RuntimeException e) {
                text = "<toString failed: " + e + ">";
            }
            out.str(text.length() > 4096 ? text.substring(0, 4096) : text);
        }
    }
}
