//! `ksbridge status <TARGET|APPLICATION_ID>`: is this app healthy, and if not,
//! why. Joins every instance it can see; exit 0 healthy, 1 degraded, 2 failed
//! (a Kubernetes exec probe). `--json`, `--watch` (which also follows when
//! each restore began and ended), `--bootstrap-server` for input lag.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::insight::health::{self, Expect, Health, Reason, Status};
use crate::insight::restore::{History, Progress};
use crate::insight::screen::{self, RestoreTotals, TopicLag};
use crate::insight::{self, App};
use crate::lag::{self, Collector, CollectorSettings, LagReport, Selection};

use super::app_target::AppTargetArgs;

/// What `status` reads: client, threads, tasks, state updater, processor
/// nodes (e2e latency), which embedded clients exist, the restore consumers'
/// lag (restore progress before Kafka Streams 3.5), and ksbridge's
/// interceptors when the app runs them.
pub const PATTERNS: &[&str] = &[
    "kafka.streams:type=stream-metrics,*",
    "kafka.streams:type=stream-thread-metrics,*",
    "kafka.streams:type=stream-task-metrics,*",
    "kafka.streams:type=stream-state-updater-metrics,*",
    "kafka.streams:type=stream-processor-node-metrics,*",
    "kafka.consumer:type=consumer-metrics,*",
    crate::source::state_poller::RESTORE_CONSUMER_PATTERN,
    "kafka.producer:type=producer-metrics,*",
    "ksbridge.interceptors:*",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub app: AppTargetArgs,

    /// Print JSON instead of the screen.
    #[arg(long)]
    pub json: bool,

    /// Refresh in place until interrupted (and follow when each restore began and ended).
    #[arg(long)]
    pub watch: bool,

    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,

    /// Also show the input lag of the application's consumer group (its application id).
    #[arg(long = "bootstrap-server")]
    pub bootstrap_server: Option<String>,

    /// num.stream.threads per instance: fewer alive threads is degraded.
    #[arg(long)]
    pub threads: Option<u32>,
}

#[derive(Serialize)]
struct JsonApp<'a> {
    #[serde(flatten)]
    app: &'a App,
    health: &'a Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_lag: Option<&'a [TopicLag]>,
}

/// Per-topic lag of the group, and a "stuck" finding when the brokers' view
/// says the group stopped committing while lag remains.
fn topic_lag(report: &LagReport, group: &str) -> (Vec<TopicLag>, Option<Reason>) {
    let mut by_topic: BTreeMap<String, TopicLag> = BTreeMap::new();
    let mut stuck = None;
    for g in report.groups.iter().filter(|g| g.group == group) {
        if matches!(g.status, lag::Status::Stall | lag::Status::Stop) {
            stuck = Some(Reason {
                status: Status::Degraded,
                code: "stuck",
                text: format!(
                    "group {group} is {}: lag remains and its committed offsets do not move",
                    g.status
                ),
            });
        }
        for p in &g.partitions {
            let t = by_topic.entry(p.topic.clone()).or_insert_with(|| TopicLag {
                topic: p.topic.clone(),
                lag: None,
                lag_seconds: None,
                status: lag::Status::Ok.to_string(),
                trend: String::new(),
            });
            if let Some(l) = p.lag {
                t.lag = Some(t.lag.unwrap_or(0) + l);
            }
            if let Some(s) = p.lag_seconds {
                t.lag_seconds = Some(t.lag_seconds.map_or(s, |x: f64| x.max(s)));
            }
            if p.status != lag::Status::Ok {
                t.status = p.status.to_string();
            }
            if let Some(slope) = p.trend.records_per_second {
                t.trend = crate::console::top::trend_word(Some(slope)).into();
            }
        }
    }
    (by_topic.into_values().collect(), stuck)
}

/// Follows each client's and task's restores over the reads (began, ended,
/// took; shown with `show`, i.e. `--watch`), and gives restoring tasks
/// without a rate of their own the rate seen over the reads.
fn follow_restores(history: &mut History, apps: &mut [App], show: bool) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    for a in apps {
        for i in &mut a.instances {
            let at = if i.taken_at_ms > 0 {
                i.taken_at_ms
            } else {
                now
            };
            let seen = Progress {
                tasks: i.restoring.clone(),
                source: i.restore_source,
            };
            history.observe(at, &a.application_id, &i.client_id, &seen);
            history.fill_rates(&i.client_id, &mut i.restoring);
            if show {
                i.last_restores = history.phases(&i.client_id);
            }
        }
    }
}

