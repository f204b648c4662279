#!/usr/bin/env python3
"""The whole benchmark in one run (driven by scripts/bench.sh, which builds).

Every figure is measured side by side in this run and printed as a table of
ratios and absolute numbers with the machine, versions, date and load:

  model      ksbridge's model, merge and encoders on the 2,000-bean x
             10-attribute snapshot (examples/bench_model)
  scrape     warm /metrics of a replay JVM with that shape, alternating one
             scrape each between: ksbridge (served attributes only),
             ksbridge reading every attribute (the old reader), the
             jmx_exporter agent inside a twin JVM with a catch-all rule, and
             with a Kafka Streams rule set; latency, CPU of ksbridge and of the
             target per scrape (/proc), bytes the target moved per scrape
             (/proc/<pid>/io), RSS of ksbridge and of the target (before
             attach, after attach, after the scrapes)
  targets    N small replay JVMs (100 beans each) in one `ksbridge serve`:
             latency, CPU per target-scrape, ksbridge RSS and threads
  flags      ksbridge's RSS and latency per embedded-JVM flag set
  growth     what ksbridge costs its target's memory (attach, first read,
             scrapes; resident heap and NMT categories) against the
             jmx_exporter agent's growth at the same -Xmx
  lag        scripts/bench-lag.sh, when asked (KSB_BENCH_LAG=GROUPS,PARTITIONS)

Usage: bench.py --bin KSBRIDGE --model-bin BENCH_MODEL --replay-classes DIR
                [--agent JAR] [--quick] [--json FILE]
Every process started here is stopped at the end (replay JVMs exit when
their stdin closes).
"""

import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
STARTED = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mib(pid):
    return status(pid, "VmRSS") / 1024


