package ksbridge.shim;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServerConnection;
import javax.management.MBeanServerDelegate;
import javax.management.MBeanServerNotification;
import javax.management.Notification;
import javax.management.NotificationListener;
import javax.management.ObjectName;
import javax.management.relation.MBeanServerNotificationFilter;
import javax.management.remote.JMXConnectionNotification;
import javax.management.remote.JMXConnector;

/**
 * One open JMX connection. Keeps the set of registered names current from
 * MBeanServerNotifications (one queryNames at start, and again only when
 * notifications were lost), caches MBeanInfo, and reads every bean with one
 * bulk getAttributes. Reads run on the connection's own thread so that a
 * caller can give up at a deadline while the remote call finishes.
 */
final class Conn implements NotificationListener {
    final String target;
    private final JMXConnector connector;
    private final MBeanServerConnection mbs;
    /**
     * Threads reading the beans of one read in parallel: a local target is
     * CPU-bound (serialization on both sides), a remote one round-trip-bound,
     * so one per core, at least 2 and at most 8.
     */
    private static final int PARALLEL =
            Math.min(8, Math.max(2, Runtime.getRuntime().availableProcessors()));
    /**
     * The reads of every connection share two small pools (whole reads, and
     * the parts of one read), so many targets cost no thread each: a read
     * waits for a thread only while PARALLEL others keep the cores busy.
     * Idle threads end after ten seconds.
     */
    private static final ExecutorService READERS = pool("ksbridge-read", 4 * PARALLEL);
    private static final ExecutorService PARTS = pool("ksbridge-read-part", 4 * PARALLEL);
    private final ExecutorService reader = READERS;
    private final ExecutorService pool = PARTS;

