//! JVM group from the platform MXBeans (`java.lang:*`), named as Prometheus's
//! Java client names them. Input: snapshot + context; output: families with
//! `application_id` and `target` labels.
//!
//! GC time: the Java client's `jvm_gc_collection_seconds` is a summary; with
//! our kinds it is two counters, `jvm_gc_collection_seconds_total{gc}` (the
//! summary's `_sum`) and `jvm_gc_collections_total{gc}` (its `_count`).

use super::{Beans, Context, Group, Level, Out};
use crate::exposition::{Kind, Label};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "jvm",
    help: "JVM basics from the platform MXBeans: memory by area and pool, GC, threads, classes, CPU, start time, open file descriptors",
    default_on: true,
    beans: &[
        Beans::of("java.lang", "Memory"),
        Beans::of("java.lang", "MemoryPool"),
        Beans::of("java.lang", "GarbageCollector"),
        Beans::of("java.lang", "Threading"),
        Beans::of("java.lang", "ClassLoading"),
        Beans::of("java.lang", "OperatingSystem"),
        Beans::of("java.lang", "Runtime"),
    ],
    level: |_, _| Some(Level::Info),
    build,
};

const USAGE: &[(&str, &str)] = &[
    ("used", "used"),
    ("committed", "committed"),
    ("max", "max"),
    ("init", "init"),
];

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let mut apps: Vec<&str> = ctx
        .clients
        .iter()
        .map(|c| c.application_id.as_str())
        .collect();
    apps.sort_unstable();
    apps.dedup();
    let mut w = Writer {
        base: vec![
            ("application_id".into(), apps.join(",").into()),
            ("target".into(), ctx.target.as_str().into()),
        ],
        out,
    };
    for section in [memory, memory_pools, gc, threads, classes, process, runtime] {
        section(snapshot, &mut w);
    }
}

/// Writes JVM families with the labels every one of them carries.
struct Writer<'a> {
    base: Vec<Label>,
    out: &'a mut Out,
}

impl Writer<'_> {
    /// The base labels plus `k=v`.
    fn with(&self, k: &str, v: &str) -> Vec<Label> {
        let mut l = self.base.clone();
        l.push((k.into(), v.into()));
        l
    }

    /// One sample, when the value exists and is finite.
    fn add(&mut self, name: &str, kind: Kind, help: &str, labels: Vec<Label>, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.out.add(name, kind, help, labels, v);
        }
    }
}

fn memory(snapshot: &Snapshot, w: &mut Writer<'_>) {
    if let Some(m) = snapshot.find("java.lang:type=Memory") {
        for (area, prefix) in [
            ("heap", "HeapMemoryUsage"),
            ("nonheap", "NonHeapMemoryUsage"),
        ] {
            for (field, word) in USAGE {
                w.add(
                    &format!("jvm_memory_{word}_bytes"),
                    Kind::Gauge,
                    &format!("JVM memory {word} by area (MemoryMXBean {prefix}.{field})."),
                    w.with("area", area),
                    m.f64(&format!("{prefix}.{field}")),
                );
            }
        }
        w.add(
            "jvm_memory_objects_pending_finalization",
            Kind::Gauge,
            "Objects waiting in the finalizer queue.",
            w.base.clone(),
            m.f64("ObjectPendingFinalizationCount"),
        );
    }
}

fn memory_pools(snapshot: &Snapshot, w: &mut Writer<'_>) {
    for b in snapshot.of_type("java.lang", "MemoryPool") {
        let Some(pool) = b.name.get("name") else {
            continue;
        };
        for (field, word) in USAGE {
            w.add(
                &format!("jvm_memory_pool_{word}_bytes"),
                Kind::Gauge,
                &format!("JVM memory pool {word} (MemoryPoolMXBean Usage.{field})."),
                w.with("pool", pool),
                b.f64(&format!("Usage.{field}")),
            );
        }
        w.add(
            "jvm_memory_pool_collection_used_bytes",
            Kind::Gauge,
            "JVM memory pool used after the last collection (CollectionUsage.used).",
            w.with("pool", pool),
            b.f64("CollectionUsage.used"),
        );
    }
}

