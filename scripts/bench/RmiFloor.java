import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import com.sun.tools.attach.VirtualMachine;

/**
 * The floor of reading a JVM's Kafka Streams beans over the local JMX (RMI)
 * connector, measured with nothing else on top: one plain Java client in its
 * own JVM, the same attach and connector ksbridge uses, the same bulk
 * {@code getAttributes} per bean for the same attributes (every readable one
 * but Kafka's {@code -rate} twins, as ksbridge without {@code --kafka.rates}),
 * on {@code THREADS} threads. No decoding, model or encoding: whatever ksbridge
 * spends above this per read is its own cost.
 *
 * <pre>java RmiFloor PID ROUNDS THREADS</pre>
 * prints one JSON line: median and p95 wall ms per read, this JVM's CPU ms
 * per read and the target's ({@code /proc/PID/stat}), after 20 warm-up reads.
 */
public final class RmiFloor {
    public static void main(String[] args) throws Exception {
        String pid = args[0];
        int rounds = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        VirtualMachine vm = VirtualMachine.attach(pid);
        String address = vm.startLocalManagementAgent();
        vm.detach();
        try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(address))) {
            MBeanServerConnection mbs = c.getMBeanServerConnection();
            List<ObjectName> names = new ArrayList<>(mbs.queryNames(new ObjectName("kafka.streams:*"), null));
            Map<ObjectName, String[]> attrs = new HashMap<>();
            for (ObjectName n : names) {
                List<String> keep = new ArrayList<>();
                for (MBeanAttributeInfo a : mbs.getMBeanInfo(n).getAttributes()) {
                    if (a.isReadable() && !a.getName().endsWith("-rate")) keep.add(a.getName());
                }
                attrs.put(n, keep.toArray(new String[0]));
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            for (int i = 0; i < 20; i++) read(pool, mbs, names, attrs, threads);
            if (Boolean.getBoolean("floor.pause")) {
                // A profiler attaches now and says "go" for the timed reads.
                System.out.println("READY");
                System.out.flush();
                new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
            }
            com.sun.management.OperatingSystemMXBean os =
                    (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            long cpu0 = os.getProcessCpuTime();
            long target0 = ticks(pid);
            double[] wall = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                long t0 = System.nanoTime();
                read(pool, mbs, names, attrs, threads);
                wall[i] = (System.nanoTime() - t0) / 1e6;
            }
            double cpu = (os.getProcessCpuTime() - cpu0) / 1e6 / rounds;
            double target = (ticks(pid) - target0) * 10.0 / rounds;
            pool.shutdown();
            Arrays.sort(wall);
            System.out.printf(
                    "{\"beans\":%d,\"threads\":%d,\"rounds\":%d,\"median_ms\":%.2f,\"p95_ms\":%.2f,"
                            + "\"client_cpu_ms\":%.2f,\"target_cpu_ms\":%.2f}%n",
                    names.size(), threads, rounds, wall[rounds / 2], wall[(int) (rounds * 0.95)], cpu, target);
        }
    }

    /** One read of every bean, split into {@code threads} contiguous parts. */
    private static void read(ExecutorService pool, MBeanServerConnection mbs, List<ObjectName> names,
            Map<ObjectName, String[]> attrs, int threads) throws Exception {
        List<Future<Integer>> parts = new ArrayList<>();
        int per = (names.size() + threads - 1) / threads;
        for (int t = 0; t < threads; t++) {
            List<ObjectName> slice = names.subList(Math.min(names.size(), t * per),
                    Math.min(names.size(), (t + 1) * per));
            parts.add(pool.submit(() -> {
                int values = 0;
                for (ObjectName n : slice) values += mbs.getAttributes(n, attrs.get(n)).size();
                return values;
            }));
        }
        for (Future<Integer> f : parts) f.get();
    }

    /** utime + stime of a process, in clock ticks (1/100 s). */
    private static long ticks(String pid) throws Exception {
        String stat = Files.readString(Path.of("/proc", pid, "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
