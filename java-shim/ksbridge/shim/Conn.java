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
import java.util.concurrent.Executors;
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
     * Whole reads of every connection share one small pool, so many targets
     * cost no reading thread each: a read waits for a thread only while
     * others keep the cores busy; a read answers by its deadline (partial
     * results), so none holds a thread for long. Idle threads end after ten
     * seconds. The parts of a read run on the connection's own pool.
     */
    private static final ExecutorService READERS = pool("ksbridge-read", 4 * PARALLEL);
    private final ExecutorService reader = READERS;
    private final ExecutorService pool;

    /**
     * At most {@code threads} threads, a task runs on an idle one when there
     * is one and a thread starts only when all are busy: a plain fixed pool
     * starts a thread for every task until it has them all, each with its
     * stack and JVM thread state, however few reads ever run at once. Tasks
     * beyond that wait in the queue; idle threads end after ten seconds.
     */
    private static ExecutorService pool(String name, int threads) {
        ReuseQueue queue = new ReuseQueue();
        java.util.concurrent.ThreadPoolExecutor p = new java.util.concurrent.ThreadPoolExecutor(
                0, threads, 10, TimeUnit.SECONDS, queue, r -> {
                    Thread t = new Thread(r, name);
                    t.setDaemon(true);
                    // RMI resolves classes (the stand-in enums) through this loader.
                    t.setContextClassLoader(Conn.class.getClassLoader());
                    return t;
                }, (r, executor) -> {
                    // Lost a race for the last thread: wait in the queue.
                    if (executor.isShutdown()) {
                        throw new java.util.concurrent.RejectedExecutionException("pool shut down");
                    }
                    queue.force(r);
                });
        queue.pool = p;
        return p;
    }

    /** Refuses a task while every thread is busy and more may start (the executor then starts one). */
    private static final class ReuseQueue extends java.util.concurrent.LinkedBlockingQueue<Runnable> {
        private static final long serialVersionUID = 1L;
        transient volatile java.util.concurrent.ThreadPoolExecutor pool;

        @Override
        public boolean offer(Runnable r) {
            java.util.concurrent.ThreadPoolExecutor p = pool;
            if (p != null && p.getPoolSize() < p.getMaximumPoolSize()
                    && p.getActiveCount() + size() >= p.getPoolSize()) {
                return false;
            }
            return super.offer(r);
        }

        void force(Runnable r) {
            super.offer(r);
        }
    }

    /**
     * One String per distinct attribute or class name: every bean's
     * MBeanInfo arrives with its own copies of the same few names (2,000
     * beans of one type repeat ten names 2,000 times in the heap). Cleared
     * when it gets large (names that churn), as it only saves memory.
     */
    private final Map<String, String> sameNames = new ConcurrentHashMap<>();

    private String same(String s) {
        if (s == null) return null;
        if (sameNames.size() > 4096) sameNames.clear();
        String had = sameNames.putIfAbsent(s, s);
        return had == null ? s : had;
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
    /** What one read may cost (set by Shim.limits). */
    volatile Limits limits = Limits.DEFAULT;
    /** When the read in progress must answer (System.nanoTime), for partial results. */
    private volatile long readEnd;
    /** Beans being read now, also by earlier reads that gave up on them (a blocked getter). */
    private final Map<ObjectName, Long> reading = new ConcurrentHashMap<>();
    /** Per bean, readable attributes left out by Limits.attributes. */
    private final Map<ObjectName, Integer> attrsCut = new ConcurrentHashMap<>();
    /** Counts, for tests and benchmarks: how often the name set was queried. */
    volatile long queries;

    Conn(String target, JMXConnector connector) throws IOException {
        this.target = target;
        this.connector = connector;
        this.mbs = connector.getMBeanServerConnection();
        // The parts of a read run on this connection's own cached pool, not a
        // shared one: a part stuck in a getter that blocks holds a thread of
        // this target only (Limits.STUCK bounds how many may be stuck).
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "ksbridge-read-part " + target);
            t.setDaemon(true);
            t.setContextClassLoader(Conn.class.getClassLoader());
            return t;
        });
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
        // The names are queried by the first read, not here: with a hostile
        // number of beans the query outlasts a connect's deadline, while a
        // read that outlasts its deadline goes on and the next one finds
        // the names in place.
        namesValid = false;
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
        namesVersion.incrementAndGet();
        // Kafka re-registers a bean when one of its metrics comes or goes.
        attrNames.remove(name);
        selected.remove(name);
        attrsCut.remove(name);
    }

    /** The patterns the name set was last queried with. */
    private Set<ObjectName> queried = Set.of();

    /**
     * Queries the names of the read's patterns only (not every bean of the
     * target: a flood of beans outside them costs nothing, and the state
     * poller's connection never sees the bulk of a hostile target).
     */
    private void refreshNames(List<ObjectName> pats) throws IOException {
        Set<ObjectName> now = new java.util.HashSet<>();
        for (ObjectName p : pats) {
            now.addAll(mbs.queryNames(p, null));
        }
        queried = new java.util.HashSet<>(pats);
        queries++;
        names.retainAll(now);
        names.addAll(now);
        namesVersion.incrementAndGet();
        namesValid = true;
    }

    /** How many parts the last read had and the most bytes one took (the next read's buffer size). */
    private int lastParts;
    private int lastPartBytes;

    /** Bumped on every change of {@link #names}: a read's selection is reused while it stays. */
    private final java.util.concurrent.atomic.AtomicLong namesVersion = new java.util.concurrent.atomic.AtomicLong();
    /** The last read's patterns, the names version it saw and the beans it selected (in name order). */
    private List<ObjectName> selPatterns = List.of();
    private long selVersion = -1;
    private List<ObjectName> selBeans = List.of();

    /**
     * The names matching any of the patterns, in name order; reused while
     * the patterns and the name set stay (reads run one at a time). Matching
     * uses a copy of each name: ObjectName.apply keeps a parsed map of keys
     * on the name it matches (about 0.7 KB), and every name stays cached.
     */
    private List<ObjectName> select(List<ObjectName> pats) {
        long version = namesVersion.get();
        if (version == selVersion && pats.equals(selPatterns)) return selBeans;
        TreeMap<String, ObjectName> sorted = new TreeMap<>();
        for (ObjectName n : names) {
            ObjectName probe;
            try {
                probe = new ObjectName(n.getCanonicalName());
            } catch (javax.management.MalformedObjectNameException e) {
                probe = n;
            }
            for (ObjectName p : pats) {
                if (p.apply(probe)) {
                    sorted.put(n.toString(), n);
                    break;
                }
            }
        }
        selBeans = List.copyOf(sorted.values());
        selPatterns = pats;
        selVersion = version;
        return selBeans;
    }

    void close() {
        Future<byte[]> f = inflight;
        if (f != null) f.cancel(true);
        pool.shutdownNow();
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

    /**
     * The name's `type` key, read from a copy: an ObjectName keeps the map
     * of keys that its first getKeyProperty builds (about 0.7 KB), and the
     * names of every bean stay cached for the connection's life.
     */
    static String typeKey(ObjectName n) {
        try {
            return new ObjectName(n.getCanonicalName()).getKeyProperty("type");
        } catch (javax.management.MalformedObjectNameException e) {
            return n.getKeyProperty("type");
        }
    }

    /** The attributes a read asks a bean for: its readable ones minus the skipped ones. */
    private String[] wanted(ObjectName n, String[] readable) {
        String[] w = selected.get(n);
        if (w != null) return w;
        String type = typeKey(n);
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

    /** One read of this connection at a time (see {@link #read}). */
    private final java.util.concurrent.locks.ReentrantLock readLock = new java.util.concurrent.locks.ReentrantLock();

    /**
     * Runs one read under a deadline. Single flight: a read still running
     * from an earlier call is waited for first. Every wait (for the lock, for
     * the earlier read, for this one) ends at the deadline or as soon as the
     * Rust caller gives up (Shim.cancelled): then this read is stopped (its
     * parts stop between beans) instead of running on for nobody.
     */
    byte[] read(String[] patterns, long deadlineMs, boolean perAttribute, boolean requery)
            throws ShimException {
        if (brokenReason != null) {
            throw new ShimException("TARGET_GONE", target + ": " + brokenReason);
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMs);
        Future<byte[]> mine = null;
        try {
            if (!Shim.lock(readLock, end)) {
                throw new ShimException("TIMEOUT", target + ": read did not finish within " + deadlineMs
                        + " ms (an earlier read of this target held it)");
            }
            try {
                Future<byte[]> before = inflight;
                if (before != null && !before.isDone()) {
                    try {
                        Shim.await(before, end);
                    } catch (java.util.concurrent.CancellationException e) {
                        // Its caller gave up on it: nothing to wait for.
                    }
                }
                // The read answers with what it has a little before the caller's deadline.
                readEnd = end - Math.min(TimeUnit.MILLISECONDS.toNanos(200), (end - System.nanoTime()) / 10);
                mine = reader.submit(() -> doRead(patterns, perAttribute, requery));
                inflight = mine;
                return Shim.await(mine, end);
            } finally {
                readLock.unlock();
            }
        } catch (Shim.Cancelled e) {
            if (mine != null) mine.cancel(true);
            Shim.CANCELLED_READS.incrementAndGet();
            throw new ShimException("CANCELLED", target + ": read abandoned, its caller gave up");
        } catch (java.util.concurrent.CancellationException e) {
            // Stopped by close(), which its caller's going away may also have caused.
            Shim.CANCELLED_READS.incrementAndGet();
            throw new ShimException("TARGET_GONE", target + ": connection closed during the read");
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
        List<ObjectName> pats = new ArrayList<>();
        for (String p : patterns) {
            try {
                pats.add(new ObjectName(p));
            } catch (Exception e) {
                throw new IllegalArgumentException("bad ObjectName pattern " + p + ": " + e.getMessage());
            }
        }
        if (requery || !namesValid || !queried.containsAll(pats)) {
            refreshNames(pats);
            if (requery) {
                attrNames.clear();
                this.selected.clear();
            }
        }
        Limits lim = limits;
        Limits.Cuts cuts = new Limits.Cuts();
        List<ObjectName> todo = capBeans(new ArrayList<>(select(pats)), lim, cuts);
        // Beans are read by a few threads at once: each read is one RMI round
        // trip, and the round trips, not the target's work, dominate.
        int parts = Math.max(1, Math.min(PARALLEL, todo.size() / 64));
        List<Future<Chunk>> futures = new ArrayList<>(parts);
        List<Chunk> chunks = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++) {
            List<ObjectName> slice = todo.subList(todo.size() * p / parts, todo.size() * (p + 1) / parts);
            Chunk chunk = new Chunk(slice.size(), lim, new Wire.Beans(parts == lastParts ? lastPartBytes : 0));
            chunks.add(chunk);
            futures.add(pool.submit(() -> readChunk(slice, perAttribute, chunk)));
        }
        List<Wire.Beans> out = new ArrayList<>(parts);
        List<String[]> problems = new ArrayList<>();
        try {
            for (int p = 0; p < parts; p++) {
                Chunk c = awaitChunk(futures.get(p), chunks.get(p), cuts);
                out.add(c.beans);
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
        int most = 0;
        for (Wire.Beans b : out) {
            cuts.add("attributes", b.attrsCut());
            most = Math.max(most, b.buf.n);
        }
        lastParts = parts;
        lastPartBytes = most;
        return new Wire(lim, cuts).encode(taken, out, problems);
    }

    /**
     * The beans this read asks for: none that an earlier read is still
     * reading (a getter that blocks: asking again would only stack another
     * thread on it), nothing when too many are stuck, and at most
     * Limits.beans. What is left out is counted.
     */
    private List<ObjectName> capBeans(List<ObjectName> todo, Limits lim, Limits.Cuts cuts) {
        if (reading.size() >= Limits.STUCK) {
            cuts.add("time", todo.size());
            return new ArrayList<>();
        }
        if (!reading.isEmpty()) {
            int before = todo.size();
            todo.removeIf(reading::containsKey);
            cuts.add("time", before - todo.size());
        }
        if (todo.size() > lim.beans) {
            cuts.add("beans", todo.size() - lim.beans);
            todo = fairShare(todo, lim.beans);
        }
        return todo;
    }

    /**
     * At most `max` of the beans, shared fairly between their types (domain
     * and `type` key): a type with fewer beans than its share keeps them all
     * and leaves the rest to the others (max-min fairness), so a flood of
     * one type never pushes out the client and thread beans. Name order kept.
     */
    static List<ObjectName> fairShare(List<ObjectName> beans, int max) {
        Map<String, List<ObjectName>> byType = new TreeMap<>();
        for (ObjectName n : beans) {
            String type = n.getDomain() + ":" + typeKey(n);
            byType.computeIfAbsent(type, k -> new ArrayList<>()).add(n);
        }
        List<List<ObjectName>> groups = new ArrayList<>(byType.values());
        groups.sort((a, b) -> Integer.compare(a.size(), b.size()));
        Set<ObjectName> keep = new java.util.HashSet<>();
        int left = max;
        for (int g = 0; g < groups.size(); g++) {
            List<ObjectName> group = groups.get(g);
            int share = Math.min(group.size(), left / (groups.size() - g));
            keep.addAll(group.subList(0, share));
            left -= share;
        }
        List<ObjectName> out = new ArrayList<>(keep.size());
        for (ObjectName n : beans) {
            if (keep.contains(n)) out.add(n);
        }
        return out;
    }

    /**
     * A part's beans, whole when it finishes before the read must answer,
     * else what it has read so far (the rest counted as cut for time; the
     * part stops after the bean it is reading).
     */
    private Chunk awaitChunk(Future<Chunk> f, Chunk c, Limits.Cuts cuts)
            throws InterruptedException, ExecutionException {
        try {
            return f.get(Math.max(1, readEnd - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            Chunk partial = c.copy();
            cuts.add("time", c.size - partial.beans.count - partial.problems.size());
            return partial;
        }
    }

    private static final class Chunk {
        final int size;
        final Limits limits;
        final Wire.Beans beans;
        final List<String[]> problems = new ArrayList<>();

        Chunk(int size, Limits limits, Wire.Beans beans) {
            this.size = size;
            this.limits = limits;
            this.beans = beans;
        }

        /** Encodes the bean now: its objects are garbage before the next bean is read. */
        synchronized void bean(Wire.BeanOut b) {
            beans.add(b, limits);
        }

        synchronized void problem(String[] p) {
            problems.add(p);
        }

        synchronized Chunk copy() {
            Chunk c = new Chunk(size, limits, beans.copy());
            c.problems.addAll(problems);
            return c;
        }
    }

    private Chunk readChunk(List<ObjectName> slice, boolean perAttribute, Chunk c) throws IOException {
        for (ObjectName n : slice) {
            if (Thread.currentThread().isInterrupted()) break; // the read answered without this part
            reading.put(n, System.nanoTime());
            try {
                c.bean(readBean(n, perAttribute));
            } catch (StackOverflowError e) {
                // A value nested too deep to deserialize: this bean only.
                c.problem(new String[] {n.toString(), "value nested too deep to read"});
            } catch (InstanceNotFoundException e) {
                names.remove(n);
                namesVersion.incrementAndGet();
                attrNames.remove(n);
                selected.remove(n);
                c.problem(new String[] {n.toString(), "unregistered during the read"});
            } catch (IOException e) {
                if (!(e instanceof java.rmi.UnmarshalException)) throw e;
                c.problem(new String[] {n.toString(), ShimException.describe(e)});
            } catch (Exception e) {
                c.problem(new String[] {n.toString(), ShimException.describe(e)});
            } finally {
                reading.remove(n);
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
                if (a.isReadable()) readable.add(same(a.getName()));
            }
            attrs = capAttributes(n, readable);
            attrNames.put(n, attrs);
            classNames.put(n, info.getClassName() == null ? "" : same(info.getClassName()));
            selected.remove(n);
        }
        attrs = wanted(n, attrs);
        Wire.BeanOut b = new Wire.BeanOut(n.toString(), classNames.getOrDefault(n, ""));
        b.attrsCut = attrsCut.getOrDefault(n, 0);
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

    /** The first Limits.attributes readable attributes; how many were left out is kept per bean. */
    private String[] capAttributes(ObjectName n, List<String> readable) {
        int max = limits.attributes;
        if (readable.size() <= max) {
            attrsCut.remove(n);
            return readable.toArray(new String[0]);
        }
        attrsCut.put(n, readable.size() - max);
        return readable.subList(0, max).toArray(new String[0]);
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