    private static ExecutorService pool(String name, int threads) {
        java.util.concurrent.ThreadPoolExecutor p = new java.util.concurrent.ThreadPoolExecutor(
                threads, threads, 10, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, name);
                    t.setDaemon(true);
                    // RMI resolves classes (the stand-in enums) through this loader.
                    t.setContextClassLoader(Conn.class.getClassLoader());
                    return t;
                });
        p.allowCoreThreadTimeOut(true);
        return p;
    }
    private final Set<ObjectName> names = ConcurrentHashMap.newKeySet();
    private final Map<ObjectName, String[]> attrNames = new ConcurrentHashMap<>();
    private final Map<ObjectName, String> classNames = new ConcurrentHashMap<>();
    /** Attributes left out of reads, by the bean's {@code type} key (see {@link #skip}). */
    private volatile Map<String, Set<String>> skipped = Map.of();
    /** Each bean's readable attributes minus the skipped ones (cleared when the skip list changes). */
    private final Map<ObjectName, String[]> selected = new ConcurrentHashMap<>();
    private volatile boolean namesValid;
    private volatile String brokenReason;
    private volatile Future<byte[]> inflight;
    /** Counts, for tests and benchmarks: how often the name set was queried. */
    volatile long queries;

    Conn(String target, JMXConnector connector) throws IOException {
        this.target = target;
        this.connector = connector;
        this.mbs = connector.getMBeanServerConnection();
        connector.addConnectionNotificationListener((n, hb) -> {
            String type = n.getType();
            if (JMXConnectionNotification.NOTIFS_LOST.equals(type)) {
                namesValid = false;
            } else if (JMXConnectionNotification.FAILED.equals(type)
                    || JMXConnectionNotification.CLOSED.equals(type)) {
                brokenReason = "connection " + type.substring(type.lastIndexOf('.') + 1);
            }
        }, null, null);
        MBeanServerNotificationFilter filter = new MBeanServerNotificationFilter();
        filter.enableAllObjectNames();
        try {
            mbs.addNotificationListener(MBeanServerDelegate.DELEGATE_NAME, this, filter, null);
        } catch (InstanceNotFoundException e) {
            throw new IOException("the target has no MBeanServerDelegate", e);
        }
        refreshNames();
    }

    @Override
    public void handleNotification(Notification n, Object handback) {
        if (!(n instanceof MBeanServerNotification)) return;
        ObjectName name = ((MBeanServerNotification) n).getMBeanName();
        if (MBeanServerNotification.REGISTRATION_NOTIFICATION.equals(n.getType())) {
            names.add(name);
        } else if (MBeanServerNotification.UNREGISTRATION_NOTIFICATION.equals(n.getType())) {
            names.remove(name);
        }
        // Kafka re-registers a bean when one of its metrics comes or goes.
        attrNames.remove(name);
        selected.remove(name);
    }

    private void refreshNames() throws IOException {
        Set<ObjectName> now = mbs.queryNames(null, null);
        queries++;
        names.retainAll(now);
        names.addAll(now);
        namesValid = true;
    }

    void close() {
        Future<byte[]> f = inflight;
        if (f != null) f.cancel(true);
        try {
            mbs.removeNotificationListener(MBeanServerDelegate.DELEGATE_NAME, this);
        } catch (Exception ignored) {
            // The target may be gone already.
        }
        try {
            connector.close();
        } catch (Exception ignored) {
            // Same.
        }
    }

    /** Replaces the skip list: lines of {@code type TAB attribute...}. */
    void skip(String spec) {
        Map<String, Set<String>> m = new HashMap<>();
        for (String line : spec.split("\n")) {
            String[] f = line.split("\t");
            if (f.length < 2 || f[0].isEmpty()) continue;
            Set<String> s = m.computeIfAbsent(f[0], k -> new java.util.HashSet<>());
            for (int i = 1; i < f.length; i++) s.add(f[i]);
        }
        skipped = m;
        selected.clear();
    }

    /** The attributes a read asks a bean for: its readable ones minus the skipped ones. */
    private String[] wanted(ObjectName n, String[] readable) {
        String[] w = selected.get(n);
        if (w != null) return w;
        String type = n.getKeyProperty("type");
        Set<String> skip = type == null ? null : skipped.get(type);
        if (skip == null || skip.isEmpty()) {
            w = readable;
        } else {
            List<String> keep = new ArrayList<>(readable.length);
            for (String a : readable) {
                if (!skip.contains(a)) keep.add(a);
            }
            w = keep.toArray(new String[0]);
        }
        selected.put(n, w);
        return w;
    }

    /** Runs one read under a deadline. Single flight: a read still running from an earlier call is waited for first. */
    synchronized byte[] read(String[] patterns, long deadlineMs, boolean perAttribute, boolean requery)
            throws ShimException {
        if (brokenReason != null) {
            throw new ShimException("TARGET_GONE", target + ": " + brokenReason);
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMs);
        try {
            if (inflight != null && !inflight.isDone()) {
                inflight.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            inflight = reader.submit(() -> doRead(patterns, perAttribute, requery));
            return inflight.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new ShimException("TIMEOUT", target + ": read did not finish within " + deadlineMs + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShimException("TIMEOUT", target + ": interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof ShimException) throw (ShimException) c;
            if (c instanceof IOException) {
                throw new ShimException("TARGET_GONE", target + ": " + ShimException.describe(c), c);
            }
            throw new ShimException("JAVA", ShimException.describe(c), c);
        }
    }

    private byte[] doRead(String[] patterns, boolean perAttribute, boolean requery) throws IOException {
        long taken = System.currentTimeMillis();
        if (requery || !namesValid) {
            refreshNames();
            if (requery) {
                attrNames.clear();
                selected.clear();
            }
        }
        List<ObjectName> pats = new ArrayList<>();
        for (String p : patterns) {
            try {
                pats.add(new ObjectName(p));
            } catch (Exception e) {
                throw new IllegalArgumentException("bad ObjectName pattern " + p + ": " + e.getMessage());
            }
        }
        TreeMap<String, ObjectName> selected = new TreeMap<>();
        for (ObjectName n : names) {
            for (ObjectName p : pats) {
                if (p.apply(n)) {
                    selected.put(n.toString(), n);
                    break;
                }
            }
        }
        List<ObjectName> todo = new ArrayList<>(selected.values());
        // Beans are read by a few threads at once: each read is one RMI round
        // trip, and the round trips, not the target's work, dominate.
        int parts = Math.max(1, Math.min(PARALLEL, todo.size() / 64));
        List<Future<Chunk>> futures = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++) {
            List<ObjectName> slice = todo.subList(todo.size() * p / parts, todo.size() * (p + 1) / parts);
            futures.add(pool.submit(() -> readChunk(slice, perAttribute)));
        }
        List<Wire.BeanOut> out = new ArrayList<>(todo.size());
        List<String[]> problems = new ArrayList<>();
        try {
            for (Future<Chunk> f : futures) {
                Chunk c = f.get();
                out.addAll(c.beans);
                problems.addAll(c.problems);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException) throw (IOException) c;
            if (c instanceof RuntimeException) throw (RuntimeException) c;
            throw new IOException(c);
        } finally {
            for (Future<Chunk> f : futures) f.cancel(true);
        }
        return new Wire().encode(taken, out, problems);
    }

    private static final class Chunk {
        final List<Wire.BeanOut> beans = new ArrayList<>();
        final List<String[]> problems = new ArrayList<>();
    }

    private Chunk readChunk(List<ObjectName> slice, boolean perAttribute) throws IOException {
        Chunk c = new Chunk();
        for (ObjectName n : slice) {
            try {
                c.beans.add(readBean(n, perAttribute));
            } catch (InstanceNotFoundException e) {
                names.remove(n);
                attrNames.remove(n);
                selected.remove(n);
                c.problems.add(new String[] {n.toString(), "unregistered during the read"});
            } catch (IOException e) {
                if (!(e instanceof java.rmi.UnmarshalException)) throw e;
                c.problems.add(new String[] {n.toString(), ShimException.describe(e)});
            } catch (Exception e) {
                c.problems.add(new String[] {n.toString(), ShimException.describe(e)});
            }
        }
        return c;
    }

    private Wire.BeanOut readBean(ObjectName n, boolean perAttribute) throws Exception {
        String[] attrs = attrNames.get(n);
        if (attrs == null) {
            MBeanInfo info = mbs.getMBeanInfo(n);
            List<String> readable = new ArrayList<>();
            for (MBeanAttributeInfo a : info.getAttributes()) {
                if (a.isReadable()) readable.add(a.getName());
            }
            attrs = readable.toArray(new String[0]);
            attrNames.put(n, attrs);
            classNames.put(n, info.getClassName() == null ? "" : info.getClassName());
            selected.remove(n);
        }
        attrs = wanted(n, attrs);
        Wire.BeanOut b = new Wire.BeanOut(n.toString(), classNames.getOrDefault(n, ""));
        if (attrs.length == 0) return b;
        Map<String, Object> got = null;
        if (!perAttribute) {
            try {
                AttributeList list = mbs.getAttributes(n, attrs);
                got = new HashMap<>(list.size() * 2);
                for (Attribute a : list.asList()) {
                    got.put(a.getName(), a.getValue());
                }
            } catch (InstanceNotFoundException | java.rmi.ConnectException e) {
                throw e;
            } catch (IOException e) {
                if (!(e instanceof java.rmi.UnmarshalException)) throw e;
                got = null; // one attribute did not deserialize: read them one by one
            } catch (Exception e) {
                got = null; // the bean's getAttributes itself failed
            }
        }
        for (String a : attrs) {
            if (got != null && got.containsKey(a)) {
                b.add(a, got.get(a));
                continue;
            }
            // Per-attribute fallback: only attributes the bulk read did not return.
            try {
                b.add(a, mbs.getAttribute(n, a));
            } catch (InstanceNotFoundException | java.rmi.ConnectException e) {
                throw e;
            } catch (Exception e) {
                if (e instanceof IOException && !(e instanceof java.rmi.UnmarshalException)) throw e;
                Object recovered = unknownEnumConstant(e);
                if (recovered != null) {
                    b.attrs.add(new Wire.Attr(a, recovered, null));
                } else {
                    b.fail(a, ShimException.describe(e));
                }
            }
        }
        return b;
    }

    private static final Pattern UNKNOWN_CONSTANT =
            Pattern.compile("enum constant (\\S+) does not exist in class (\\S+)");

    /**
     * An enum constant our stand-in class does not know fails deserialization
     * with "enum constant X does not exist in class C"; the name is still in
     * the message, so report it as that constant.
     */
    private static Object unknownEnumConstant(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof InvalidObjectException && t.getMessage() != null) {
                Matcher m = UNKNOWN_CONSTANT.matcher(t.getMessage());
                if (m.find()) return new UnknownEnum(m.group(2), m.group(1));
            }
        }
        return null;
    }

    /** An enum constant known only by name (the wire encodes it as an enum). */
    static final class UnknownEnum {
        final String className;
        final String constant;

        UnknownEnum(String className, String constant) {
            this.className = className;
            this.constant = constant;
        }
    }

    /** The connection itself, for {@link Console}'s calls. */
    MBeanServerConnection mbs() {
        return mbs;
    }

    /** Throws TARGET_GONE once the connector reported the connection failed or closed. */
    void checkAlive() throws ShimException {
        if (brokenReason != null) throw new ShimException("TARGET_GONE", target + ": " + brokenReason);
    }

    int nameCount() {
        return names.size();
    }
}
