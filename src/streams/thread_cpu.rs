//! Thread CPU group: `kafka_streams_thread_cpu_seconds_total` per Kafka
//! Streams thread (stream threads, the global thread, state updaters), from
//! `ThreadMXBean.getThreadCpuTime`. The JMX source samples it over the
//! connection and adds one `ksbridge:type=thread-cpu,thread-id=<name>` bean
//! per thread to the snapshot (see [`beans`]); nothing when the JVM has
//! thread CPU time disabled. Input: snapshot + context; output: families.

use super::{Beans, Context, Group, Level, Out};
use crate::exposition::Kind;
use crate::jmx::{Attribute, Bean, ObjectName, Snapshot, Value};

/// The beans the JMX source adds to a snapshot (no JVM registers them).
pub const BEANS: Beans = Beans::of("ksbridge", "thread-cpu");

/// The attribute holding a thread's CPU time in nanoseconds.
pub const ATTRIBUTE: &str = "cpu-time-ns";

pub const GROUP: Group = Group {
    name: "thread_cpu",
    help: "CPU time of each Kafka Streams thread (ThreadMXBean.getThreadCpuTime; off when the JVM disables thread CPU time)",
    default_on: true,
    beans: &[BEANS],
    level: |ty, a| (ty == BEANS.ty && a == ATTRIBUTE).then_some(Level::Info),
    build,
};

/// The regular expression (Java syntax) the shim filters thread names with:
/// Kafka Streams' own threads, named `<client.id>-StreamThread-<n>`,
/// `<client.id>-GlobalStreamThread` and `<client.id>-StateUpdater-<n>`.
pub const THREAD_NAMES: &str = ".+-(StreamThread-[0-9]+|GlobalStreamThread|StateUpdater-[0-9]+)";

/// Whether a thread name is one of Kafka Streams' own threads.
pub fn is_streams_thread(name: &str) -> bool {
    let tail_number = |marker: &str| {
        name.rfind(marker).is_some_and(|i| {
            let n = &name[i + marker.len()..];
            i > 0 && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        })
    };
    tail_number("-StreamThread-")
        || tail_number("-StateUpdater-")
        || (name.len() > "-GlobalStreamThread".len() && name.ends_with("-GlobalStreamThread"))
}

/// The snapshot beans for `(thread name, CPU ns)` samples of Streams threads.
pub fn beans<'a>(samples: impl IntoIterator<Item = (&'a str, i64)>) -> Vec<Bean> {
    samples
        .into_iter()
        .filter(|(name, ns)| *ns >= 0 && is_streams_thread(name))
        .filter_map(|(name, ns)| {
            let value = if crate::jmx::objectname::kafka_needs_quote(name) {
                crate::jmx::objectname::quote(name)
            } else {
                name.to_string()
            };
            let name = ObjectName::parse(&format!(
                "{}:type={},thread-id={value}",
                BEANS.domain, BEANS.ty
            ))
            .ok()?;
            Some(Bean {
                name,
                class_name: "ksbridge.ThreadCpu".into(),
                attributes: vec![Attribute {
                    name: ATTRIBUTE.into(),
                    value: Value::Long(ns),
                }],
            })
        })
        .collect()
}

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    for b in snapshot.of_type(BEANS.domain, BEANS.ty) {
        let (Some(thread), Some(ns)) = (b.name.get("thread-id"), b.f64(ATTRIBUTE)) else {
            continue;
        };
        if !is_streams_thread(thread) {
            continue;
        }
        out.add(
            "kafka_streams_thread_cpu_seconds",
            Kind::Counter,
            "CPU time used by the Kafka Streams thread (ThreadMXBean.getThreadCpuTime).",
            ctx.thread_labels(thread),
            ns / 1e9,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_streams_threads() {
        assert!(is_streams_thread("zmart-1a2b-StreamThread-1"));
        assert!(is_streams_thread("zmart-1a2b-StateUpdater-1"));
        assert!(is_streams_thread("zmart-1a2b-GlobalStreamThread"));
        assert!(!is_streams_thread("main"));
        assert!(!is_streams_thread("-StreamThread-1"));
        assert!(!is_streams_thread("zmart-1a2b-StreamThread-1-producer"));
        assert!(!is_streams_thread(
            "kafka-producer-network-thread | zmart-1a2b-StreamThread-1-producer"
        ));
        let beans = beans([("zmart-1a2b-StreamThread-1", 2_500_000_000), ("main", 5)]);
        assert_eq!(beans.len(), 1);
        let snap = Snapshot::new(0, beans);
        let ctx = Context::new(&snap, false, "pid 1");
        let mut out = Out::new();
        build(&snap, &ctx, &mut out);
        let text = format!("{:?}", out.into_vec());
        assert!(text.contains("kafka_streams_thread_cpu_seconds"), "{text}");
        assert!(text.contains("2.5"), "{text}");
    }
}
