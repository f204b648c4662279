//! Health and restore group: what `ksbridge status` judges, as metrics.
//! `kafka_streams_health{reason}` (0 healthy, 1 degraded, 2 failed; reason
//! the worst finding's code, `ok` when healthy),
//! `kafka_streams_restore_remaining_records` per active task (Kafka's
//! `restore-remaining-records-total`, a gauge despite its name, clamped at 0;
//! before 3.5 the restore consumer's lag, `kafka_streams_restore_source_info`
//! says which) and `kafka_streams_restore_eta_seconds` while a task restores. With the
//! lag source's verdicts in the context, a running client whose group's
//! offsets stopped while lag remains is `stuck`. Input: snapshot + context;
//! output: families.

use super::{task_labels, Beans, Context, Group, Out, CLIENT_BEANS};
use crate::exposition::Kind;
use crate::insight::{self, health, stuck};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "health",
    help: "Health per client (0 healthy, 1 degraded, 2 failed, with the reason) and restore progress (remaining records, ETA)",
    default_on: true,
    beans: &[
        CLIENT_BEANS,
        Beans::of("kafka.streams", "stream-thread-metrics"),
        Beans::of("kafka.streams", "stream-task-metrics"),
        Beans::of("kafka.streams", "stream-state-updater-metrics"),
        Beans::of("kafka.streams", "stream-processor-node-metrics"),
        // The restore consumers' lag: restore progress before Kafka Streams 3.5.
        Beans::of("kafka.consumer", "consumer-fetch-manager-metrics"),
    ],
    // Judgements, not Kafka's metrics: no attribute is this group's own.
    level: |_, _| None,
    build,
};

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    for c in &ctx.clients {
        let inst = insight::instance(&ctx.target, snapshot, &c.client_id);
        let app = insight::App {
            application_id: c.application_id.clone(),
            instances: vec![inst],
        };
        let mut h = health::judge(&app, &health::Expect::default());
        // With a bootstrap server: the group's offsets joined with the client.
        if let Some(v) = ctx.lag.as_ref().and_then(|l| l.get(&c.application_id)) {
            if let Some(r) = stuck::reason(&c.application_id, &v, &app.instances[0]) {
                health::add(&mut h, r);
            }
        }
        let base = vec![
            ("application_id".into(), c.application_id.as_str().into()),
            ("client_id".into(), c.client_id.as_str().into()),
        ];
        let mut labels = base.clone();
        labels.push(("reason".into(), h.reason().into()));
        out.add(
            "kafka_streams_health",
            Kind::Gauge,
            "Health of the client as `ksbridge status` judges it: 0 healthy, 1 degraded, 2 failed; reason is the worst finding (ok, error, not_running, no_threads, thread_failed, thread_dead, rebalancing, not_started, restoring, unknown_state, and with --kafka.bootstrap-servers stuck).",
            labels,
            f64::from(h.status.exit_code()),
        );
        let progress = insight::restore::progress(snapshot, &c.client_id);
        if let Some(src) = progress.source {
            let mut labels = base.clone();
            labels.push(("source".into(), src.as_str().into()));
            out.add(
                "kafka_streams_restore_source",
                Kind::Info,
                "Where the restore families come from: task_metric (the tasks' restore-remaining-records-total, Kafka Streams 3.5+) or restore_consumer_lag (the restore consumer's records-lag per changelog partition, before 3.5).",
                labels,
                1.0,
            );
        }
        for r in &progress.tasks {
            let mut labels = base.clone();
            labels.push(("thread".into(), r.thread.as_str().into()));
            task_labels(&mut labels, &r.task);
            out.add(
                "kafka_streams_restore_remaining_records",
                Kind::Gauge,
                "Records an active task still has to restore from its changelogs (Kafka's restore-remaining-records-total, 3.5+, clamped at 0: it can read negative briefly; before 3.5 the restore consumer's lag on the task's changelog partitions, see kafka_streams_restore_source_info).",
                labels,
                r.remaining,
            );
        }
        for r in &app.instances[0].restoring {
            let Some(eta) = r.eta_seconds else { continue };
            let mut labels = base.clone();
            labels.push(("thread".into(), r.thread.as_str().into()));
            task_labels(&mut labels, &r.task);
            out.add(
                "kafka_streams_restore_eta_seconds",
                Kind::Gauge,
                insight::restore::ETA_HELP,
                labels,
                eta,
            );
        }
    }
}
