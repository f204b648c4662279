//! Embedded Kafka clients of a Streams app: main consumer (fetch manager incl.
//! per-partition records-lag/lead, coordinator), restore consumer, producer,
//! admin. Only clients whose `client-id` belongs to a Kafka Streams client are
//! exported. Input: snapshot + context; output: families.

use super::naming::{Rules, TimeUnit};
use super::{emit_bean, Beans, Context, Group, Level, Out};
use crate::exposition::Label;
use crate::jmx::{Bean, Snapshot};

const FETCH_BEANS: Beans = Beans::of("kafka.consumer", "consumer-fetch-manager-metrics");
const COORDINATOR_BEANS: Beans = Beans::of("kafka.consumer", "consumer-coordinator-metrics");
const CONSUMER_BEANS: &[Beans] = &[FETCH_BEANS, COORDINATOR_BEANS];
const ADMIN_BEANS: Beans = Beans::of("kafka.admin.client", "admin-client-metrics");

pub const CONSUMER: Group = Group {
    name: "consumer",
    help: "Main (and global) consumers: fetch manager per client/topic/partition (records-lag, records-lead), coordinator",
    default_on: true,
    beans: CONSUMER_BEANS,
    level: |_, _| Some(Level::Info),
    build: build_consumer,
};

pub const RESTORE_CONSUMER: Group = Group {
    name: "restore_consumer",
    help: "Restore consumers: fetch manager per client/topic/partition (records-lag is the restore backlog)",
    default_on: true,
    beans: CONSUMER_BEANS,
    level: |_, _| Some(Level::Info),
    build: build_restore_consumer,
};

pub const PRODUCER: Group = Group {
    name: "producer",
    help: "Producers: client-level and per-topic producer metrics",
    default_on: true,
    beans: &[
        Beans::of("kafka.producer", "producer-metrics"),
        Beans::of("kafka.producer", "producer-topic-metrics"),
    ],
    level: |_, _| Some(Level::Info),
    build: build_producer,
};

pub const ADMIN: Group = Group {
    name: "admin",
    help: "Admin client: client-level metrics",
    default_on: true,
    beans: &[ADMIN_BEANS],
    level: |_, _| Some(Level::Info),
    build: build_admin,
};

/// Which embedded client a `client-id` is, from its suffix after `<client.id>-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Consumer,
    RestoreConsumer,
    Producer,
    Admin,
}

/// `(role, thread)` of an embedded client's id suffix.
fn role(rest: &str) -> Option<(Role, String)> {
    if let Some(t) = rest.strip_suffix("-restore-consumer") {
        return Some((Role::RestoreConsumer, t.to_string()));
    }
    if rest == "global-consumer" {
        return Some((Role::Consumer, "GlobalStreamThread".to_string()));
    }
    if let Some(t) = rest.strip_suffix("-consumer") {
        return Some((Role::Consumer, t.to_string()));
    }
    if let Some(t) = rest.strip_suffix("-producer") {
        return Some((Role::Producer, t.to_string()));
    }
    if rest == "producer" {
        return Some((Role::Producer, String::new()));
    }
    if rest == "admin" {
        return Some((Role::Admin, String::new()));
    }
    None
}

