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
        StringBuilder sb = new StringBuilder();
        long self = ProcessHandle.current().pid();
        for (com.sun.tools.attach.VirtualMachineDescriptor d : com.sun.tools.attach.VirtualMachine.list()) {
            long pid;
            try {
                pid = Long.parseLong(d.id());
            } catch (NumberFormatException e) {
                continue;
            }
            if (pid == self) continue;
            String user = ProcessHandle.of(pid).flatMap(p -> p.info().user()).orElse("");
            sb.append(pid).append('\t').append(clean(user)).append('\t').append(clean(d.displayName())).append('\n');
        }
        return sb.toString();
    }

    private static String clean(String s) {
        return s == null ? "" : s.replace('\t', ' ').replace('\n', ' ');
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
        if (!mayBeJvm(pid)) {
            // Attaching signals the process (SIGQUIT), which kills most non-Java programs.
            throw new ShimException("NOT_A_JVM", "pid " + pid + ": not a Java process (no libjvm mapped)");
        }
        String target = "pid " + pid;
        return connect(target, timeoutMs, () -> {
            com.sun.tools.attach.VirtualMachine vm;
            try {
                vm = com.sun.tools.attach.VirtualMachine.attach(Long.toString(pid));
            } catch (com.sun.tools.attach.AttachNotSupportedException e) {
                if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    throw new ShimException("TARGET_GONE", target + " exited while attaching");
                }
                boolean listed = false;
                for (com.sun.tools.attach.VirtualMachineDescriptor d : com.sun.tools.attach.VirtualMachine.list()) {
                    if (d.id().equals(Long.toString(pid))) listed = true;
                }
                if (!listed) {
                    throw new ShimException("NOT_A_JVM", "pid " + pid + ": " + e.getMessage()
                            + " (not a HotSpot JVM, started with -XX:+DisableAttachMechanism,"
                            + " or owned by another user: run ksbridge as that user)");
                }
                throw new ShimException("ATTACH_REFUSED", "pid " + pid + ": " + e.getMessage());
            } catch (IOException e) {
                if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    throw new ShimException("TARGET_GONE", target + " exited while attaching");
                }
                throw new ShimException("ATTACH_REFUSED", "pid " + pid + ": " + ShimException.describe(e));
            }
            String address;
            try {
                address = vm.startLocalManagementAgent();
            } catch (IOException e) {
                throw new ShimException("ATTACH_REFUSED", "pid " + pid
                        + ": starting its local management agent failed: " + ShimException.describe(e));
            } finally {
                try {
                    vm.detach();
                } catch (IOException ignored) {
                    // The agent address is what matters.
                }
            }
            try {
                return JMXConnectorFactory.connect(new JMXServiceURL(address));
            } catch (IOException e) {
                if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    throw new ShimException("TARGET_GONE", target + " exited while connecting");
                }
                throw new ShimException("CONNECT", target + " (" + address + "): " + ShimException.describe(e));
            }
        });
    }

    /**
     * Whether pid can be a HotSpot JVM: listed by the attach provider, or
     * libjvm mapped into it. When /proc cannot tell (another user's process),
     * the attach attempt decides.
     */
    static boolean mayBeJvm(long pid) {
        for (com.sun.tools.attach.VirtualMachineDescriptor d : com.sun.tools.attach.VirtualMachine.list()) {
            if (d.id().equals(Long.toString(pid))) return true;
        }
        java.nio.file.Path maps = java.nio.file.Paths.get("/proc", Long.toString(pid), "maps");
        try (java.io.BufferedReader r = java.nio.file.Files.newBufferedReader(maps)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.contains("/libjvm.")) return true;
            }
            return false;
        } catch (IOException | SecurityException e) {
            return true;
        }
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

    /** How many times the connection queried the full name set (tests check it stays 1). */
    public static long nameQueries(long id) throws ShimException {
        Conn c = CONNS.get(id);
        if (c == null) throw new ShimException("UNKNOWN_CONNECTION", "connection " + id);
        return c.queries;
    }

    public static void close(long id) {
        Conn c = CONNS.remove(id);
        if (c != null) c.close();
    }

}
