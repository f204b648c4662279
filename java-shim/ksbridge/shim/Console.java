package ksbridge.shim;

import java.io.IOException;
import java.lang.management.ClassLoadingMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;
import java.lang.management.MonitorInfo;
import java.lang.management.RuntimeMXBean;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.management.Descriptor;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanParameterInfo;
import javax.management.MBeanServerConnection;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * The JVM console's JNI entry point: platform MXBeans, MBean operations,
 * the DiagnosticCommand and HotSpotDiagnostic MBeans, all over a connection
 * opened by {@link Shim}. Nothing is loaded into the target. Every answer is
 * a JSON text; a failure the user caused (no such bean, operation, command,
 * a bad argument) is answered as {@code {"error":{"kind","message"}}}, and
 * only connection-level failures throw {@link ShimException}.
 */
public final class Console {
    private static final ExecutorService WORKERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ksbridge-console");
        t.setDaemon(true);
        // RMI resolves classes (the stand-in enums) through this loader.
        t.setContextClassLoader(Console.class.getClassLoader());
        return t;
    });

    static final String DCMD = "com.sun.management:type=DiagnosticCommand";
    static final String HOTSPOT = "com.sun.management:type=HotSpotDiagnostic";

    private Console() {}

    /** A failure to report as an error answer, not as an exception. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final String kind;

        Refused(String kind, String message) {
            super(message);
            this.kind = kind;
        }
    }

    /**
     * Runs one console operation on connection {@code id} under a deadline.
     * Operations: operations, invoke, dcmds, dcmd, overview, threads, threadCpu, dumpHeap.
     */
    public static String call(long id, String op, String[] args, long timeoutMs) throws ShimException {
        Conn c = Shim.conn(id);
        c.checkAlive();
        Future<String> f = WORKERS.submit(() -> dispatch(c.mbs(), op, args));
        try {
            return Shim.await(f, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs));
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new ShimException("TIMEOUT", c.target + ": " + op + " did not finish within " + timeoutMs + " ms");
        } catch (Shim.Cancelled e) {
            f.cancel(true);
            throw new ShimException("CANCELLED", c.target + ": " + op + " abandoned, its caller gave up");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShimException("TIMEOUT", c.target + ": interrupted");
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            // MXBean proxies wrap the IOException of a dead connection.
            if (t instanceof java.lang.reflect.UndeclaredThrowableException && t.getCause() != null) t = t.getCause();
            if (t instanceof Refused) {
                Refused r = (Refused) t;
                return new JsonOut().beginObject().key("error").beginObject()
                        .field("kind", r.kind).field("message", r.getMessage())
                        .endObject().endObject().toString();
            }
            if (t instanceof SecurityException) {
                return new JsonOut().beginObject().key("error").beginObject()
                        .field("kind", "DENIED").field("message", ShimException.describe(t))
                        .endObject().endObject().toString();
            }
            if (t instanceof IOException && !(t instanceof java.rmi.UnmarshalException)) {
                throw new ShimException("TARGET_GONE", c.target + ": " + ShimException.describe(t), t);
            }
            throw new ShimException("JAVA", op + " on " + c.target + ": " + ShimException.describe(t), t);
        }
    }

    private static String dispatch(MBeanServerConnection mbs, String op, String[] args) throws Exception {
        switch (op) {
            case "operations": return operations(mbs, arg(args, 0, "*:*"));
            case "invoke": return invoke(mbs, args);
            case "dcmds": return dcmds(mbs);
            case "dcmd": return dcmd(mbs, args);
            case "overview": return overview(mbs);
            case "threads": return threads(mbs);
            case "threadCpu": return threadCpu(mbs, arg(args, 0, null));
            case "dumpHeap": return dumpHeap(mbs, args);
            default: throw new Refused("BAD_ARGUMENT", "unknown console operation " + op);
        }
    }

    private static String arg(String[] args, int i, String dflt) {
        return args != null && args.length > i ? args[i] : dflt;
    }

    private static ObjectName name(String s) throws Refused {
        try {
            return new ObjectName(s);
        } catch (MalformedObjectNameException e) {
            throw new Refused("BAD_ARGUMENT", "malformed ObjectName " + s + ": " + e.getMessage());
        }
    }

    private static MBeanInfo info(MBeanServerConnection mbs, ObjectName n) throws Exception {
        try {
            return mbs.getMBeanInfo(n);
        } catch (InstanceNotFoundException e) {
            throw new Refused("NOT_FOUND", "no MBean " + n);
        }
    }

    // ---- MBean operations ------------------------------------------------

    /** Every bean matching the pattern with its operations and their signatures. */
    private static String operations(MBeanServerConnection mbs, String pattern) throws Exception {
        JsonOut j = new JsonOut().beginArray();
        for (ObjectName n : new TreeSet<>(mbs.queryNames(name(pattern), null))) {
            MBeanInfo info;
            try {
                info = mbs.getMBeanInfo(n);
            } catch (InstanceNotFoundException e) {
                continue; // unregistered meanwhile
            }
            j.beginObject().field("name", n.toString()).key("operations").beginArray();
            for (MBeanOperationInfo o : info.getOperations()) {
                j.beginObject().field("name", o.getName()).field("returnType", o.getReturnType())
                        .field("impact", impact(o.getImpact())).field("description", o.getDescription());
                j.key("params").beginArray();
                for (MBeanParameterInfo p : o.getSignature()) {
                    j.beginObject().field("name", p.getName()).field("type", p.getType()).endObject();
                }
                j.endArray().endObject();
            }
            j.endArray().endObject();
        }
        return j.endArray().toString();
    }

    private static String impact(int i) {
        switch (i) {
            case MBeanOperationInfo.INFO: return "INFO";
            case MBeanOperationInfo.ACTION: return "ACTION";
            case MBeanOperationInfo.ACTION_INFO: return "ACTION_INFO";
            default: return "UNKNOWN";
        }
    }

    /**
     * args: objectName, operation, then the arguments as strings. The
     * operation is chosen by name and argument count; when that is ambiguous
     * it may be written with its signature, {@code name(int,java.lang.String)}.
     */
    private static String invoke(MBeanServerConnection mbs, String[] args) throws Exception {
        if (args.length < 2) throw new Refused("BAD_ARGUMENT", "invoke needs an ObjectName and an operation");
        ObjectName n = name(args[0]);
        String opName = args[1];
        String wantSig = null;
        int paren = opName.indexOf('(');
        if (paren >= 0 && opName.endsWith(")")) {
            wantSig = opName.substring(paren + 1, opName.length() - 1).replace(" ", "");
            opName = opName.substring(0, paren);
        }
        String[] values = Arrays.copyOfRange(args, 2, args.length);
        MBeanInfo info = info(mbs, n);
        List<MBeanOperationInfo> named = new ArrayList<>();
        List<MBeanOperationInfo> fits = new ArrayList<>();
        for (MBeanOperationInfo o : info.getOperations()) {
            if (!o.getName().equals(opName)) continue;
            named.add(o);
            if (o.getSignature().length != values.length) continue;
            if (wantSig != null && !wantSig.equals(signature(o, false)) && !wantSig.equals(signature(o, true))) continue;
            fits.add(o);
        }
        if (named.isEmpty()) throw new Refused("NOT_FOUND", n + " has no operation " + opName);
        if (fits.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (MBeanOperationInfo o : named) sb.append(' ').append(o.getName()).append('(').append(signature(o, false)).append(')');
            throw new Refused("BAD_ARGUMENT", opName + " takes other arguments than the " + values.length + " given; declared:" + sb);
        }
        if (fits.size() > 1) {
            StringBuilder sb = new StringBuilder();
            for (MBeanOperationInfo o : fits) sb.append(' ').append(o.getName()).append('(').append(signature(o, false)).append(')');
            throw new Refused("BAD_ARGUMENT", opName + " is overloaded; name one signature:" + sb);
        }
        MBeanOperationInfo o = fits.get(0);
        MBeanParameterInfo[] sig = o.getSignature();
        Object[] params = new Object[sig.length];
        String[] types = new String[sig.length];
        for (int i = 0; i < sig.length; i++) {
            types[i] = sig[i].getType();
            params[i] = convert(values[i], types[i], sig[i].getName());
        }
        Object result;
        try {
            result = mbs.invoke(n, o.getName(), params, types);
        } catch (javax.management.MBeanException | javax.management.ReflectionException e) {
            throw new Refused("INVOKE_FAILED", o.getName() + " threw " + ShimException.describe(e));
        } catch (javax.management.RuntimeOperationsException e) {
            throw new Refused("INVOKE_FAILED", o.getName() + " threw " + ShimException.describe(e));
        }
        return new JsonOut().beginObject().field("operation", o.getName()).field("returnType", o.getReturnType())
                .field("resultClass", result == null ? null : result.getClass().getName())
                .field("result", result).endObject().toString();
    }

    private static String signature(MBeanOperationInfo o, boolean simple) {
        StringBuilder sb = new StringBuilder();
        for (MBeanParameterInfo p : o.getSignature()) {
            if (sb.length() > 0) sb.append(',');
            String t = p.getType();
            sb.append(simple ? t.substring(t.lastIndexOf('.') + 1) : t);
        }
        return sb.toString();
    }

    /** Converts a command-line string to the declared parameter type. */
    static Object convert(String s, String type, String param) throws Refused {
        try {
            switch (type) {
                case "int": case "java.lang.Integer": return Integer.valueOf(s.trim());
                case "long": case "java.lang.Long": return Long.valueOf(s.trim());
                case "short": case "java.lang.Short": return Short.valueOf(s.trim());
                case "byte": case "java.lang.Byte": return Byte.valueOf(s.trim());
                case "double": case "java.lang.Double": return Double.valueOf(s.trim());
                case "float": case "java.lang.Float": return Float.valueOf(s.trim());
                case "boolean": case "java.lang.Boolean": {
                    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
                    if (t.equals("true")) return Boolean.TRUE;
                    if (t.equals("false")) return Boolean.FALSE;
                    throw new IllegalArgumentException("expected true or false");
                }
                case "char": case "java.lang.Character":
                    if (s.length() != 1) throw new IllegalArgumentException("expected one character");
                    return s.charAt(0);
                case "java.lang.String": case "java.lang.Object": return s;
                case "javax.management.ObjectName": return new ObjectName(s);
                case "[Ljava.lang.String;": return s.isEmpty() ? new String[0] : s.split(",", -1);
                case "[I": {
                    String[] p = s.isEmpty() ? new String[0] : s.split(",");
                    int[] out = new int[p.length];
                    for (int i = 0; i < p.length; i++) out[i] = Integer.parseInt(p[i].trim());
                    return out;
                }
                case "[J": {
                    String[] p = s.isEmpty() ? new String[0] : s.split(",");
                    long[] out = new long[p.length];
                    for (int i = 0; i < p.length; i++) out[i] = Long.parseLong(p[i].trim());
                    return out;
                }
                default:
                    throw new Refused("BAD_ARGUMENT", "parameter " + param + " has type " + type
                            + ", which cannot be given on the command line");
            }
        } catch (Refused r) {
            throw r;
        } catch (Exception e) {
            throw new Refused("BAD_ARGUMENT", "parameter " + param + " (" + type + "): cannot convert \""
                    + s + "\": " + e.getMessage());
        }
    }

    // ---- DiagnosticCommand ------------------------------------------------

    /** The DiagnosticCommand operations by their jcmd name (descriptor field dcmd.name). */
    private static Map<String, MBeanOperationInfo> dcmdOps(MBeanServerConnection mbs) throws Exception {
        MBeanInfo info;
        try {
            info = mbs.getMBeanInfo(new ObjectName(DCMD));
        } catch (InstanceNotFoundException e) {
            throw new Refused("NOT_FOUND", "the target has no DiagnosticCommand MBean (not a HotSpot JVM, or older than JDK 8)");
        }
        Map<String, MBeanOperationInfo> out = new java.util.TreeMap<>();
        for (MBeanOperationInfo o : info.getOperations()) {
            Descriptor d = o.getDescriptor();
            Object cmd = d == null ? null : d.getFieldValue("dcmd.name");
            out.put(cmd == null ? o.getName() : cmd.toString(), o);
        }
        return out;
    }

    private static String dcmds(MBeanServerConnection mbs) throws Exception {
        JsonOut j = new JsonOut().beginArray();
        for (Map.Entry<String, MBeanOperationInfo> e : dcmdOps(mbs).entrySet()) {
            Descriptor d = e.getValue().getDescriptor();
            Object desc = d == null ? null : d.getFieldValue("dcmd.description");
            j.beginObject().field("name", e.getKey()).field("operation", e.getValue().getName())
                    .field("description", desc == null ? e.getValue().getDescription() : desc).endObject();
        }
        return j.endArray().toString();
    }

    /** args: the jcmd command name (e.g. VM.flags), then its arguments. */
    private static String dcmd(MBeanServerConnection mbs, String[] args) throws Exception {
        if (args.length < 1) throw new Refused("BAD_ARGUMENT", "dcmd needs a command");
        String text = runDcmd(mbs, args[0], Arrays.copyOfRange(args, 1, args.length));
        return new JsonOut().beginObject().field("command", args[0]).field("output", text).endObject().toString();
    }

    static String runDcmd(MBeanServerConnection mbs, String command, String[] cmdArgs) throws Exception {
        MBeanOperationInfo o = dcmdOps(mbs).get(command);
        if (o == null) throw new Refused("NOT_FOUND", "no diagnostic command " + command + " (run dcmd without a command to list them)");
        Object r;
        try {
            if (o.getSignature().length == 0) {
                if (cmdArgs.length > 0) throw new Refused("BAD_ARGUMENT", command + " takes no arguments");
                r = mbs.invoke(new ObjectName(DCMD), o.getName(), new Object[0], new String[0]);
            } else {
                r = mbs.invoke(new ObjectName(DCMD), o.getName(), new Object[] {cmdArgs},
                        new String[] {String[].class.getName()});
            }
        } catch (javax.management.MBeanException | javax.management.ReflectionException
                | javax.management.RuntimeOperationsException e) {
            throw new Refused("INVOKE_FAILED", command + ": " + ShimException.describe(e));
        }
        return r == null ? "" : r.toString();
    }

    // ---- Overview (VisualVM's Overview and Monitor tabs) -----------------

    private static <T> T proxy(MBeanServerConnection mbs, String name, Class<T> type) throws IOException {
        return ManagementFactory.newPlatformMXBeanProxy(mbs, name, type);
    }

    private static void usage(JsonOut j, String key, MemoryUsage u) {
        j.key(key);
        if (u == null) {
            j.value(null);
            return;
        }
        j.beginObject().field("init", u.getInit()).field("used", u.getUsed())
                .field("committed", u.getCommitted()).field("max", u.getMax()).endObject();
    }

    /** One attribute or null when the platform does not have it (e.g. Unix-only ones). */
    private static Object attr(MBeanServerConnection mbs, String bean, String attr) throws IOException {
        try {
            return mbs.getAttribute(new ObjectName(bean), attr);
        } catch (IOException e) {
            if (e instanceof java.rmi.UnmarshalException) return null;
            throw e;
        } catch (Exception e) {
            return null;
        }
    }

    /** Every figure of `ksbridge jvm`, read in one go (about 10 round trips). */
    private static String overview(MBeanServerConnection mbs) throws Exception {
        JsonOut j = new JsonOut().beginObject();
        j.field("sampledAtMs", System.currentTimeMillis());
        RuntimeMXBean rt = proxy(mbs, ManagementFactory.RUNTIME_MXBEAN_NAME, RuntimeMXBean.class);
        j.key("runtime").beginObject()
                .field("name", rt.getName()).field("vmName", rt.getVmName()).field("vmVendor", rt.getVmVendor())
                .field("vmVersion", rt.getVmVersion()).field("specVersion", rt.getSpecVersion())
                .field("uptimeMs", rt.getUptime()).field("startTimeMs", rt.getStartTime())
                .field("inputArguments", rt.getInputArguments())
                .field("systemProperties", rt.getSystemProperties()).endObject();
        j.key("os").beginObject();
        for (String a : new String[] {"Name", "Arch", "Version", "AvailableProcessors", "ProcessCpuTime",
                "SystemLoadAverage", "OpenFileDescriptorCount", "MaxFileDescriptorCount",
                "TotalPhysicalMemorySize", "FreePhysicalMemorySize", "CommittedVirtualMemorySize"}) {
            j.field(a, attr(mbs, ManagementFactory.OPERATING_SYSTEM_MXBEAN_NAME, a));
        }
        j.endObject();
        MemoryMXBean mem = proxy(mbs, ManagementFactory.MEMORY_MXBEAN_NAME, MemoryMXBean.class);
        j.key("memory").beginObject();
        usage(j, "heap", mem.getHeapMemoryUsage());
        usage(j, "nonHeap", mem.getNonHeapMemoryUsage());
        j.field("pendingFinalization", mem.getObjectPendingFinalizationCount()).endObject();
        j.key("pools").beginArray();
        for (ObjectName n : new TreeSet<>(mbs.queryNames(new ObjectName(ManagementFactory.MEMORY_POOL_MXBEAN_DOMAIN_TYPE + ",*"), null))) {
            MemoryPoolMXBean p = proxy(mbs, n.toString(), MemoryPoolMXBean.class);
            try {
                j.beginObject().field("name", p.getName()).field("type", p.getType().name());
                usage(j, "usage", p.getUsage());
                usage(j, "peak", p.getPeakUsage());
                j.endObject();
            } catch (java.lang.reflect.UndeclaredThrowableException e) {
                if (e.getCause() instanceof InstanceNotFoundException) continue;
                throw e;
            }
        }
        j.endArray();
        j.key("gc").beginArray();
        for (ObjectName n : new TreeSet<>(mbs.queryNames(new ObjectName(ManagementFactory.GARBAGE_COLLECTOR_MXBEAN_DOMAIN_TYPE + ",*"), null))) {
            GarbageCollectorMXBean g = proxy(mbs, n.toString(), GarbageCollectorMXBean.class);
            j.beginObject().field("name", g.getName()).field("count", g.getCollectionCount())
                    .field("timeMs", g.getCollectionTime()).field("pools", g.getMemoryPoolNames()).endObject();
        }
        j.endArray();
        ThreadMXBean th = proxy(mbs, ManagementFactory.THREAD_MXBEAN_NAME, ThreadMXBean.class);
        Map<Thread.State, Integer> byState = new EnumMap<>(Thread.State.class);
        for (Thread.State s : Thread.State.values()) byState.put(s, 0);
        for (ThreadInfo ti : th.getThreadInfo(th.getAllThreadIds(), 0)) {
            if (ti != null) byState.merge(ti.getThreadState(), 1, Integer::sum);
        }
        j.key("threads").beginObject().field("live", th.getThreadCount()).field("daemon", th.getDaemonThreadCount())
                .field("peak", th.getPeakThreadCount()).field("totalStarted", th.getTotalStartedThreadCount())
                .field("cpuTimeSupported", th.isThreadCpuTimeSupported())
                .field("cpuTimeEnabled", th.isThreadCpuTimeSupported() && th.isThreadCpuTimeEnabled())
                .field("byState", byState).endObject();
        ClassLoadingMXBean cl = proxy(mbs, ManagementFactory.CLASS_LOADING_MXBEAN_NAME, ClassLoadingMXBean.class);
        j.key("classes").beginObject().field("loaded", cl.getLoadedClassCount())
                .field("totalLoaded", cl.getTotalLoadedClassCount()).field("unloaded", cl.getUnloadedClassCount()).endObject();
        String flags = null;
        try {
            flags = runDcmd(mbs, "VM.flags", new String[0]);
        } catch (Refused r) {
            // No DiagnosticCommand MBean: flags stay unknown.
        }
        j.field("vmFlags", flags);
        return j.endObject().toString();
    }

    // ---- Threads ----------------------------------------------------------

    private static long[] cpuTimes(MBeanServerConnection mbs, ThreadMXBean th, long[] ids) throws IOException {
        if (!th.isThreadCpuTimeSupported() || !th.isThreadCpuTimeEnabled()) return null;
        try {
            com.sun.management.ThreadMXBean sun =
                    proxy(mbs, ManagementFactory.THREAD_MXBEAN_NAME, com.sun.management.ThreadMXBean.class);
            return sun.getThreadCpuTime(ids);
        } catch (RuntimeException e) {
            long[] out = new long[ids.length];
            for (int i = 0; i < ids.length; i++) out[i] = th.getThreadCpuTime(ids[i]);
            return out;
        }
    }

    /**
     * Per-thread CPU time, one sample: {enabled, threads: [{id, name, cpuNs}]};
     * with a regular expression, only the threads whose whole name matches it.
     */
    private static String threadCpu(MBeanServerConnection mbs, String nameRegex) throws Exception {
        java.util.regex.Pattern only;
        try {
            only = nameRegex == null ? null : java.util.regex.Pattern.compile(nameRegex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new Refused("BAD_ARGUMENT", "bad thread name pattern: " + e.getMessage());
        }
        ThreadMXBean th = proxy(mbs, ManagementFactory.THREAD_MXBEAN_NAME, ThreadMXBean.class);
        long[] all = th.getAllThreadIds();
        ThreadInfo[] infos = th.getThreadInfo(all, 0);
        long[] ids = all;
        if (only != null) {
            List<ThreadInfo> kept = new ArrayList<>();
            for (ThreadInfo ti : infos) {
                if (ti != null && only.matcher(ti.getThreadName()).matches()) kept.add(ti);
            }
            infos = kept.toArray(new ThreadInfo[0]);
            ids = new long[infos.length];
            for (int i = 0; i < infos.length; i++) ids[i] = infos[i].getThreadId();
        }
        long[] cpu = ids.length == 0 ? new long[0] : cpuTimes(mbs, th, ids);
        JsonOut j = new JsonOut().beginObject().field("sampledAtMs", System.currentTimeMillis())
                .field("enabled", cpu != null).key("threads").beginArray();
        for (int i = 0; i < ids.length; i++) {
            if (infos[i] == null) continue; // ended meanwhile
            j.beginObject().field("id", ids[i]).field("name", infos[i].getThreadName())
                    .field("state", infos[i].getThreadState().name())
                    .field("cpuNs", cpu == null || cpu[i] < 0 ? null : cpu[i]).endObject();
        }
        return j.endArray().endObject().toString();
    }

    private static void lock(JsonOut j, String key, LockInfo l) {
        j.key(key);
        if (l == null) {
            j.value(null);
            return;
        }
        j.beginObject().field("class", l.getClassName())
                .field("identity", Integer.toHexString(l.getIdentityHashCode())).endObject();
    }

    /** The thread dump (locked monitors and synchronizers) with CPU times and deadlocks. */
    private static String threads(MBeanServerConnection mbs) throws Exception {
        ThreadMXBean th = proxy(mbs, ManagementFactory.THREAD_MXBEAN_NAME, ThreadMXBean.class);
        long[] deadlocked = th.isSynchronizerUsageSupported() ? th.findDeadlockedThreads() : th.findMonitorDeadlockedThreads();
        ThreadInfo[] infos = th.dumpAllThreads(th.isObjectMonitorUsageSupported(), th.isSynchronizerUsageSupported());
        long[] ids = new long[infos.length];
        for (int i = 0; i < infos.length; i++) ids[i] = infos[i].getThreadId();
        long[] cpu = cpuTimes(mbs, th, ids);
        JsonOut j = new JsonOut().beginObject().field("sampledAtMs", System.currentTimeMillis())
                .field("cpuEnabled", cpu != null)
                .field("deadlocked", deadlocked == null ? new long[0] : deadlocked).key("threads").beginArray();
        for (int i = 0; i < infos.length; i++) {
            ThreadInfo t = infos[i];
            j.beginObject().field("id", t.getThreadId()).field("name", t.getThreadName())
                    .field("state", t.getThreadState().name()).field("daemon", daemon(t))
                    .field("priority", priority(t))
                    .field("cpuNs", cpu == null || cpu[i] < 0 ? null : cpu[i])
                    .field("blockedCount", t.getBlockedCount()).field("blockedTimeMs", t.getBlockedTime())
                    .field("waitedCount", t.getWaitedCount()).field("waitedTimeMs", t.getWaitedTime())
                    .field("inNative", t.isInNative()).field("suspended", t.isSuspended());
            lock(j, "lock", t.getLockInfo());
            j.field("lockOwnerId", t.getLockOwnerId()).field("lockOwnerName", t.getLockOwnerName());
            j.key("stack").beginArray();
            for (StackTraceElement e : t.getStackTrace()) {
                j.beginObject().field("class", e.getClassName()).field("method", e.getMethodName())
                        .field("file", e.getFileName()).field("line", e.getLineNumber())
                        .field("native", e.isNativeMethod()).endObject();
            }
            j.endArray().key("lockedMonitors").beginArray();
            for (MonitorInfo m : t.getLockedMonitors()) {
                j.beginObject().field("class", m.getClassName())
                        .field("identity", Integer.toHexString(m.getIdentityHashCode()))
                        .field("depth", m.getLockedStackDepth()).endObject();
            }
            j.endArray().key("lockedSynchronizers").beginArray();
            for (LockInfo l : t.getLockedSynchronizers()) {
                j.beginObject().field("class", l.getClassName())
                        .field("identity", Integer.toHexString(l.getIdentityHashCode())).endObject();
            }
            j.endArray().endObject();
        }
        return j.endArray().endObject().toString();
    }

    /** ThreadInfo.isDaemon is JDK 9+; the shim compiles for 11, the target may be 8. */
    private static Object daemon(ThreadInfo t) {
        try {
            return t.isDaemon();
        } catch (Throwable e) {
            return null;
        }
    }

    private static Object priority(ThreadInfo t) {
        try {
            return t.getPriority();
        } catch (Throwable e) {
            return null;
        }
    }

    // ---- Heap dump ----------------------------------------------------------

    /** args: file (on the target's host), live ("true"/"false"). */
    private static String dumpHeap(MBeanServerConnection mbs, String[] args) throws Exception {
        if (args.length < 1) throw new Refused("BAD_ARGUMENT", "dumpHeap needs a file");
        String file = args[0];
        boolean live = !"false".equals(arg(args, 1, "true"));
        try {
            mbs.invoke(new ObjectName(HOTSPOT), "dumpHeap", new Object[] {file, live},
                    new String[] {String.class.getName(), boolean.class.getName()});
        } catch (InstanceNotFoundException e) {
            throw new Refused("NOT_FOUND", "the target has no HotSpotDiagnostic MBean");
        } catch (javax.management.MBeanException | javax.management.ReflectionException
                | javax.management.RuntimeOperationsException e) {
            throw new Refused("INVOKE_FAILED", "dumpHeap " + file + ": " + ShimException.describe(e));
        }
        return new JsonOut().beginObject().field("file", file).field("live", live).endObject().toString();
    }
}