fn rules(prefix: &'static str, rates: bool) -> Rules<'static> {
    Rules {
        prefix,
        time_unit: TimeUnit::Millis,
        bytes: &[],
        gauge_totals: &[],
        counters: &[],
        rates,
    }
}

/// Labels of a client bean if it belongs to a Streams client in `want` role.
fn labels_of(ctx: &Context, bean: &Bean, want: Role) -> Option<Vec<Label>> {
    let id = bean.name.get("client-id")?;
    let owner = ctx.owner(id);
    if owner.client_id.is_empty() {
        return None;
    }
    let (r, thread) = role(&owner.rest)?;
    if r != want {
        return None;
    }
    let mut labels = vec![
        ("application_id".into(), owner.application_id),
        ("client_id".into(), owner.client_id),
    ];
    if !thread.is_empty() {
        labels.push(("thread".into(), thread.into()));
    }
    if let Some(topic) = bean.name.get("topic") {
        labels.push(("topic".into(), topic.into()));
    }
    if let Some(p) = bean.name.get("partition") {
        labels.push(("partition".into(), p.into()));
    }
    Some(labels)
}

/// Prefixes of a consumer role: client-level fetch manager, per topic, per partition, coordinator.
type ConsumerPrefixes = [&'static str; 4];

const CONSUMER_PREFIXES: ConsumerPrefixes = [
    "kafka_streams_consumer",
    "kafka_streams_consumer_topic",
    "kafka_streams_consumer_partition",
    "kafka_streams_consumer_coordinator",
];

const RESTORE_PREFIXES: ConsumerPrefixes = [
    "kafka_streams_restore_consumer",
    "kafka_streams_restore_consumer_topic",
    "kafka_streams_restore_consumer_partition",
    "kafka_streams_restore_consumer_coordinator",
];

fn consumer_like(
    snapshot: &Snapshot,
    ctx: &Context,
    out: &mut Out,
    want: Role,
    p: ConsumerPrefixes,
) {
    let [fetch, topic, partition, coordinator] = p.map(|prefix| rules(prefix, ctx.rates));
    for b in snapshot.of_type(FETCH_BEANS.domain, FETCH_BEANS.ty) {
        let Some(labels) = labels_of(ctx, b, want) else {
            continue;
        };
        let r = match (b.name.get("topic"), b.name.get("partition")) {
            (Some(_), Some(_)) => &partition,
            (Some(_), None) => &topic,
            _ => &fetch,
        };
        emit_bean(out, ctx, b, r, &labels[..], CONSUMER.level_of(b));
    }
    for b in snapshot.of_type(COORDINATOR_BEANS.domain, COORDINATOR_BEANS.ty) {
        let Some(labels) = labels_of(ctx, b, want) else {
            continue;
        };
        emit_bean(out, ctx, b, &coordinator, &labels[..], CONSUMER.level_of(b));
    }
}

fn build_consumer(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    consumer_like(snapshot, ctx, out, Role::Consumer, CONSUMER_PREFIXES)
}

fn build_restore_consumer(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    consumer_like(snapshot, ctx, out, Role::RestoreConsumer, RESTORE_PREFIXES)
}

fn build_producer(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let client = rules("kafka_streams_producer", ctx.rates);
    let topic = rules("kafka_streams_producer_topic", ctx.rates);
    for (ty, r) in [
        ("producer-metrics", &client),
        ("producer-topic-metrics", &topic),
    ] {
        for b in snapshot.of_type("kafka.producer", ty) {
            let Some(labels) = labels_of(ctx, b, Role::Producer) else {
                continue;
            };
            emit_bean(out, ctx, b, r, &labels[..], PRODUCER.level_of(b));
        }
    }
}

fn build_admin(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let r = rules("kafka_streams_admin", ctx.rates);
    for b in snapshot.of_type(ADMIN_BEANS.domain, ADMIN_BEANS.ty) {
        let Some(labels) = labels_of(ctx, b, Role::Admin) else {
            continue;
        };
        emit_bean(out, ctx, b, &r, &labels[..], ADMIN.level_of(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_client_ids() {
        assert_eq!(
            role("StreamThread-1-consumer"),
            Some((Role::Consumer, "StreamThread-1".into()))
        );
        assert_eq!(
            role("StreamThread-1-restore-consumer"),
            Some((Role::RestoreConsumer, "StreamThread-1".into()))
        );
        assert_eq!(
            role("StreamThread-2-producer"),
            Some((Role::Producer, "StreamThread-2".into()))
        );
        assert_eq!(role("admin"), Some((Role::Admin, String::new())));
        assert_eq!(role("StreamThread-1"), None);
    }
}
