package ksbridge.shim;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * The JNI entry points (called from src/jvm/). Every method either returns a
 * value or throws {@link ShimException} with a {@code KIND|detail} message.
 * Nothing of ours is loaded into a target JVM: a local target only gets its
 * own local management agent started.
 */
public final class Shim {
    private static final Map<Long, Conn> CONNS = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong(1);
    /** Connects run here (under a deadline); idle threads end after 5 s, not a cached pool's 60. */
    private static final ExecutorService CONNECTOR = new java.util.concurrent.ThreadPoolExecutor(
            0, Integer.MAX_VALUE, 5, java.util.concurrent.TimeUnit.SECONDS,
            new java.util.concurrent.SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "ksbridge-connect");
                t.setDaemon(true);
                t.setContextClassLoader(Shim.class.getClassLoader());
                return t;
            });

    /**
     * Runs the collection that follows closed connections. The RMI client
     * keeps one lease and one "RenewClean" thread per endpoint (one per
     * target JVM) until the stubs of every connection to it have been
     * garbage collected; the embedded heap is small and rarely collected in
     * full, so without this a target that restarts leaves a thread and its
     * memory behind each time. The clean calls that follow go to endpoints
     * that may be gone: -Dsun.rmi.dgc.cleanInterval (src/jvm/runtime.rs)
     * bounds their retries to seconds.
     */
    private static final ScheduledExecutorService JANITOR = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ksbridge-dgc");
        t.setDaemon(true);
        return t;
    });
    /** Delay between a close and the collection (closes in a burst share one). */
    private static final long COLLECT_AFTER_MS = 500;
    private static ScheduledFuture<?> collect;
    /** Collections run so far (tests and benchmarks). */
    private static volatile long collections;
    /** Set by {@link #closeAll}: ksbridge is stopping, nothing new is opened. */
    private static volatile boolean stopping;

    private Shim() {}

    /**
     * Whether the Rust caller of the JNI call running on this thread gave up
     * (its scrape's deadline passed, its HTTP client went away). Registered
     * by src/jvm/runtime.rs; false on every other thread.
     */
    static native boolean cancelled();

    /** Set when the native method is missing (never in ksbridge itself). */
    private static volatile boolean noNatives;

    /** {@link #cancelled()}, false where the native method is not registered. */
    static boolean callerGone() {
        if (noNatives) return false;
        try {
            return cancelled();
        } catch (UnsatisfiedLinkError e) {
            noNatives = true;
            return false;
        }
    }

    /** The caller of the running JNI call gave up. */
    static final class Cancelled extends Exception {
        private static final long serialVersionUID = 1L;

        Cancelled() {
            super("the caller gave up", null, false, false);
        }
    }

    /** How often a JNI thread that waits asks whether its caller gave up. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /**
     * {@code f.get} until {@code end} (System.nanoTime), asking between
     * short slices whether the caller gave up: then {@link Cancelled} (the
     * future is left alone: the caller decides whether to cancel it).
     */
    static <T> T await(Future<T> f, long end)
            throws Cancelled, InterruptedException, ExecutionException, TimeoutException {
        while (true) {
            if (callerGone()) throw new Cancelled();
            long left = end - System.nanoTime();
            try {
                return f.get(Math.max(1, Math.min(left, POLL_NANOS)), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                if (end - System.nanoTime() <= 0) throw e;
            }
        }
    }

    /**
     * Takes {@code lock} by {@code end}, asking between short slices whether
     * the caller gave up; false when the deadline passed first.
     */
    static boolean lock(java.util.concurrent.locks.Lock lock, long end) throws Cancelled, InterruptedException {
        while (true) {
            if (callerGone()) throw new Cancelled();
            long left = end - System.nanoTime();
            if (lock.tryLock(Math.max(1, Math.min(left, POLL_NANOS)), TimeUnit.NANOSECONDS)) return true;
            if (end - System.nanoTime() <= 0) return false;
        }
    }

    /**
     * Reads stopped before they answered, because their caller gave up or
     * their connection was closed meanwhile (tests and benchmarks).
     */
    static final AtomicLong CANCELLED_READS = new AtomicLong();

    /** How many reads stopped before they answered (see {@link #CANCELLED_READS}). */
    public static long cancelledReads() {
        return CANCELLED_READS.get();
    }

    /** The targets of the open connections, one line per connection. */
    public static String openTargets() {
        StringBuilder sb = new StringBuilder();
        for (Conn c : CONNS.values()) sb.append(c.target.replace('\n', ' ')).append('\n');
        return sb.toString();
    }

    /** Schedules one full collection soon, unless one is already waiting to run. */
    private static synchronized void collectSoon() {
        if (collect != null && collect.getDelay(TimeUnit.MILLISECONDS) > 0) return;
        collect = JANITOR.schedule(() -> {
            System.gc();
            collections++;
        }, COLLECT_AFTER_MS, TimeUnit.MILLISECONDS);
    }

    /** How many post-close collections have run. */
    public static long collections() {
        return collections;
    }

    /** Whether the attach API (module jdk.attach) is present. */
    public static boolean hasAttach() {
        try {
            Class.forName("com.sun.tools.attach.VirtualMachine");
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Local JVMs, one line each: {@code pid \t user \t display name}. */
    public static String listLocal() throws ShimException {
        requireAttach();
        return Attach.listLocal();
    }

    private static void requireAttach() throws ShimException {
        if (!hasAttach()) {
            throw new ShimException("NO_ATTACH", "the Java runtime has no jdk.attach module; attaching needs a JDK");
        }
    }

    /** Attach API -> local management agent -> RMI connector on loopback. */
    public static long connectPid(long pid, long timeoutMs) throws ShimException {
        requireAttach();
        Optional<ProcessHandle> ph = ProcessHandle.of(pid);
        if (ph.isEmpty() || !ph.get().isAlive()) {
            throw new ShimException("NO_SUCH_PROCESS", "no process with pid " + pid);
        }
        if (!Attach.signalSafe(pid)) {
            // Attaching signals the process (SIGQUIT), which kills most non-Java programs.
            throw new ShimException("NOT_A_JVM", "pid " + pid
                    + ": no HotSpot Signal Dispatcher thread or attach socket seen in /proc: not attaching");
        }
        return connect("pid " + pid, timeoutMs, () -> Attach.open(pid));
    }

    /** A remote JVM by service URL; user may be null (no credentials). */
    public static long connectUrl(String url, String user, String password, long timeoutMs) throws ShimException {
        JMXServiceURL u;
        try {
            u = new JMXServiceURL(url);
        } catch (java.net.MalformedURLException e) {
            throw new ShimException("CONNECT", "malformed JMX service URL " + url + ": " + e.getMessage());
        }
        return connect(url, timeoutMs, () -> {
            Map<String, Object> env = new HashMap<>();
            if (user != null) env.put(JMXConnector.CREDENTIALS, new String[] {user, password});
            try {
                return JMXConnectorFactory.connect(u, env);
            } catch (SecurityException e) {
                throw new ShimException("AUTH", url + ": " + ShimException.describe(e));
            } catch (IOException e) {
                throw new ShimException("CONNECT", url + ": " + ShimException.describe(e));
            }
        });
    }

    interface Opener {
        JMXConnector open() throws Exception;
    }

    /** Marks a connection attempt whose caller stopped waiting for it. */
    private static final Object ABANDONED = new Object();

    /**
     * Opens a connection on the connector pool, waiting until the deadline
     * or until the caller gives up. A connection that opens after its caller
     * stopped waiting (timeout, cancel) is closed, not left open with nobody
     * to close it: the opener and the caller meet in {@code handoff}.
     */
    private static long connect(String target, long timeoutMs, Opener opener) throws ShimException {
        if (stopping) throw new ShimException("CONNECT", target + ": ksbridge is shutting down");
        java.util.concurrent.atomic.AtomicReference<Object> handoff = new java.util.concurrent.atomic.AtomicReference<>();
        Future<Conn> f = CONNECTOR.submit(() -> {
            JMXConnector c = opener.open();
            Conn conn;
            try {
                conn = new Conn(target, c);
            } catch (IOException | RuntimeException e) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // Nothing more to do.
                }
                throw e;
            }
            if (!handoff.compareAndSet(null, conn)) {
                // The caller left: nobody will take this connection.
                conn.close();
                collectSoon();
                return null;
            }
            return conn;
        });
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        try {
            Conn conn = await(f, end);
            long id = NEXT.getAndIncrement();
            CONNS.put(id, conn);
            return id;
        } catch (TimeoutException e) {
            abandon(f, handoff);
            throw new ShimException("TIMEOUT", target + ": connect did not finish within " + timeoutMs + " ms");
        } catch (Cancelled e) {
            abandon(f, handoff);
            throw new ShimException("CANCELLED", target + ": connect abandoned, the caller gave up");
        } catch (InterruptedException e) {
            abandon(f, handoff);
            Thread.currentThread().interrupt();
            throw new ShimException("TIMEOUT", target + ": interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof ShimException) throw (ShimException) c;
            if (c instanceof SecurityException) throw new ShimException("AUTH", target + ": " + ShimException.describe(c));
            throw new ShimException("CONNECT", target + ": " + ShimException.describe(c), c);
        }
    }

    /** Gives up on a connection attempt: closes it if it opened meanwhile. */
    private static void abandon(Future<Conn> f, java.util.concurrent.atomic.AtomicReference<Object> handoff) {
        Object opened = handoff.getAndSet(ABANDONED);
        f.cancel(true);
        if (opened instanceof Conn) {
            Conn c = (Conn) opened;
            CONNECTOR.execute(() -> {
                c.close();
                collectSoon();
            });
        }
    }

    /**
     * Reads every bean matching one of the patterns into one flat buffer.
     * perAttribute and requery select the slow paths (benchmark baselines).
     */
    public static byte[] read(long id, String[] patterns, long deadlineMs, boolean perAttribute, boolean requery)
            throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        return c.read(patterns, deadlineMs, perAttribute, requery);
    }

    /**
     * Sets which attributes the connection's reads leave out, by MBean type:
     * one line per type, {@code type TAB attribute TAB attribute ...}; an
     * empty spec reads every attribute again.
     */
    public static void skip(long id, String spec) throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        c.skip(spec);
    }

    /** Sets what one read of this connection may cost (see {@link Limits}). */
    public static void limits(long id, int beans, int attributes, int valueLength, long bytes)
            throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        c.limits = new Limits(beans, attributes, valueLength, bytes);
    }

    /** How many times the connection queried the full name set (tests check it stays 1). */
    public static long nameQueries(long id) throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        return c.queries;
    }

    /** One JVM console operation (see {@link Console#call}). */
    public static String console(long id, String op, String[] args, long timeoutMs) throws ShimException {
        return Console.call(id, op, args, timeoutMs);
    }

    /** An open connection by id (for {@link Console}). */
    static Conn conn(long id) throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        return c;
    }

    /**
     * Closes a connection off the calling (JNI worker) thread: closing talks
     * to the target, which may be frozen, and a worker must not wait for it.
     */
    public static void close(long id) {
        Conn c = CONNS.remove(id);
        if (c != null) {
            CONNECTOR.execute(() -> {
                c.close();
                collectSoon();
            });
        }
    }

    /**
     * Closes every connection (ksbridge is stopping) within the time given,
     * and refuses new ones; returns how many were open. Each target learns at
     * once that its client went away instead of holding our lease for its
     * lease time.
     */
    public static int closeAll(long timeoutMs) {
        stopping = true;
        List<Conn> all = new ArrayList<>();
        for (Long id : new ArrayList<>(CONNS.keySet())) {
            Conn c = CONNS.remove(id);
            if (c != null) all.add(c);
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        List<Future<?>> closing = new ArrayList<>();
        for (Conn c : all) closing.add(CONNECTOR.submit(c::close));
        for (Future<?> f : closing) {
            try {
                f.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (ExecutionException e) {
                // Closing is best effort: the process exits next.
            }
        }
        return all.size();
    }

}
