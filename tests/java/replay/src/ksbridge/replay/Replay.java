package ksbridge.replay;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * The replay JVM: registers Kafka-shaped MBeans from capture files and/or a
 * generated benchmark shape, then obeys one command per stdin line, answering
 * each with exactly one stdout line starting with "ok" or "err". Everything
 * else goes to stderr. EOF on stdin (or the death of the parent process) ends
 * the JVM at once.
 *
 * <pre>
 * java -cp replay-classes ksbridge.replay.Replay [--capture FILE]... [--generate beans=N,attrs=M]
 * </pre>
 */
public final class Replay {
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();
    private static final Map<ObjectName, ReplayBean> BEANS = new ConcurrentHashMap<>();
    private static PrintStream proto;
    /** Capture beans not registered because the JVM already has them (platform beans). */
    private static int skipped;
    /** A capture's scripted story: steps played one per `step` command. */
    private static final List<Map<String, Object>> STORY = new java.util.ArrayList<>();
    private static int storyNext;

    /** Names of the generated processor-node attributes (Kafka's), in order; more are "metric-<k>". */
    private static final String[] BENCH_ATTRS = {
        "process-rate", "process-total",
        "record-e2e-latency-avg", "record-e2e-latency-min", "record-e2e-latency-max",
        "suppression-emit-rate", "suppression-emit-total",
        "idempotent-update-skip-rate", "idempotent-update-skip-total",
        "emit-final-latency-avg", "emit-final-latency-max",
        "emit-final-records-rate", "emit-final-records-total",
    };

    private Replay() {
    }