/// Whether a task restores with no rate known (the restore consumer's lag
/// as the source, at INFO).
fn needs_second_read(apps: &[App]) -> bool {
    apps.iter()
        .flat_map(|a| &a.instances)
        .flat_map(|i| &i.restoring)
        .any(|r| r.rate.is_none())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let expect = Expect {
        threads: args.threads,
    };
    let wanted = args.app.application_id();
    let mut collector = match &args.bootstrap_server {
        Some(b) => Some(Collector::new(
            lag::client_config(b, &[]),
            args.app.timeout(),
            CollectorSettings::default(),
        )?),
        None => None,
    };
    let mut totals = RestoreTotals::new();
    let mut history = History::default();
    let mut sampled = false;
    let interval = Duration::from_secs_f64(args.interval.clamp(0.1, 3600.0));
    loop {
        let reads = match args.app.read_all(PATTERNS)? {
            Ok(r) => r,
            Err(code) if !args.watch => return Ok(code),
            Err(_) => {
                std::thread::sleep(interval);
                continue;
            }
        };
        let pairs: Vec<(String, crate::jmx::Snapshot)> =
            reads.into_iter().map(|r| (r.label, r.snapshot)).collect();
        let mut apps: Vec<App> = insight::apps(&pairs)
            .into_iter()
            .filter(|a| wanted.as_ref().map_or(true, |w| *w == a.application_id))
            .collect();
        if apps.is_empty() {
            // The JVM answered but holds no client of the app: Kafka removes a
            // client's metrics when it closes, also after SHUTDOWN_CLIENT or
            // SHUTDOWN_APPLICATION took it to ERROR. For a probe that is failed.
            let labels: Vec<&str> = pairs.iter().map(|(l, _)| l.as_str()).collect();
            let text = format!(
                "{}: no Kafka Streams client is registered (closed, or shut down after an error: Kafka removes a client's metrics then)",
                labels.join(", ")
            );
            let h = Health {
                status: Status::Failed,
                reasons: vec![Reason {
                    status: Status::Failed,
                    code: "no_client",
                    text,
                }],
            };
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "health": h }))?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{}  FAILED\n\nwarnings:\n  [failed] {}",
                    args.app.target, h.reasons[0].text
                )?;
            }
            if !args.watch {
                return Ok(ExitCode::from(Status::Failed.exit_code()));
            }
            std::thread::sleep(interval);
            continue;
        }
        if args.watch || sampled {
            follow_restores(&mut history, &mut apps, args.watch);
        } else if needs_second_read(&apps) {
            // Before Kafka Streams 3.5 nothing records a restore rate at INFO:
            // a second read a moment later gives one (and so an ETA).
            follow_restores(&mut history, &mut apps, false);
            sampled = true;
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        for a in &apps {
            for i in &a.instances {
                for r in &i.restoring {
                    let e = totals
                        .entry((i.client_id.clone(), r.task.clone()))
                        .or_insert(0.0);
                    *e = e.max(r.remaining);
                }
            }
        }
        let mut worst = Status::Healthy;
        let mut text = String::new();
        let mut json = Vec::new();
        for a in &apps {
            let mut h = health::judge(a, &expect);
            let lag = match collector.as_mut() {
                Some(c) => {
                    let sel = Selection {
                        groups: BTreeSet::from([a.application_id.clone()]),
                        ..Selection::default()
                    };
                    match c.cycle(&sel) {
                        Ok(report) => {
                            let (lag, stuck) = topic_lag(&report, &a.application_id);
                            if let Some(r) = stuck {
                                health::add(&mut h, r);
                            }
                            Some(lag)
                        }
                        Err(e) => {
                            health::add(
                                &mut h,
                                Reason {
                                    status: Status::Degraded,
                                    code: "lag_unknown",
                                    text: format!("input lag unknown: {e}"),
                                },
                            );
                            None
                        }
                    }
                }
                None => None,
            };
            worst = worst.max(h.status);
            if args.json {
                json.push(serde_json::to_value(JsonApp {
                    app: a,
                    health: &h,
                    input_lag: lag.as_deref(),
                })?);
            } else {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&screen::render(a, &h, lag.as_deref(), &totals));
            }
        }
        let mut out = std::io::stdout().lock();
        if args.watch && !args.json {
            // Home the cursor and clear the screen: the view refreshes in place.
            write!(out, "\x1b[H\x1b[2J")?;
        }
        if args.json {
            let v = if json.len() == 1 {
                json.remove(0)
            } else {
                serde_json::Value::Array(json)
            };
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        } else {
            write!(out, "{text}")?;
        }
        out.flush()?;
        if !args.watch {
            return Ok(ExitCode::from(worst.exit_code()));
        }
        std::thread::sleep(interval);
    }
}
