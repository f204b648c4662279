package ksbridge.console;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.RuntimeMXBean;
import java.util.ArrayList;
import java.util.List;
import javax.management.ObjectName;

/**
 * The console tests' target JVM. Flags start what a test looks for:
 * --busy (thread "ksbridge-busy" spinning in Busy.spin), --alloc (thread
 * "ksbridge-alloc" keeping Blob objects), --deadlock (threads "dl-a" and
 * "dl-b" deadlocked on LockA and LockB). It registers ksbridge.test:type=Ops,
 * prints "READY pid=N", answers "figures" on stdin with what its own platform
 * MXBeans report (one JSON line), and exits when stdin closes.
 */
public final class Target {
    public static void main(String[] args) throws Exception {
        for (String a : args) {
            switch (a) {
                case "--busy": start("ksbridge-busy", Busy::spin); break;
                case "--alloc": start("ksbridge-alloc", Blob::keepAllocating); break;
                case "--deadlock": Deadlock.start(); break;
                default: throw new IllegalArgumentException("unknown flag " + a);
            }
        }
        ManagementFactory.getPlatformMBeanServer().registerMBean(new Ops(), new ObjectName("ksbridge.test:type=Ops"));
        System.out.println("READY pid=" + ProcessHandle.current().pid());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().equals("figures")) {
                System.out.println(figures());
                System.out.flush();
            }
        }
        System.exit(0);
    }

    static void start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }

    static String figures() {
        RuntimeMXBean rt = ManagementFactory.getRuntimeMXBean();
        StringBuilder sb = new StringBuilder("{");
        sb.append("\"vmVersion\":").append(q(rt.getVmVersion()));
        sb.append(",\"vmVendor\":").append(q(rt.getVmVendor()));
        sb.append(",\"startTimeMs\":").append(rt.getStartTime());
        sb.append(",\"uptimeMs\":").append(rt.getUptime());
        sb.append(",\"inputArguments\":[");
        List<String> ia = rt.getInputArguments();
        for (int i = 0; i < ia.size(); i++) sb.append(i > 0 ? "," : "").append(q(ia.get(i)));
        sb.append("],\"availableProcessors\":").append(ManagementFactory.getOperatingSystemMXBean().getAvailableProcessors());
        sb.append(",\"heapMax\":").append(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax());
        sb.append(",\"processCpuTime\":").append(
                ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime());
        sb.append(",\"totalLoadedClasses\":").append(ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount());
        sb.append(",\"totalStartedThreads\":").append(ManagementFactory.getThreadMXBean().getTotalStartedThreadCount());
        long gcCount = 0;
        sb.append(",\"gc\":[");
        boolean first = true;
        for (GarbageCollectorMXBean g : ManagementFactory.getGarbageCollectorMXBeans()) {
            sb.append(first ? "" : ",").append(q(g.getName()));
            first = false;
            gcCount += g.getCollectionCount();
        }
        sb.append("],\"gcCount\":").append(gcCount);
        sb.append(",\"pools\":[");
        first = true;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            sb.append(first ? "" : ",").append(q(p.getName()));
            first = false;
        }
        sb.append("],\"javaVersion\":").append(q(System.getProperty("java.version")));
        return sb.append('}').toString();
    }

    /** The method `threads --top` and the JFR hot list must name. */
    static final class Busy {
        static volatile long sink;

        static void spin() {
            long x = 1;
            while (true) {
                for (int i = 0; i < 1_000_000; i++) x = x * 6364136223846793005L + 1442695040888963407L;
                sink = x;
            }
        }
    }

    /** The class `heap --diff` must show growing. */
    static final class Blob {
        final byte[] payload = new byte[64];
        static final List<Blob> KEPT = new ArrayList<>();

        static void keepAllocating() {
            try {
                while (true) {
                    synchronized (KEPT) {
                        for (int i = 0; i < 1000; i++) KEPT.add(new Blob());
                        if (KEPT.size() > 1_500_000) KEPT.subList(0, 750_000).clear();
                    }
                    Thread.sleep(50);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static final class LockA {}

    static final class LockB {}

    /** Two threads, two locks, taken in opposite orders. */
    static final class Deadlock {
        static final LockA A = new LockA();
        static final LockB B = new LockB();

        static void start() throws InterruptedException {
            java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
            Target.start("dl-a", () -> {
                synchronized (A) {
                    both.countDown();
                    await(both);
                    synchronized (B) {
                        System.err.println("not deadlocked");
                    }
                }
            });
            Target.start("dl-b", () -> {
                synchronized (B) {
                    both.countDown();
                    await(both);
                    synchronized (A) {
                        System.err.println("not deadlocked");
                    }
                }
            });
            both.await();
        }

        static void await(java.util.concurrent.CountDownLatch l) {
            try {
                l.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public interface OpsMBean {
        long add(int a, long b);

        String greet(String name, boolean shout);

        int getCalls();

        void reset();
    }

    /** A standard MBean whose operations `invoke` calls with int, long, String and boolean. */
    public static final class Ops implements OpsMBean {
        private int calls;

        @Override
        public synchronized long add(int a, long b) {
            calls++;
            return a + b;
        }

        @Override
        public synchronized String greet(String name, boolean shout) {
            calls++;
            String s = "hello " + name;
            return shout ? s.toUpperCase(java.util.Locale.ROOT) + "!" : s;
        }

        @Override
        public synchronized int getCalls() {
            return calls;
        }

        @Override
        public synchronized void reset() {
            calls = 0;
        }
    }
}