    public static void main(String[] args) throws Exception {
        // The protocol owns the real stdout; stray prints go to stderr.
        proto = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        startParentWatchdog();
        try {
            for (int k = 0; k < args.length; k++) {
                switch (args[k]) {
                    case "--capture":
                        loadCapture(Path.of(args[++k]));
                        break;
                    case "--generate":
                        generate(args[++k]);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown argument " + args[k]
                            + " (usage: [--capture FILE]... [--generate beans=N,attrs=M])");
                }
            }
            Hostile.fromProperty(SERVER, BEANS);
        } catch (Exception e) {
            System.err.println("replay: start-up failed: " + e);
            e.printStackTrace();
            proto.println("FAILED " + oneLine(e.toString()));
            Runtime.getRuntime().halt(2);
        }
        StringBuilder ready = new StringBuilder("READY pid=").append(ProcessHandle.current().pid())
            .append(" beans=").append(BEANS.size());
        if (skipped > 0) {
            ready.append(" skipped=").append(skipped);
        }
        String port = System.getProperty("com.sun.management.jmxremote.port");
        if (port != null) {
            String host = System.getProperty("com.sun.management.jmxremote.host", "127.0.0.1");
            ready.append(" jmx=service:jmx:rmi:///jndi/rmi://").append(host).append(':').append(port).append("/jmxrmi");
        }
        proto.println(ready);
        commandLoop();
    }

    /** Exits when the process that started us is gone (we were re-parented). */
    private static void startParentWatchdog() {
        Optional<ProcessHandle> parent = ProcessHandle.current().parent();
        if (parent.isEmpty()) {
            return;
        }
        long parentPid = parent.get().pid();
        Thread t = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                Optional<ProcessHandle> now = ProcessHandle.current().parent();
                if (now.isEmpty() || now.get().pid() != parentPid || !now.get().isAlive()) {
                    System.err.println("replay: parent " + parentPid + " is gone, exiting");
                    Runtime.getRuntime().halt(0);
                }
            }
        }, "replay-parent-watchdog");
        t.setDaemon(true);
        t.start();
    }

    private static void commandLoop() {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (true) {
            String line;
            try {
                line = in.readLine();
            } catch (IOException | RuntimeException e) {
                System.err.println("replay: stdin failed (" + e + "), exiting");
                Runtime.getRuntime().halt(0);
                return;
            }
            if (line == null) {
                System.err.println("replay: EOF on stdin, exiting");
                Runtime.getRuntime().halt(0);
                return;
            }
            String reply;
            try {
                reply = execute(line.strip());
            } catch (Throwable e) {
                reply = "err " + oneLine(e.toString());
            }
            proto.println(reply);
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Splits a command line into arguments; an argument starting with '"' is a JSON string. */
    private static final class Args {
        private final String s;
        private int i;

        Args(String s) {
            this.s = s;
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        boolean more() {
            skip();
            return i < s.length();
        }

        String next(String what) {
            skip();
            if (i >= s.length()) {
                throw new IllegalArgumentException("missing " + what);
            }
            if (s.charAt(i) == '"') {
                Object[] r = Json.parsePrefix(s.substring(i));
                i += (Integer) r[1];
                return (String) r[0];
            }
            int start = i;
            while (i < s.length() && !Character.isWhitespace(s.charAt(i))) {
                i++;
            }
            return s.substring(start, i);
        }

        String rest() {
            skip();
            String r = s.substring(i);
            i = s.length();
            return r;
        }

        void end() {
            if (more()) {
                throw new IllegalArgumentException("unexpected argument: " + rest());
            }
        }
    }

    private static ReplayBean bean(String objectName) throws Exception {
        ReplayBean b = BEANS.get(new ObjectName(objectName));
        if (b == null) {
            throw new IllegalArgumentException("no replay bean " + objectName);
        }
        return b;
    }

    private static String execute(String line) throws Exception {
        Args a = new Args(line);
        if (!a.more()) {
            return "err empty command";
        }
        String cmd = a.next("command");
        switch (cmd) {
            case "add": {
                ReplayBean b = ReplayBean.fromCapture(Json.parse(a.rest()));
                register(b);
                return "ok";
            }
            case "remove": {
                ReplayBean b = bean(a.next("object name"));
                a.end();
                SERVER.unregisterMBean(b.name);
                BEANS.remove(b.name);
                return "ok";
            }
            case "set": {
                ReplayBean b = bean(a.next("object name"));
                ReplayBean.Attr attr = b.attr(a.next("attribute"));
                Object v = ReplayBean.valueFromCapture(Json.parse(a.rest()));
                attr.value = v;
                attr.capturedError = null;
                return "ok";
            }
            case "enum": {
                ReplayBean b = bean(a.next("object name"));
                ReplayBean.Attr attr = b.attr(a.next("attribute"));
                String constant = a.next("constant");
                a.end();
                Object cur = attr.value;
                if (!(cur instanceof Enum)) {
                    throw new IllegalArgumentException("attribute " + attr.name + " does not hold an enum now");
                }
                attr.value = ReplayBean.convert(((Enum<?>) cur).getDeclaringClass().getName(), constant);
                attr.capturedError = null;
                return "ok";
            }
            case "throw": {
                ReplayBean b = bean(a.next("object name"));
                ReplayBean.Attr attr = b.attr(a.next("attribute"));
                String msg = a.rest();
                attr.throwMessage = msg.isEmpty() ? "replay: attribute " + attr.name + " fails on purpose" : msg;
                return "ok";
            }
            case "throwbulk": {
                ReplayBean b = bean(a.next("object name"));
                String msg = a.rest();
                b.bulkThrowMessage = msg.isEmpty() ? "replay: getAttributes fails on purpose" : msg;
                return "ok";
            }
            case "clear": {
                ReplayBean b = bean(a.next("object name"));
                if (a.more()) {
                    ReplayBean.Attr attr = b.attr(a.next("attribute"));
                    a.end();
                    attr.throwMessage = null;
                    attr.blockMillis = 0;
                } else {
                    b.clearAll();
                }
                return "ok";
            }
            case "block": {
                ReplayBean b = bean(a.next("object name"));
                ReplayBean.Attr attr = b.attr(a.next("attribute"));
                double seconds = Double.parseDouble(a.next("seconds"));
                a.end();
                attr.blockMillis = Math.round(seconds * 1000.0);
                return "ok";
            }
            case "step": {
                a.end();
                return step();
            }
            case "count":
                a.end();
                return "ok " + BEANS.size();
            case "ping":
                a.end();
                return "ok";
            case "exit": {
                int code = a.more() ? Integer.parseInt(a.next("code")) : 0;
                a.end();
                proto.println("ok");
                proto.flush();
                System.exit(code);
                return "ok"; // not reached
            }
            default: {
                String hostile = Hostile.execute(SERVER, BEANS, cmd, a.rest());
                return hostile != null ? hostile : "err unknown command " + cmd;
            }
        }
    }

    /**
     * Plays the next step of the story: each operation is {"add": bean}, {"remove": name} or
     * {"set": {"bean", "attr", "value"}}, applied in order. Replies "ok <step name>".
     */
    @SuppressWarnings("unchecked")
    private static String step() throws Exception {
        if (storyNext >= STORY.size()) {
            return "err the story is over (" + STORY.size() + " steps)";
        }
        Map<String, Object> st = STORY.get(storyNext++);
        Object ops = st.get("do");
        if (!(ops instanceof List)) {
            throw new IllegalArgumentException("story step " + storyNext + ": no \"do\" array");
        }
        for (Object o : (List<Object>) ops) {
            Map<String, Object> op = (Map<String, Object>) o;
            if (op.containsKey("add")) {
                register(ReplayBean.fromCapture(op.get("add")));
            } else if (op.containsKey("remove")) {
                ReplayBean b = bean((String) op.get("remove"));
                SERVER.unregisterMBean(b.name);
                BEANS.remove(b.name);
            } else if (op.containsKey("set")) {
                Map<String, Object> set = (Map<String, Object>) op.get("set");
                ReplayBean.Attr attr = bean((String) set.get("bean")).attr((String) set.get("attr"));
                attr.value = ReplayBean.valueFromCapture(set.get("value"));
                attr.capturedError = null;
            } else {
                throw new IllegalArgumentException("story step " + storyNext + ": unknown operation " + op.keySet());
            }
        }
        return "ok " + st.get("name");
    }

    private static void register(ReplayBean b) throws Exception {
        if (BEANS.putIfAbsent(b.name, b) != null) {
            throw new IllegalArgumentException("bean already registered: " + b.name);
        }
        try {
            SERVER.registerMBean(b, b.name);
        } catch (Exception e) {
            BEANS.remove(b.name);
            throw e;
        }
    }

    @SuppressWarnings("unchecked")
    private static void loadCapture(Path file) throws Exception {
        Object doc = Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        if (!(doc instanceof Map)) {
            throw new IllegalArgumentException(file + ": a capture is a JSON object");
        }
        Map<String, Object> m = (Map<String, Object>) doc;
        Object format = m.get("format");
        if (format != null && !"ksbridge-capture/1".equals(format)) {
            throw new IllegalArgumentException(file + ": unknown format " + format);
        }
        Object story = m.get("story");
        if (story instanceof List) {
            for (Object st : (List<Object>) story) {
                STORY.add((Map<String, Object>) st);
            }
        }
        Object beans = m.get("beans");
        if (!(beans instanceof List)) {
            throw new IllegalArgumentException(file + ": no \"beans\" array");
        }
        int loaded = 0;
        for (Object b : (List<Object>) beans) {
            // Beans the JVM has itself (java.lang:*, JMImplementation:*...) stay the JVM's own.
            Object name = b instanceof Map ? ((Map<String, Object>) b).get("name") : null;
            if (name instanceof String && SERVER.isRegistered(new ObjectName((String) name))) {
                System.err.println("replay: skipping " + name + ": the JVM already has it");
                skipped++;
                continue;
            }
            ReplayBean bean = ReplayBean.fromCapture(b);
            try {
                register(bean);
            } catch (javax.management.JMException e) {
                System.err.println("replay: skipping " + bean.name + ": " + e);
                skipped++;
                continue;
            }
            loaded++;
        }
        System.err.println("replay: loaded " + loaded + " beans from " + file);
    }

    /** Registers the benchmark shape: processor-node beans with `attrs` Double attributes each. */
    private static void generate(String spec) throws Exception {
        int beans = 2000;
        int attrs = 10;
        for (String part : spec.split(",")) {
            String[] kv = part.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("--generate wants beans=N,attrs=M, got " + spec);
            }
            switch (kv[0].strip()) {
                case "beans":
                    beans = Integer.parseInt(kv[1].strip());
                    break;
                case "attrs":
                    attrs = Integer.parseInt(kv[1].strip());
                    break;
                default:
                    throw new IllegalArgumentException("--generate: unknown key " + kv[0]);
            }
        }
        String client = "bench-" + UUID.nameUUIDFromBytes("ksbridge-replay-bench".getBytes(StandardCharsets.UTF_8));
        Random rnd = new Random(42);
        int threads = 4;
        for (int n = 0; n < beans; n++) {
            int thread = n % threads + 1;
            int subtopology = (n / threads) % 8;
            int partition = (n / (threads * 8)) % 16;
            String name = "kafka.streams:type=stream-processor-node-metrics,thread-id=" + client + "-StreamThread-" + thread
                + ",task-id=" + subtopology + "_" + partition
                + ",processor-node-id=KSTREAM-SOURCE-" + String.format("%010d", n);
            Map<String, ReplayBean.Attr> map = new LinkedHashMap<>();
            for (int k = 0; k < attrs; k++) {
                String attrName = k < BENCH_ATTRS.length ? BENCH_ATTRS[k] : "metric-" + k;
                ReplayBean.Attr attr = new ReplayBean.Attr(attrName, "double", "generated " + attrName);
                // Every third bean has empty windows: its -avg/-min/-max read NaN, as Kafka's do.
                boolean windowed = attrName.endsWith("-avg") || attrName.endsWith("-min") || attrName.endsWith("-max");
                if (windowed && n % 3 == 0) {
                    attr.value = Double.NaN;
                } else if (attrName.endsWith("-total")) {
                    attr.value = (double) rnd.nextInt(1_000_000);
                } else {
                    attr.value = rnd.nextDouble() * 100.0;
                }
                map.put(attrName, attr);
            }
            register(new ReplayBean(new ObjectName(name), ReplayBean.KAFKA_MBEAN_CLASS, map));
        }
        System.err.println("replay: generated " + beans + " beans x " + attrs + " attributes");
    }
}
