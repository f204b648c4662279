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
     * Whether pid can be a HotSpot JVM: listed by the attach provider, or
     * libjvm mapped into it. When /proc cannot tell (another user's process),
     * the attach attempt decides.
     */
    static boolean mayBeJvm(long pid) {
        for (com.sun.tools.attach.VirtualMachineDescriptor d : list()) {
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
            return JMXConnectorFactory.connect(new JMXServiceURL(address));
        } catch (IOException e) {
            if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                throw new ShimException("TARGET_GONE", target + " exited while connecting");
            }
            throw new ShimException("CONNECT", target + " (" + address + "): " + ShimException.describe(e));
        }
    }
}
