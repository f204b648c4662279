package ksbridge.shim;

import java.io.IOException;
import java.util.HashMap;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
    private static final ExecutorService CONNECTOR = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ksbridge-connect");
        t.setDaemon(true);
        t.setContextClassLoader(Shim.class.getClassLoader());
        return t;
    });

    private Shim() {}

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

    private static long connect(String target, long timeoutMs, Opener opener) throws ShimException {
        Future<Conn> f = CONNECTOR.submit(() -> {
            JMXConnector c = opener.open();
            try {
                return new Conn(target, c);
            } catch (IOException | RuntimeException e) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // Nothing more to do.
                }
                throw e;
            }
        });
        try {
            Conn conn = f.get(timeoutMs, TimeUnit.MILLISECONDS);
            long id = NEXT.getAndIncrement();
            CONNS.put(id, conn);
            return id;
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new ShimException("TIMEOUT", target + ": connect did not finish within " + timeoutMs + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShimException("TIMEOUT", target + ": interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof ShimException) throw (ShimException) c;
            if (c instanceof SecurityException) throw new ShimException("AUTH", target + ": " + ShimException.describe(c));
            throw new ShimException("CONNECT", target + ": " + ShimException.describe(c), c);
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

    public static void close(long id) {
        Conn c = CONNS.remove(id);
        if (c != null) c.close();
    }

}