def io_bytes(pid):
    """Bytes the process read and wrote through syscalls (sockets included)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            d = dict(line.split(": ") for line in f.read().splitlines())
        return int(d["rchar"]) + int(d["wchar"])
    except OSError:
        return 0


def start(args, name, **kw):
    p = subprocess.Popen(args, stdin=subprocess.PIPE, **kw)
    STARTED.append((name, p))
    return p


def stop_all():
    for _, p in reversed(STARTED):
        try:
            if p.stdin:
                p.stdin.close()
        except OSError:
            pass
        if p.poll() is None:
            p.terminate()
    for _, p in STARTED:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    STARTED.clear()


def replay(classes, beans, attrs, heap="256m", agent=None, jvm_options=()):
    """A replay JVM with the generated shape; returns (process, pid)."""
    cmd = ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", *jvm_options]
    if agent:
        cmd.append(f"-javaagent:{agent}")
    cmd += ["-cp", classes, "ksbridge.replay.Replay", "--generate", f"beans={beans},attrs={attrs}"]
    p = start(cmd, "replay", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("READY"):
            return p, p.pid
    raise RuntimeError(f"replay JVM did not start: {' '.join(cmd)}")


def serve(binary, targets, extra=(), env=None):
    port = free_port()
    cmd = [binary, "serve", "--web.listen-address", f"127.0.0.1:{port}", "--no-group.jvm"]
    for t in targets:
        cmd += ["--target", str(t)]
    cmd += list(extra)
    p = start(cmd, "ksbridge", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", p)
    return p, url + "/metrics"


def wait_http(url, proc=None, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def wait_port(port, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def scrape(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.perf_counter() - t, body


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p95(xs):
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))] if s else float("nan")


# ---------------------------------------------------------------- parts


def part_model(model_bin, quick):
    out = subprocess.run(
        [model_bin, "--iterations", "5" if quick else "21"] + (["--beans", "200"] if quick else []),
        check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def part_scrape(a, quick):
    """Alternating scrapes of one shape by ksbridge (two modes) and the agent."""
    beans, attrs, rounds = (200, 10, 3) if quick else (2000, 10, a.rounds)
    peers = []  # (label, target pid, url, ksbridge pid or None, target rss before attach)
    attach_only = {}  # label -> target RSS after attaching, before any Streams read
    for label, extra in (("ksbridge", ()), ("ksbridge_all_attributes", ("--bench.all-attributes",))):
        _, pid = replay(a.replay_classes, beans, attrs)
        time.sleep(0.5)
        before = rss_mib(pid)
        # Attach alone (the local management agent starts, one small bean is
        # read), so the target's growth splits into attach and reads.
        subprocess.run([a.bin, "get", str(pid), "java.lang:type=Runtime", "Uptime"],
                       capture_output=True, timeout=120)
        time.sleep(0.5)
        attach_only[label] = rss_mib(pid)
        proc, url = serve(a.bin, [pid], extra)
        peers.append([label, pid, url, proc.pid, before])
    if a.agent:
        rules = {
            "jmx_exporter_catch_all": os.path.join(a.work, "catch-all.yaml"),
            "jmx_exporter_streams_rules": os.path.join(ROOT, "scripts/bench/jmx_exporter-streams.yaml"),
        }
        with open(rules["jmx_exporter_catch_all"], "w") as f:
            f.write('rules:\n  - pattern: ".*"\n')
        for label, cfg in rules.items():
            port = free_port()
            _, pid = replay(a.replay_classes, beans, attrs, agent=f"{a.agent}=127.0.0.1:{port}:{cfg}")
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url)
            peers.append([label, pid, url, None, None])
    rows = {p[0]: {"lat": [], "tcpu": [], "kcpu": [], "io": [], "bytes": 0, "samples": 0} for p in peers}
    # First scrape: attach + first read (timed apart), then the agent's warm-up.
    for label, pid, url, kpid, before in peers:
        t, body = scrape(url)
        rows[label]["first_s"] = t
        rows[label]["target_rss_before_attach"] = before
        rows[label]["target_rss_after_attach"] = rss_mib(pid)
        for _ in range(2):
            scrape(url)
    for _ in range(rounds):
        for label, pid, url, kpid, _ in peers:
            c0, i0 = cpu_s(pid), io_bytes(pid)
            k0 = cpu_s(kpid) if kpid else 0
            t, body = scrape(url)
            r = rows[label]
            r["lat"].append(t)
            r["tcpu"].append(cpu_s(pid) - c0)
            r["io"].append(io_bytes(pid) - i0)
            if kpid:
                r["kcpu"].append(cpu_s(kpid) - k0)
            r["bytes"] = len(body)
            r["samples"] = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    time.sleep(0.5)  # RSS between scrapes: after the trim that follows an answer
    out = {}
    for label, pid, url, kpid, _ in peers:
        r = rows[label]
        out[label] = {
            "median_ms": median(r["lat"]) * 1e3,
            "p95_ms": p95(r["lat"]) * 1e3,
            "first_scrape_ms": r["first_s"] * 1e3,
            "target_cpu_ms": statistics.mean(r["tcpu"]) * 1e3,
            "ksbridge_cpu_ms": statistics.mean(r["kcpu"]) * 1e3 if r["kcpu"] else None,
            "target_io_kib": statistics.mean(r["io"]) / 1024,
            "exposition_bytes": r["bytes"],
            "samples": r["samples"],
            "ksbridge_rss_mib": rss_mib(kpid) if kpid else None,
            "target_rss_before_attach_mib": r["target_rss_before_attach"],
            "target_rss_after_attach_only_mib": attach_only.get(label),
            "target_rss_after_attach_mib": r["target_rss_after_attach"],
            "target_rss_after_scrapes_mib": rss_mib(pid),
        }
    stop_all()
    return {"beans": beans, "attrs": attrs, "rounds": rounds, "peers": out}


PERF_HZ = 999


def profile_category(side, dso, sym):
    """The part of a scrape a perf sample belongs to, from its object and symbol."""
    base = os.path.basename(dso)
    name = sym.replace("/", ".")
    if base.startswith("perf-") or dso.startswith("[JIT]") or (dso == "[unknown]" and name.startswith("L")):
        if "Interpreter" in name:
            return "Java interpreter"
        if "ksbridge.shim" in name:
            return "shim (ksbridge.shim: per-bean work, wire encoding)"
        if any(k in name for k in ("java.io.Object", "ObjectStreamClass", "java.io.Bits", "java.io.Data",
                                    "java.io.ByteArray", "java.io.BufferedInputStream", "jdk.internal.reflect")):
            return "Java serialization"
        if any(k in name for k in ("sun.rmi", "java.rmi")):
            return "RMI transport"
        if "RmiFloor" in name:
            return "the floor client's own code"
        if any(k in name for k in ("javax.management", "com.sun.jmx", "kafka", "ksbridge.replay")):
            return "JMX (MBean server, attribute lists, the beans' getters)"
        if any(k in name for k in ("StubRoutines", "stub", "Stub", "vtable", "itable", "adapter")):
            return "JVM stubs"
        return "Java, other JDK code (collections, strings, NIO)"
    if base == "[kernel.kallsyms]" or dso.startswith("[kernel"):
        return "kernel (loopback TCP, scheduling, page faults)"
    if base.startswith("libjvm"):
        if sym.startswith("jni_") or "JNI" in sym:
            return "JNI crossing (libjvm)"
        if any(k in sym for k in ("Serial", "DefNew", "Tenured", "MarkSweep", "GenCollect", "Generation",
                                  "OopClosure", "oop_iterate", "ScanClosure", "Scavenge", "G1")):
            return "GC"
        if any(k in sym for k in ("Compil", "LIR", "C1", "Instruction", "GraphBuilder", "ciMethod",
                                  "ciObject", "Linear", "Optimizer", "ValueStack")):
            return "JIT compiler"
        if "Interpreter" in sym or "Bytecode" in sym:
            return "Java interpreter"
        return "JVM runtime (allocation, locks, class data, safepoints)"
    if side == "ksbridge" and base.startswith(("ksbridge", "ksb")):
        if "ksbridge::streams" in sym:
            return "model (Rust)"
        if "ksbridge::exposition" in sym:
            return "merge + encoding (Rust)"
        if "jni::" in sym or "ksbridge::jvm" in sym:
            return "JNI crossing (Rust)"
        if "ksbridge::jmx" in sym:
            return "wire decoding, snapshot (Rust)"
        if any(k in sym for k in ("hyper", "axum", "tower", "http")):
            return "HTTP (Rust)"
        if "tokio" in sym:
            return "tokio runtime"
        return "Rust, other (allocator, std)"
    if base.startswith("libc"):
        return "libc (malloc, memcpy)"
    return base or "unknown"


def perf_parts(data, sides, reads, map_pids):
    """perf samples of `data` summed by side (pid -> name) and part of a
    read (`profile_category`), in ms per read; removes the JVMs' perf maps."""
    script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,ip,sym,dso"],
                            capture_output=True, text=True, errors="replace").stdout
    if not os.environ.get("KSB_BENCH_KEEP_MAPS"):
        for p in map_pids:
            try:
                os.remove(f"/tmp/perf-{p}.map")
            except OSError:
                pass
    counts = {}
    for line in script.splitlines():
        head, _, rest = line.strip().partition(" ")
        try:
            side = sides.get(int(head))
        except ValueError:
            continue
        if side is None:
            continue
        rest = rest.strip().partition(" ")[2].strip()  # after the address
        dso = rest[rest.rfind("(") + 1:-1] if rest.endswith(")") else "unknown"
        sym = rest[:rest.rfind("(")].strip() if rest.endswith(")") else rest
        cat = profile_category(side, dso, sym)
        counts[(side, cat)] = counts.get((side, cat), 0) + 1
    return [{"side": side, "part": cat, "samples": n, "ms_per_scrape": n / PERF_HZ * 1e3 / reads}
            for (side, cat), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1]))]