fn gc(snapshot: &Snapshot, w: &mut Writer<'_>) {
    for b in snapshot.of_type("java.lang", "GarbageCollector") {
        let Some(gc) = b.name.get("name") else {
            continue;
        };
        w.add(
            "jvm_gc_collections",
            Kind::Counter,
            "GC collections per collector (the count of the Java client's jvm_gc_collection_seconds summary).",
            w.with("gc", gc),
            b.f64("CollectionCount").filter(|v| *v >= 0.0),
        );
        w.add(
            "jvm_gc_collection_seconds",
            Kind::Counter,
            "Accumulated GC time per collector, seconds (the sum of the Java client's jvm_gc_collection_seconds summary).",
            w.with("gc", gc),
            b.f64("CollectionTime").filter(|v| *v >= 0.0).map(|v| v / 1e3),
        );
    }
}

fn threads(snapshot: &Snapshot, w: &mut Writer<'_>) {
    if let Some(t) = snapshot.find("java.lang:type=Threading") {
        for (attr, name, kind, help) in [
            (
                "ThreadCount",
                "jvm_threads_current",
                Kind::Gauge,
                "Current live threads.",
            ),
            (
                "DaemonThreadCount",
                "jvm_threads_daemon",
                Kind::Gauge,
                "Live daemon threads.",
            ),
            (
                "PeakThreadCount",
                "jvm_threads_peak",
                Kind::Gauge,
                "Peak live threads.",
            ),
            (
                "TotalStartedThreadCount",
                "jvm_threads_started",
                Kind::Counter,
                "Threads started since JVM start.",
            ),
        ] {
            w.add(name, kind, help, w.base.clone(), t.f64(attr));
        }
    }
}

fn classes(snapshot: &Snapshot, w: &mut Writer<'_>) {
    if let Some(c) = snapshot.find("java.lang:type=ClassLoading") {
        for (attr, name, kind, help) in [
            (
                "LoadedClassCount",
                "jvm_classes_currently_loaded",
                Kind::Gauge,
                "Classes currently loaded.",
            ),
            (
                "TotalLoadedClassCount",
                "jvm_classes_loaded",
                Kind::Counter,
                "Classes loaded since JVM start.",
            ),
            (
                "UnloadedClassCount",
                "jvm_classes_unloaded",
                Kind::Counter,
                "Classes unloaded since JVM start.",
            ),
        ] {
            w.add(name, kind, help, w.base.clone(), c.f64(attr));
        }
    }
}

fn process(snapshot: &Snapshot, w: &mut Writer<'_>) {
    if let Some(os) = snapshot.find("java.lang:type=OperatingSystem") {
        w.add(
            "process_cpu_seconds",
            Kind::Counter,
            "CPU time of the JVM process, seconds.",
            w.base.clone(),
            os.f64("ProcessCpuTime")
                .filter(|v| *v >= 0.0)
                .map(|v| v / 1e9),
        );
        w.add(
            "process_open_fds",
            Kind::Gauge,
            "Open file descriptors of the JVM process.",
            w.base.clone(),
            os.f64("OpenFileDescriptorCount"),
        );
        w.add(
            "process_max_fds",
            Kind::Gauge,
            "Maximum open file descriptors of the JVM process.",
            w.base.clone(),
            os.f64("MaxFileDescriptorCount"),
        );
    }
}

fn runtime(snapshot: &Snapshot, w: &mut Writer<'_>) {
    if let Some(rt) = snapshot.find("java.lang:type=Runtime") {
        w.add(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the JVM process since the epoch, seconds.",
            w.base.clone(),
            rt.f64("StartTime").map(|v| v / 1e3),
        );
        w.add(
            "jvm_uptime_seconds",
            Kind::Gauge,
            "Uptime of the JVM, seconds.",
            w.base.clone(),
            rt.f64("Uptime").map(|v| v / 1e3),
        );
        let mut info = w.base.clone();
        for (attr, label) in [
            ("VmName", "runtime"),
            ("VmVendor", "vendor"),
            ("VmVersion", "version"),
        ] {
            if let Some(v) = rt.text(attr) {
                info.push((label.into(), v.into()));
            }
        }
        if info.len() > w.base.len() {
            w.out.add(
                "jvm_runtime",
                Kind::Info,
                "JVM runtime name, vendor and version.",
                info,
                1.0,
            );
        }
    }
}
