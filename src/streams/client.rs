//! Client group (`stream-metrics`, one bean per `KafkaStreams` instance):
//! `kafka_streams_state` (gauge per state), `kafka_streams_client_info` (version,
//! commit id), `kafka_streams_recording_level_info`, and the numeric client
//! metrics. Input: snapshot + context; output: families.

use super::naming::{Rules, TimeUnit};
use super::{emit_bean, Context, Group, Level, Out, CLIENT_BEANS};
use crate::exposition::{Kind, Label};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "client",
    help: "Kafka Streams client: state (a 0/1 gauge per state), version/commit id/recording level (info), thread counts",
    default_on: true,
    beans: &[CLIENT_BEANS],
    level: |_, a| (!NOT_NUMERIC_METRICS.contains(&a)).then_some(Level::Info),
    build,
};

/// `KafkaStreams.State` constants (exported by name; ordinals differ across versions).
pub const STATES: &[&str] = &[
    "CREATED",
    "REBALANCING",
    "RUNNING",
    "PENDING_SHUTDOWN",
    "NOT_RUNNING",
    "PENDING_ERROR",
    "ERROR",
];

/// Attributes exported otherwise (state gauge, info) or not at all.
const NOT_NUMERIC_METRICS: &[&str] = &["client-state", "recording-level"];

const RULES: Rules<'static> = Rules {
    prefix: "kafka_streams_client",
    time_unit: TimeUnit::Millis,
    bytes: &[],
    gauge_totals: &[],
    counters: &["failed-stream-threads"],
    rates: false,
};

/// A Kafka Streams client (`KafkaStreams` instance) inside a JVM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamsApp {
    pub application_id: String,
    pub client_id: String,
    /// `KafkaStreams.State` by name, when the snapshot has it.
    pub state: Option<String>,
    /// The Kafka Streams version, when the snapshot has it.
    pub version: Option<String>,
}

/// The Kafka Streams clients of a snapshot, by `client-id` tag, with their
/// application id (attribute, or tag on 4.2+, or derived from the default
/// client id), state and version. The one place that finds Streams apps in
/// a snapshot (`jvms`, discovery, scrape and serve all use it).
pub fn apps(snapshot: &Snapshot) -> Vec<StreamsApp> {
    let mut out: Vec<StreamsApp> = Vec::new();
    for b in snapshot.of_type(CLIENT_BEANS.domain, CLIENT_BEANS.ty) {
        let Some(client_id) = b.name.get("client-id") else {
            continue;
        };
        let declared = b
            .text("application-id")
            .or_else(|| b.name.get("application-id"))
            .map(str::to_string);
        let state = b.text("state").map(str::to_string);
        let version = b.text("version").map(str::to_string);
        // 4.0+ splits a client over beans with and without `process-id`:
        // the one that declares the application id wins; state and version
        // come from whichever bean has them.
        if let Some(c) = out.iter_mut().find(|c| c.client_id == client_id) {
            if let Some(a) = declared {
                c.application_id = a;
            }
            c.state = c.state.take().or(state);
            c.version = c.version.take().or(version);
            continue;
        }
        let application_id = declared.unwrap_or_else(|| application_from_client_id(client_id));
        out.push(StreamsApp {
            client_id: client_id.to_string(),
            application_id,
            state,
            version,
        });
    }
    out
}