def profile_scrapes(peer, work, scrapes=30):
    """Where one scrape's CPU goes on both sides: `perf record` of ksbridge and
    the target during `scrapes` scrapes, both JVMs' JIT code named through
    `jcmd PID Compiler.perfmap`, samples summed into the parts of a scrape."""
    label, pid, url, kpid, _ = peer
    data = os.path.join(work, "perf.data")
    rec = subprocess.Popen(["perf", "record", "-F", str(PERF_HZ), "-o", data, "-p", f"{kpid},{pid}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for _ in range(scrapes):
        scrape(url)
    rec.send_signal(2)
    rec.wait(timeout=60)
    for p in (kpid, pid):
        # The embedded JVM answers jcmd only with an attach listener
        # (serve was started with -XX:+StartAttachListener for this run).
        subprocess.run(["jcmd", str(p), "Compiler.perfmap"], capture_output=True, timeout=60)
    rows = perf_parts(data, {kpid: "ksbridge", pid: "target"}, scrapes, [kpid, pid])
    return {"ksbridge_pid": kpid, "target_pid": pid, "scrapes": scrapes, "parts": rows}


def measure_targets(binary, pids, n, quick):
    """One `serve` of `binary` over the replay JVMs `pids`: warm, then time."""
    rounds = 2 if quick else 10
    proc, url = serve(binary, pids)
    # Warm every target's JIT (RMI server, serialization) as in a long
    # run: a cold target costs several times its warm CPU per read.
    for _ in range(2 if quick else (4 if n > 10 else 10)):
        scrape(url)
    k0 = cpu_s(proc.pid)
    t0 = [cpu_s(p) for p in pids]
    w0 = time.perf_counter()
    lat = []
    for _ in range(rounds):
        t, _ = scrape(url)
        lat.append(t)
    wall = time.perf_counter() - w0
    time.sleep(0.5)  # RSS between scrapes: after the trim that follows an answer
    kcpu = cpu_s(proc.pid) - k0
    tcpu = sum(cpu_s(p) - c for p, c in zip(pids, t0))
    scrapes = rounds * n
    cores = os.cpu_count() or 1
    row = {
        "targets": n,
        "median_ms": median(lat) * 1e3,
        "p95_ms": p95(lat) * 1e3,
        "ksbridge_cpu_ms_per_target_scrape": kcpu / scrapes * 1e3,
        "target_cpu_ms_per_target_scrape": tcpu / scrapes * 1e3,
        "wall_over_cpu_per_core": wall / ((kcpu + tcpu) / cores) if kcpu + tcpu > 0 else None,
        "ksbridge_rss_mib": rss_mib(proc.pid),
        "ksbridge_threads": status(proc.pid, "Threads"),
    }
    proc.terminate()
    proc.wait()
    return row


def part_targets(a, quick):
    """N small replay JVMs in one serve: latency, CPU per target-scrape, RSS.

    With --baseline-bin, that binary serves the same JVMs in turn with this
    one (baseline, this, and for up to 10 targets once more each), so CPU
    per target-scrape compares before and after on the same targets."""
    counts = [1, 2] if quick else [int(n) for n in a.targets.split(",")]
    out, base = [], []
    for n in counts:
        pids = [replay(a.replay_classes, 100, 10, heap="48m")[1] for _ in range(n)]
        turns = 1 if (quick or n > 10) else 2
        runs, base_runs = [], []
        for _ in range(turns):
            if a.baseline_bin:
                base_runs.append(measure_targets(a.baseline_bin, pids, n, quick))
            runs.append(measure_targets(a.bin, pids, n, quick))
        out.append(min(runs, key=lambda r: r["ksbridge_cpu_ms_per_target_scrape"]))
        if base_runs:
            base.append(min(base_runs, key=lambda r: r["ksbridge_cpu_ms_per_target_scrape"]))
        stop_all()
    a.targets_baseline = base
    return out


# Embedded-JVM footprint flags, one at a time on top of the defaults
# (KSBRIDGE_JVM_OPTIONS is appended to ksbridge's own options: the later wins).
FLAGS = [
    "",
    "-Xmx64m",
    "-Xmx48m -Xmn8m",
    "-XX:MaxHeapFreeRatio=20 -XX:MinHeapFreeRatio=5",
    "-XX:ReservedCodeCacheSize=16m",
    "-Xss256k",
    "-XX:MaxMetaspaceSize=32m",
    "-XX:TieredStopAtLevel=0",
    "-Xshare:auto",  # the class-data-sharing archive back (the default is off)
]


def part_flags(a, quick):
    """ksbridge RSS and latency serving the scrape shape, per JVM flag set."""
    beans, rounds = (200, 3) if quick else (2000, 15)
    _, pid = replay(a.replay_classes, beans, 10)
    out = []
    sets = a.flag_set or (FLAGS[:2] if quick else FLAGS[:a.flags])
    for flags in sets:
        env = dict(os.environ, KSBRIDGE_JVM_OPTIONS=flags)
        port = free_port()
        p = start([a.bin, "serve", "--web.listen-address", f"127.0.0.1:{port}", "--no-group.jvm",
                   "--target", str(pid)], "ksbridge", env=env,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/healthz", p)
        except RuntimeError:
            out.append({"flags": flags or "(defaults)", "error": "did not start"})
            continue
        for _ in range(3):
            scrape(url + "/metrics")
        k0 = cpu_s(p.pid)
        lat = [scrape(url + "/metrics")[0] for _ in range(rounds)]
        time.sleep(0.5)  # RSS between scrapes: after the trim that follows an answer
        out.append({
            "flags": flags or "(defaults)",
            "ksbridge_rss_mib": rss_mib(p.pid),
            "median_ms": median(lat) * 1e3,
            "ksbridge_cpu_ms": (cpu_s(p.pid) - k0) / rounds * 1e3,
        })
        p.terminate()
        p.wait()
    stop_all()
    return {"beans": beans, "runs": out}


# The embedded JVM's own settings (src/jvm/runtime.rs), for the floor client
# that runs like ksbridge's reader.
EMBEDDED_JVM = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-Xms8m", "-Xmx128m",
                "-Xss512k", "-XX:MaxHeapFreeRatio=20", "-XX:MinHeapFreeRatio=5", "-XX:MaxMetaspaceSize=64m",
                "-Xshare:off"]


def part_floor(a, quick):
    """ksbridge's warm read against the bare RMI floor on the same target:
    scripts/bench/RmiFloor.java (a plain Java JMX client doing only the bulk
    getAttributes per bean), with the JVM's default compilers and with the
    embedded JVM's C1-only settings."""
    beans, rounds = (200, 3) if quick else (2000, a.rounds)
    profiling = bool(os.environ.get("KSB_BENCH_PERF")) and not quick
    _, pid = replay(a.replay_classes, beans, 10)
    # A profiled run names the embedded JVM's JIT code through jcmd, which
    # needs an attach listener started with that JVM.
    env = dict(os.environ, KSBRIDGE_JVM_OPTIONS="-XX:+StartAttachListener") if profiling else None
    proc, url = serve(a.bin, [pid], (), env)
    for _ in range(3):
        scrape(url)
    lat, kcpu, tcpu = [], [], []
    for _ in range(rounds):
        k0, t0 = cpu_s(proc.pid), cpu_s(pid)
        lat.append(scrape(url)[0])
        kcpu.append(cpu_s(proc.pid) - k0)
        tcpu.append(cpu_s(pid) - t0)
    runs = {"ksbridge": {"median_ms": median(lat) * 1e3, "p95_ms": p95(lat) * 1e3,
                         "client_cpu_ms": statistics.mean(kcpu) * 1e3,
                         "target_cpu_ms": statistics.mean(tcpu) * 1e3}}
    source = os.path.join(ROOT, "scripts/bench/RmiFloor.java")
    for label, flags in (("rmi_floor_default_jit", ["-XX:+UseSerialGC"]),
                         ("rmi_floor_embedded_flags", EMBEDDED_JVM)):
        r = subprocess.run(["java", *flags, source, str(pid), str(rounds), "2"],
                           capture_output=True, text=True, timeout=600)
        line = [x for x in r.stdout.splitlines() if x.startswith("{")]
        runs[label] = json.loads(line[-1]) if line else {"error": (r.stderr or "no output")[-200:]}
    profile = ksb_profile = None
    if profiling:
        # Both profiles on this one target, one after the other.
        ksb_profile = profile_scrapes(["ksbridge", pid, url, proc.pid, None], a.work, scrapes=rounds)
        profile = profile_floor(source, pid, rounds, a.work)
    stop_all()
    return {"beans": beans, "rounds": rounds, "runs": runs, "profile": profile, "ksbridge_profile": ksb_profile}


def profile_floor(source, pid, rounds, work):
    """The same parts as the scrape profile for the floor's timed reads with
    the embedded JVM's flags: the floor client and the target, perf over
    its timed reads only (it waits for "go" after its warm-up)."""
    data = os.path.join(work, "perf-floor.data")
    p = subprocess.Popen(["java", *EMBEDDED_JVM, "-XX:+UnlockDiagnosticVMOptions", "-XX:+DumpPerfMapAtExit",
                          "-Dfloor.pause=true", source, str(pid), str(rounds), "2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("READY"):
            break
    rec = subprocess.Popen(["perf", "record", "-F", str(PERF_HZ), "-o", data, "-p", f"{p.pid},{pid}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    p.stdin.write("go\n")
    p.stdin.flush()
    for line in p.stdout:
        if line.startswith("{"):
            break
    rec.send_signal(2)
    rec.wait(timeout=60)
    subprocess.run(["jcmd", str(pid), "Compiler.perfmap"], capture_output=True, timeout=60)
    p.stdin.close()
    p.wait(timeout=60)  # the floor JVM writes its perf map as it exits
    return {"floor_pid": p.pid, "target_pid": pid, "scrapes": rounds,
            "parts": perf_parts(data, {p.pid: "floor", pid: "target"}, rounds, [p.pid, pid])}


# NMT categories of a target's growth, in print order (HotSpot 17's names).
NMT_CATEGORIES = ["Class", "Metaspace", "Thread", "Code", "GC", "Compiler", "Internal", "Other",
                  "Symbol", "Arena Chunk", "Shared class space", "Module", "Synchronization"]


def nmt(pid):
    """Committed KiB per NMT category of a JVM started with
    -XX:NativeMemoryTracking=summary (jcmd VM.native_memory summary)."""
    r = subprocess.run(["jcmd", str(pid), "VM.native_memory", "summary"],
                       capture_output=True, text=True, timeout=60)
    out = {}
    for m in re.finditer(r"^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB", r.stdout, re.M):
        out[m.group(1).strip()] = int(m.group(2))
    return out


def heap_resident_mib(pid, heap_kib):
    """Resident MiB of the Java heap: the one mapping of exactly -Xmx (serial
    GC), or the mappings inside the range `jcmd GC.heap_info` gives (G1)."""
    lo_hi = None
    r = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=60)
    m = re.search(r"garbage-first heap.*?\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)", r.stdout)
    if m:
        lo_hi = (int(m.group(1), 16), int(m.group(2), 16))
    size, inside, rss = None, False, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                size = (hi - lo) // 1024
                inside = lo_hi is not None and lo >= lo_hi[0] and hi <= lo_hi[1]
            elif line.startswith("Rss:") and (inside or (lo_hi is None and size == heap_kib)):
                rss += int(line.split()[1])
    return rss / 1024


def growth_stage(pid, heap_kib):
    return {"rss_mib": rss_mib(pid), "heap_resident_mib": heap_resident_mib(pid, heap_kib), "nmt_kib": nmt(pid)}


def part_growth(a, quick):
    """What ksbridge costs its target, split into attach, first read and the
    scrapes after it, by resident Java heap and NMT category (the target runs
    with -XX:NativeMemoryTracking=summary); and the jmx_exporter agent's growth
    in a twin JVM with the same -Xmx, for a ratio."""
    beans, rounds = (200, 3) if quick else (2000, a.rounds)
    heap = a.growth_heap
    heap_kib = int(heap[:-1]) * {"m": 1024, "g": 1024 * 1024}[heap[-1].lower()]
    nmt_opt = ["-XX:NativeMemoryTracking=summary"]
    out = {"beans": beans, "rounds": rounds, "heap": heap}
    _, pid = replay(a.replay_classes, beans, 10, heap=heap, jvm_options=nmt_opt)
    time.sleep(1)
    st = {"before": growth_stage(pid, heap_kib)}
    subprocess.run([a.bin, "get", str(pid), "java.lang:type=Runtime", "Uptime"], capture_output=True, timeout=120)
    time.sleep(0.5)
    st["attach"] = growth_stage(pid, heap_kib)
    proc, url = serve(a.bin, [pid])
    scrape(url)
    st["first_read"] = growth_stage(pid, heap_kib)
    for _ in range(rounds):
        scrape(url)
    st["scrapes"] = growth_stage(pid, heap_kib)
    st["ksbridge_rss_mib"] = rss_mib(proc.pid)
    out["ksbridge"] = st
    stop_all()
    if a.agent:
        port = free_port()
        cfg = os.path.join(a.work, "growth-catch-all.yaml")
        with open(cfg, "w") as f:
            f.write('rules:\n  - pattern: ".*"\n')
        _, pid = replay(a.replay_classes, beans, 10, heap=heap, jvm_options=nmt_opt,
                        agent=f"{a.agent}=127.0.0.1:{port}:{cfg}")
        url = f"http://127.0.0.1:{port}/metrics"
        wait_port(port)  # not an HTTP request: that would be a first scrape
        time.sleep(1)
        st = {"before": growth_stage(pid, heap_kib)}
        scrape(url)
        st["first_read"] = growth_stage(pid, heap_kib)
        for _ in range(rounds):
            scrape(url)
        st["scrapes"] = growth_stage(pid, heap_kib)
        out["jmx_exporter_catch_all"] = st
        stop_all()
    return out


def wait_file_line(path, prefix, proc, seconds=180):
    """The first line of `path` starting with `prefix`, while `proc` runs."""
    end = time.time() + seconds
    while time.time() < end:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith(prefix):
                    return line.strip()
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    with open(path, errors="replace") as f:
        tail = f.read()[-3000:]
    raise RuntimeError(f"no '{prefix}' in {path}:\n{tail}")


APP_HEAP = "384m"


def part_growth_app(a, quick):
    """Target growth on a real Kafka Streams app, whose own work churns its
    Java heap: two instances of the lab's ZMart app (4 threads, DEBUG, own
    topics) on one lab broker, with the JVM's default collector; one is
    watched by ksbridge (attach, first read, scrapes), the other not, and
    the growth is the watched one's minus the other's over the same time."""
    lab = os.path.join(ROOT, "scripts/kafka-lab")
    subprocess.run([lab, "build", "4"], check=True, stdout=subprocess.DEVNULL)
    cp = subprocess.run([lab, "classpath", "4"], check=True, capture_output=True, text=True).stdout.strip()
    flags = ["-XX:-UsePerfData", "-Dlog4j2.configurationFile=ksb-file-log4j2.xml"]
    bdir = os.path.join(a.work, "broker")
    os.makedirs(bdir, exist_ok=True)
    bout = os.path.join(bdir, "out")
    with open(bout, "w") as f:
        broker = start(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", *flags,
                        f"-Dksb.log.file={bdir}/broker.log", "-cp", cp, "ksbridge.lab.BrokerMain", "--dir", bdir],
                       "broker", stdout=f, stderr=subprocess.STDOUT)
    bootstrap = wait_file_line(bout, "KSB-LAB READY", broker).split()[2]
    heap_kib = int(APP_HEAP[:-1]) * 1024
    apps = {}
    for name in ("watched", "unwatched"):
        adir = os.path.join(a.work, f"app-{name}")
        os.makedirs(adir, exist_ok=True)
        aout = os.path.join(adir, "out")
        with open(aout, "w") as f:
            p = start(["java", f"-Xmx{APP_HEAP}", "-XX:NativeMemoryTracking=summary", *flags,
                       f"-Dksb.log.file={adir}/app.log", "-cp", cp, "ksbridge.lab.ZMartApp",
                       "--bootstrap", bootstrap, "--app-id", f"zmart-{name}", "--topic-prefix", f"{name}-",
                       "--threads", "4", "--recording-level", "DEBUG", "--state-dir", f"{adir}/state"],
                      f"app-{name}", stdout=f, stderr=subprocess.STDOUT)
        apps[name] = (p, aout)
    for name, (p, aout) in apps.items():
        wait_file_line(aout, "STATE RUNNING", p)
    # Both at work for a while: the app's own allocation has touched its
    # young generation before the first measurement.
    time.sleep(10 if quick else 60)
    rounds = 20 if quick else 200
    watched, unwatched = apps["watched"][0].pid, apps["unwatched"][0].pid
    st = {"watched": {}, "unwatched": {}}

    def stage(key):
        st["watched"][key] = growth_stage(watched, heap_kib)
        st["unwatched"][key] = growth_stage(unwatched, heap_kib)

    stage("before")
    subprocess.run([a.bin, "get", str(watched), "java.lang:type=Runtime", "Uptime"], capture_output=True, timeout=120)
    time.sleep(0.5)
    stage("attach")
    proc, url = serve(a.bin, [watched])
    t0 = time.time()
    _, body = scrape(url)
    stage("first_read")
    for _ in range(rounds):
        t = time.time()
        _, body = scrape(url)
        time.sleep(max(0.0, a.growth_app_interval - (time.time() - t)))
    stage("scrapes")
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    out = {"heap": APP_HEAP, "rounds": rounds, "seconds": time.time() - t0, "samples": samples,
           "interval": a.growth_app_interval,
           "ksbridge_rss_mib": rss_mib(proc.pid), "stages": st}
    stop_all()
    return out


def part_lag(spec):
    groups, parts = (spec.split(",") + ["100"])[:2]
    r = subprocess.run([os.path.join(ROOT, "scripts/bench-lag.sh"), groups, parts],
                       capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in r.stdout.splitlines() if "=" in line]
    return {"groups": int(groups), "partitions": int(parts), "exit": r.returncode, "lines": lines[-12:]}


# ---------------------------------------------------------------- output


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(": ", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1),
        "kernel": platform.release(),
        "ksbridge": first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
        "rustc": first_line(["rustc", "--version"]),
        "java": first_line(["java", "-version"]),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def f(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def table(res, agent_version):
    m = res["machine"]
    print(f"ksbridge benchmark, {m['date']}: {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}")
    print(f"  ksbridge {m['ksbridge']} ({res['profile']} build), {m['rustc']}, {m['java']}, "
          f"jmx_exporter {agent_version}; load before {m['load']}, after {res['load_after']}")
    print("\n## model + merge + encoding (ksbridge's own work on one snapshot; goal <= 5 ms)")
    print(f"{'snapshot':28}{'samples':>8}{'model':>8}{'merge':>8}{'0.0.4':>8}{'OM':>8}{'total ms':>10}{'allocs':>9}")
    for r in res["model"] or []:
        ms, al = r["median_ms"], r["allocations"]
        print(f"{os.path.basename(r['snapshot']):28}{r['samples']:>8}{ms['model']:>8.2f}{ms['merge']:>8.2f}"
              f"{ms['text_0_0_4']:>8.2f}{ms['openmetrics']:>8.2f}{ms['model_merge_text']:>10.2f}"
              f"{al['model'] + al['merge'] + al['text_0_0_4']:>9}")
    s = res["scrape"] or {"peers": {}, "beans": "-", "attrs": "-", "rounds": 0}
    p = s["peers"]
    print(f"\n## warm /metrics, {s['beans']} beans x {s['attrs']} attributes, {s['rounds']} alternating rounds")
    print(f"{'':28}{'median ms':>10}{'p95':>8}{'1st ms':>8}{'target CPU':>11}{'ksb CPU':>9}{'target I/O KiB':>15}"
          f"{'bytes':>9}{'samples':>8}")
    for label, r in p.items():
        print(f"{label:28}{f(r['median_ms']):>10}{f(r['p95_ms']):>8}{f(r['first_scrape_ms'], 0):>8}"
              f"{f(r['target_cpu_ms']):>11}{f(r['ksbridge_cpu_ms']):>9}{f(r['target_io_kib']):>15}"
              f"{r['exposition_bytes']:>9}{r['samples']:>8}")
    print(f"{'':28}{'ksb RSS MiB':>12}{'target RSS: before':>19}{'+attach':>8}{'+1st read':>10}{'+scrapes':>9}")
    for label, r in p.items():
        before = r["target_rss_before_attach_mib"]
        only = r.get("target_rss_after_attach_only_mib")
        attach = only - before if before and only else None
        first = r["target_rss_after_attach_mib"] - (only or before) if before else None
        after = r["target_rss_after_scrapes_mib"] - r["target_rss_after_attach_mib"] if before else None
        print(f"{label:28}{f(r['ksbridge_rss_mib']):>12}{f(before):>19}{f(attach, 1):>8}{f(first, 1):>10}"
              f"{f(after, 1):>9}")
    k, allattrs = p.get("ksbridge"), p.get("ksbridge_all_attributes")
    ratios = []
    if k and allattrs:
        ratios.append(f"served/all attributes: median {ratio(k['median_ms'], allattrs['median_ms'])}, "
                      f"target CPU {ratio(k['target_cpu_ms'], allattrs['target_cpu_ms'])}, "
                      f"target I/O {ratio(k['target_io_kib'], allattrs['target_io_kib'])}")
    for peer in ("jmx_exporter_catch_all", "jmx_exporter_streams_rules"):
        if k and peer in p:
            ratios.append(f"ksbridge/{peer}: median {ratio(k['median_ms'], p[peer]['median_ms'])}, "
                          f"p95 {ratio(k['p95_ms'], p[peer]['p95_ms'])}, "
                          f"target CPU {ratio(k['target_cpu_ms'], p[peer]['target_cpu_ms'])}")
    for line in ratios:
        print("  " + line)
    fr = res.get("floor")
    if fr:
        print(f"\n## the RMI floor ({fr['beans']} beans, {fr['rounds']} reads each; "
              "scripts/bench/RmiFloor.java: bulk getAttributes per bean and nothing else, 2 threads)")
        print(f"{'':28}{'median ms':>10}{'p95':>8}{'reader CPU ms':>14}{'target CPU ms':>14}")
        for label, r in fr["runs"].items():
            if "error" in r:
                print(f"{label:28}  {r['error']}")
                continue
            print(f"{label:28}{f(r['median_ms']):>10}{f(r['p95_ms']):>8}{f(r['client_cpu_ms']):>14}"
                  f"{f(r['target_cpu_ms']):>14}")
        k = fr["runs"]["ksbridge"]
        for label in ("rmi_floor_default_jit", "rmi_floor_embedded_flags"):
            r = fr["runs"].get(label, {})
            if "median_ms" in r:
                print(f"  ksbridge/{label}: median {ratio(k['median_ms'], r['median_ms'])}, "
                      f"reader CPU {ratio(k['client_cpu_ms'], r['client_cpu_ms'])}, "
                      f"target CPU {ratio(k['target_cpu_ms'], r['target_cpu_ms'])}")
        agent = (res.get("scrape") or {}).get("peers", {}).get("jmx_exporter_catch_all")
        r = fr["runs"].get("rmi_floor_default_jit", {})
        if agent and "median_ms" in r:
            print(f"  rmi_floor_default_jit/jmx_exporter_catch_all (scrape part): median "
                  f"{ratio(r['median_ms'], agent['median_ms'])}")
        fp, sp = fr.get("profile"), fr.get("ksbridge_profile")
        if fp and sp:
            profile_compare(sp, fp)
    print("\n## many targets (replay JVMs of 100 beans x 10 attributes in one serve)")
    print(f"{'targets':>8}{'median ms':>10}{'p95':>8}{'ksb CPU/target-scrape':>23}{'target CPU/t-s':>16}"
          f"{'wall/(CPU/cores)':>18}{'ksb RSS':>9}{'threads':>8}")
    for r in res["targets"] or []:
        print(f"{r['targets']:>8}{f(r['median_ms']):>10}{f(r['p95_ms']):>8}"
              f"{f(r['ksbridge_cpu_ms_per_target_scrape'], 2):>23}{f(r['target_cpu_ms_per_target_scrape'], 2):>16}"
              f"{f(r['wall_over_cpu_per_core'], 2):>18}{f(r['ksbridge_rss_mib']):>9}{r['ksbridge_threads']:>8}")
    for b in res.get("targets_baseline") or []:
        r = next((x for x in res["targets"] if x["targets"] == b["targets"]), None)
        print(f"  baseline ({res.get('baseline_bin')}) "
              f"{b['targets']} targets: median {f(b['median_ms'])} ms, ksb CPU/target-scrape "
              f"{f(b['ksbridge_cpu_ms_per_target_scrape'], 2)}, target CPU/t-s {f(b['target_cpu_ms_per_target_scrape'], 2)}, "
              f"RSS {f(b['ksbridge_rss_mib'])}, threads {b['ksbridge_threads']}")
        if r:
            print(f"    this / baseline: ksb CPU per target-scrape "
                  f"{ratio(r['ksbridge_cpu_ms_per_target_scrape'], b['ksbridge_cpu_ms_per_target_scrape'])}, "
                  f"target CPU {ratio(r['target_cpu_ms_per_target_scrape'], b['target_cpu_ms_per_target_scrape'])}, "
                  f"median {ratio(r['median_ms'], b['median_ms'])}")
    if res["targets"]:
        one = res["targets"][0]
        for r in res["targets"][1:]:
            print(f"  {r['targets']} vs 1 target: latency {ratio(r['median_ms'], one['median_ms'])}, "
                  f"ksbridge RSS +{r['ksbridge_rss_mib'] - one['ksbridge_rss_mib']:.1f} MiB "
                  f"({(r['ksbridge_rss_mib'] - one['ksbridge_rss_mib']) / (r['targets'] - 1):.2f} MiB per extra target)")
    fl = res.get("flags")
    if fl:
        print(f"\n## embedded JVM flags (ksbridge serving {fl['beans']} beans; on top of the defaults)")
        print(f"{'flags':50}{'ksb RSS MiB':>12}{'median ms':>10}{'ksb CPU ms':>11}")
        base = fl["runs"][0] if fl["runs"] else {}
        for r in fl["runs"]:
            if "error" in r:
                print(f"{r['flags']:50}  {r['error']}")
                continue
            print(f"{r['flags']:50}{f(r['ksbridge_rss_mib']):>12}{f(r['median_ms']):>10}{f(r['ksbridge_cpu_ms']):>11}"
                  f"   RSS {ratio(r['ksbridge_rss_mib'], base.get('ksbridge_rss_mib'))}")
    gr = res.get("growth")
    if gr:
        growth_table(gr)
    ga = res.get("growth_app")
    if ga:
        growth_app_table(ga)
    if res.get("lag"):
        lag = res["lag"]
        print(f"\n## lag (scripts/bench-lag.sh {lag['groups']} {lag['partitions']}, exit {lag['exit']})")
        for line in lag["lines"]:
            print("  " + line)


def profile_compare(sp, fp):
    """ksbridge's scrape and the C1 floor's read side by side, part by part."""
    def per(prof, side):
        return {r["part"]: r["ms_per_scrape"] for r in prof["parts"] if r["side"] == side}

    cols = [("ksbridge", per(sp, "ksbridge")), ("floor (C1)", per(fp, "floor")),
            ("target (ksb)", per(sp, "target")), ("target (floor)", per(fp, "target"))]
    parts = sorted({p for _, d in cols for p in d}, key=lambda p: -max(d.get(p, 0) for _, d in cols))
    print(f"\n## CPU ms per read by part, on one target one after the other: ksbridge's scrape "
          f"({sp['scrapes']} profiled) and the floor's read with the embedded JVM's flags "
          f"({fp['scrapes']} profiled)")
    print(f"{'part':58}" + "".join(f"{name:>15}" for name, _ in cols))
    for part in parts:
        vals = [d.get(part, 0) for _, d in cols]
        if max(vals) < 0.5:
            continue
        print(f"{part[:57]:58}" + "".join(f"{v:>15.1f}" for v in vals))
    print(f"{'(all)':58}" + "".join(f"{sum(d.values()):>15.1f}" for _, d in cols))


def stage_rows(stages):
    """Per growth figure (RSS, heap, the rest, NMT categories), its value at each stage."""
    r = {"RSS": [s["rss_mib"] for s in stages],
         "Java heap resident": [s["heap_resident_mib"] for s in stages]}
    r["other resident"] = [a - b for a, b in zip(r["RSS"], r["Java heap resident"])]
    for c in NMT_CATEGORIES:
        r[f"NMT {c}"] = [s["nmt_kib"].get(c, 0) / 1024 for s in stages]
    return r


def growth_app_table(ga):
    st = ga["stages"]
    print(f"\n## target growth on a real Kafka Streams app, MiB (the lab's ZMart, 4 threads, DEBUG, "
          f"-Xmx{ga['heap']}, default collector, NMT; {ga['samples']} samples per scrape, "
          f"{ga['rounds']} scrapes after the first, "
          f"{'one per %g s' % ga['interval'] if ga.get('interval') else 'as fast as they answer'}, in {ga['seconds']:.0f} s; "
          f"watched minus an unwatched twin)")
    keys = ["before", "attach", "first_read", "scrapes"]

    w, u = (stage_rows([st[side][k] for k in keys]) for side in ("watched", "unwatched"))
    print(f"{'':24}{'before':>8}{'+attach':>9}{'+1st read':>10}{'+scrapes':>9}{'total':>8}{'  unwatched total':>18}")
    for name in w:
        d = [(w[name][i + 1] - w[name][i]) - (u[name][i + 1] - u[name][i]) for i in range(3)]
        total = sum(d)
        if name.startswith("NMT") and max(abs(x) for x in d) < 0.05:
            continue
        print(f"{name:24}{w[name][0]:>8.1f}{d[0]:>+9.1f}{d[1]:>+10.1f}{d[2]:>+9.1f}{total:>+8.1f}"
              f"{u[name][3] - u[name][0]:>+18.1f}")
    print(f"  ksbridge RSS serving it: {ga['ksbridge_rss_mib']:.1f} MiB")


def growth_table(gr):
    k, ag = gr["ksbridge"], gr.get("jmx_exporter_catch_all")
    print(f"\n## target growth, MiB ({gr['beans']} beans x 10, replay JVM at -Xmx{gr['heap']} with serial GC "
          f"and NMT; {gr['rounds']} scrapes after the first; NMT: committed)")
    kst = ["before", "attach", "first_read", "scrapes"]
    ast = ["before", "first_read", "scrapes"]

    kr = stage_rows([k[x] for x in kst])
    ar = stage_rows([ag[x] for x in ast]) if ag else None
    head = f"{'':24}{'before':>8}{'+attach':>9}{'+1st read':>10}{'+scrapes':>9}{'total':>8}"
    if ar:
        head += f"  |{'agent: vs plain':>16}{'+1st':>7}{'+scrapes':>9}{'total':>8}"
    print(head)
    for name, v in kr.items():
        d = [v[i + 1] - v[i] for i in range(3)]
        line = f"{name:24}{v[0]:>8.1f}{d[0]:>+9.1f}{d[1]:>+10.1f}{d[2]:>+9.1f}{v[3] - v[0]:>+8.1f}"
        if ar:
            w = ar[name]
            line += f"  |{w[0] - v[0]:>+16.1f}{w[1] - w[0]:>+7.1f}{w[2] - w[1]:>+9.1f}{w[2] - v[0]:>+8.1f}"
        if name.startswith("NMT") and max(abs(x) for x in d) < 0.05 and not (ar and abs(w[2] - v[0]) >= 0.05):
            continue
        print(line)
    total = kr["RSS"][3] - kr["RSS"][0]
    print(f"  ksbridge RSS serving it: {k['ksbridge_rss_mib']:.1f} MiB; target growth with ksbridge {total:.1f} MiB")
    if ar:
        agent_total = ar["RSS"][2] - kr["RSS"][0]
        print(f"  jmx_exporter agent's twin JVM: +{agent_total:.1f} MiB over the plain JVM (agent loaded, first "
              f"scrape, scrapes); ksbridge/agent growth {ratio(total, agent_total)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model-bin", required=True)
    ap.add_argument("--replay-classes", required=True)
    ap.add_argument("--agent")
    ap.add_argument("--agent-version", default="1.0.1")
    ap.add_argument("--profile", default="release")
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=25, help="alternating scrape rounds")
    ap.add_argument("--targets", default="1,10,50", help="target counts of the many-targets part")
    ap.add_argument("--baseline-bin", help="an earlier ksbridge build the many-targets part also measures, in turn")
    ap.add_argument("--flags", type=int, default=len(FLAGS), help="how many JVM flag sets to measure")
    ap.add_argument("--flag-set", action="append",
                    help="measure this embedded-JVM flag set instead of the built-in list (repeatable)")
    ap.add_argument("--only", default="model,scrape,floor,targets,flags,growth,growth_app,lag",
                    help="comma-separated parts to run (model, scrape, floor, targets, flags, growth, "
                         "growth_app, lag)")
    ap.add_argument("--growth-heap", default="256m", help="-Xmx of the growth part's target JVMs")
    ap.add_argument("--growth-app-interval", type=float, default=1.0,
                    help="seconds between the growth_app part's scrapes (0: as fast as they answer)")
    ap.add_argument("--json")
    a = ap.parse_args()
    only = set(a.only.split(","))
    res = {"machine": machine(), "profile": a.profile, "quick": a.quick}
    try:
        res["model"] = part_model(a.model_bin, a.quick) if "model" in only else None
        res["scrape"] = part_scrape(a, a.quick) if "scrape" in only else None
        res["floor"] = part_floor(a, a.quick) if "floor" in only else None
        res["targets"] = part_targets(a, a.quick) if "targets" in only else None
        res["targets_baseline"] = getattr(a, "targets_baseline", None)
        res["baseline_bin"] = a.baseline_bin
        res["flags"] = part_flags(a, a.quick) if "flags" in only and (a.flag_set or not a.quick) else None
        res["growth"] = part_growth(a, a.quick) if "growth" in only and not a.quick else None
        res["growth_app"] = part_growth_app(a, a.quick) if "growth_app" in only and not a.quick else None
        lag = os.environ.get("KSB_BENCH_LAG")
        res["lag"] = part_lag(lag) if lag and not a.quick and "lag" in only else None
    finally:
        stop_all()
    res["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table(res, a.agent_version)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
