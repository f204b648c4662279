package ksbridge.shim;

import java.io.IOException;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Everything that touches the attach API (module jdk.attach). Kept apart so
 * that the rest of the shim loads and serves remote URLs on a runtime
 * without that module.
 */
final class Attach {
    private Attach() {}

    /**
     * The attach provider's JVM list. The JDK's jvmstat lookup behind it is not
     * safe for concurrent first use ("Could not find MonitoredHost for scheme"),
     * so every call goes through this one lock and an InternalError is retried once.
     */
    static synchronized java.util.List<com.sun.tools.attach.VirtualMachineDescriptor> list() {
        try {
            return com.sun.tools.attach.VirtualMachine.list();
        } catch (InternalError e) {
            return com.sun.tools.attach.VirtualMachine.list();
        }
    }

    /** Local JVMs, one line each: {@code pid \t user \t display name}. */
    static String listLocal() {
        StringBuilder sb = new StringBuilder();
        long self = ProcessHandle.current().pid();
        for (com.sun.tools.attach.VirtualMachineDescriptor d : list()) {
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

    /**
     * Whether attaching to pid is safe, from /proc entries any user can read:
     * its attach socket exists (attaching then sends no signal), or it runs
     * HotSpot's "Signal Dispatcher" thread (the SIGQUIT of the attach starts
     * the attach listener). Anything else, an unreadable /proc included, is
     * "no": the attach signal kills most other programs. The Rust side decides
     * first with more evidence; this is the second, independent check.
     */
    static boolean signalSafe(long pid) {
        java.nio.file.Path proc = java.nio.file.Paths.get("/proc", Long.toString(pid));
        if (java.nio.file.Files.exists(proc.resolve("root/tmp/.java_pid" + nsPid(proc, pid)))) {
            return true;
        }
        try (java.nio.file.DirectoryStream<java.nio.file.Path> tasks =
                java.nio.file.Files.newDirectoryStream(proc.resolve("task"))) {
            for (java.nio.file.Path t : tasks) {
                try {
                    String comm = new String(java.nio.file.Files.readAllBytes(t.resolve("comm")),
                            java.nio.charset.StandardCharsets.UTF_8).trim();
                    if (comm.equals("Signal Dispatch")) return true;
                } catch (IOException | SecurityException e) {
                    // A thread that ended meanwhile, or an unreadable one: no evidence.
                }
            }
            return false;
        } catch (IOException | SecurityException | java.nio.file.DirectoryIteratorException e) {
            return false;
        }
    }

    /** The pid inside the process's own pid namespace (last NSpid field), else pid. */
    private static long nsPid(java.nio.file.Path proc, long pid) {
        try {
            for (String line : java.nio.file.Files.readAllLines(proc.resolve("status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] f = line.trim().split("\\s+");
                    return Long.parseLong(f[f.length - 1]);
                }
            }
        } catch (IOException | SecurityException | NumberFormatException e) {
            // Fall back to the host pid.
        }
        return pid;
    }

    /** Attach -> start the target's local management agent -> connect to it. */
    static JMXConnector open(long pid) throws Exception {
        String target = "pid " + pid;
        com.sun.tools.attach.VirtualMachine vm;
        try {
            vm = com.sun.tools.attach.VirtualMachine.attach(Long.toString(pid));
        } catch (com.sun.tools.attach.AttachNotSupportedException e) {
            if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                throw new ShimException("TARGET_GONE", target + " exited while attaching");
            }
            boolean listed = false;
            for (com.sun.tools.attach.VirtualMachineDescriptor d : list()) {
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
            // No heartbeat thread per connection (RMI's default: a
            // getDefaultDomain call every minute on a thread of its own): a
            // local target is read at every scrape and poll, and a failed
            // call reports the broken connection as the heartbeat would.
            return JMXConnectorFactory.connect(new JMXServiceURL(address),
                    java.util.Map.of("jmx.remote.x.client.connection.check.period", 0L));
        } catch (IOException e) {
            if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                throw new ShimException("TARGET_GONE", target + " exited while connecting");
            }
            throw new ShimException("CONNECT", target + " (" + address + "): " + ShimException.describe(e));
        }
    }
}