/// The distinct application ids of a snapshot, sorted.
pub fn application_ids(snapshot: &Snapshot) -> Vec<String> {
    let mut ids: Vec<String> = apps(snapshot)
        .into_iter()
        .map(|a| a.application_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Kafka's default `client.id` is `<application.id>-<UUID>`: strip the UUID.
/// Any text is accepted: the 37 bytes split off need not start on a character
/// boundary (a client id is outside input).
pub fn application_from_client_id(client_id: &str) -> String {
    application_of_client_id(client_id).to_string()
}

/// [`application_from_client_id`], borrowed from `client_id`.
pub fn application_of_client_id(client_id: &str) -> &str {
    let split = client_id.len().checked_sub(37).filter(|&at| at > 0);
    if let Some((head, tail)) = split.and_then(|at| client_id.split_at_checked(at)) {
        let shape = |uuid: &str| {
            uuid.bytes().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
        };
        if tail.strip_prefix('-').is_some_and(shape) {
            return head;
        }
    }
    client_id
}

/// One state family: 1 for `current`, 0 for every other known state (an
/// unknown current state is added). Encoded as a plain gauge with a `state`
/// label in both formats, not as an OpenMetrics StateSet: the spec wants a
/// StateSet's label named after the family (`kafka_streams_state{kafka_streams_state="RUNNING"}`),
/// which strict parsers (the Python client's) enforce and which joins badly;
/// a gauge with `state` is accepted by Prometheus, promtool and strict
/// OpenMetrics parsers alike, and is what `kube-state-metrics` does.
pub fn push_state_set(
    out: &mut Out,
    name: &str,
    help: &str,
    labels: &[Label],
    known: &[&str],
    current: &str,
) {
    for s in known {
        let mut l = labels.to_vec();
        l.push(("state".into(), (*s).into()));
        out.add(
            name,
            Kind::Gauge,
            help,
            l,
            if *s == current { 1.0 } else { 0.0 },
        );
    }
    if !known.contains(&current) {
        let mut l = labels.to_vec();
        l.push(("state".into(), current.into()));
        out.add(name, Kind::Gauge, help, l, 1.0);
    }
}

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    for b in snapshot.of_type(CLIENT_BEANS.domain, CLIENT_BEANS.ty) {
        let Some(client_id) = b.name.get("client-id") else {
            continue;
        };
        let application_id = ctx
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .map(|c| c.application_id.clone())
            .unwrap_or_default();
        let labels = vec![
            ("application_id".into(), application_id.into()),
            ("client_id".into(), client_id.into()),
        ];
        if let Some(state) = b.text("state") {
            push_state_set(
                out,
                "kafka_streams_state",
                "Kafka Streams client state (KafkaStreams.State): 1 for the current state.",
                &labels,
                STATES,
                state,
            );
        }
        let mut info = labels.clone();
        for (attr, label) in [("version", "version"), ("commit-id", "commit_id")] {
            if let Some(v) = b.text(attr) {
                info.push((label.into(), v.into()));
            }
        }
        if info.len() > labels.len() {
            out.add(
                "kafka_streams_client",
                Kind::Info,
                "Kafka Streams client version and commit id.",
                info,
                1.0,
            );
        }
        let mut lvl = labels.clone();
        lvl.push(("level".into(), ctx.level.as_str().into()));
        lvl.push(("source".into(), ctx.level_source.as_str().into()));
        out.add(
            "kafka_streams_recording_level",
            Kind::Info,
            "metrics.recording.level of the app: from Kafka's recording-level metric (source=attribute) or inferred from which metrics carry values.",
            lvl,
            1.0,
        );
        let rules = RULES.with_rates(ctx.rates);
        emit_bean(out, ctx, b, &rules, &labels[..], |a| {
            (GROUP.level)(CLIENT_BEANS.ty, a)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_ids_from_default_client_ids() {
        assert_eq!(
            application_from_client_id("zmart-0b8e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"),
            "zmart"
        );
        assert_eq!(application_from_client_id("custom-client"), "custom-client");
    }

    /// Found by the `capture_json` fuzz target: a multi-byte character where
    /// the `-<UUID>` suffix would start, or across its first byte, panicked
    /// on slicing (`fuzz/regressions/capture_json/`).
    #[test]
    fn client_ids_with_multibyte_characters_at_the_suffix_are_kept() {
        // The 37th byte from the end is the first of a 2-byte character.
        let starts = format!("x\u{6b8}{}", "a".repeat(35));
        assert_eq!(application_from_client_id(&starts), starts);
        // ... or its second byte.
        let inside = format!("\u{6b8}{}", "a".repeat(36));
        assert_eq!(application_from_client_id(&inside), inside);
        let crash = "app\u{6b8}lobalStrea--ce mit-interval-ms 1000";
        assert_eq!(application_from_client_id(crash), crash);
        assert_eq!(
            application_from_client_id("\u{e9}t\u{e9}-0b8e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"),
            "\u{e9}t\u{e9}"
        );
    }
}
