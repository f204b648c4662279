//! `ksbridge serve`: its settings (flags, config-file keys and defaults in one
//! struct) -> sources (JMX targets, capture files, discovery, lag) -> the HTTP
//! server until SIGTERM/Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use regex::Regex;

use super::target::CredentialArgs;
use crate::discovery::{self, Plan};
use crate::jvm::{ReadMode, Target};
use crate::scrape::{ScrapeSettings, Scraper};
use crate::settings::{parse_duration, parse_positive_duration};
use crate::source::jmx::JmxSource;
use crate::source::lag::LagSource;
use crate::streams::{Options, GROUPS};
use crate::target::{Credentials, TargetCredentials, TargetId};

/// Default listen address. The Prometheus wiki's default-port list filled its
/// 9100-9999 exporter range in 2023; 39134 sits outside it, in the overflow area
/// other exporters now use (see README "Port"). Loopback unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:39134";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub settings: Box<Settings>,
}

/// The settings of `ksbridge serve`: each field is a flag, and its id in
/// kebab case is the config file's key (`--web.listen-address` is
/// `listen-address`). Durations are DURATIONs: 500ms, 10s, 2m, 1h.
#[derive(Debug, clap::Args)]
pub struct Settings {
    /// TOML file with these settings as keys (listen-address, targets,
    /// target-match, scrape-timeout, rates, [groups], [target-credentials], ...); flags win,
    /// repeatable settings add up.
    #[arg(long = "config.file", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long = "web.listen-address", value_name = "HOST:PORT", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen_address: SocketAddr,

    /// Web configuration file (Prometheus exporter-toolkit format): TLS,
    /// client certificates, basic auth users (bcrypt), response headers;
    /// re-read when it changes. Applies to every endpoint.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// Most requests served at once; more are answered 503 (with
    /// Retry-After) at once. 0: no limit.
    #[arg(long = "web.max-requests", value_name = "N", default_value = "40")]
    pub max_requests: usize,

    /// Longest time to answer one request (503 after it); it also caps the
    /// scrape deadline and is how long in-flight requests may take to
    /// finish after SIGTERM.
    #[arg(long = "web.request-timeout", value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration)]
    pub request_timeout: Duration,

    /// Path of the metrics endpoint.
    #[arg(long = "web.telemetry-path", value_name = "PATH", default_value = "/metrics", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// A JVM to read: a pid, a service:jmx: URL, or file:<capture.json>. Repeatable.
    /// Without any, every local JVM with kafka.streams beans is discovered.
    #[arg(long = "target", value_name = "PID|URL|file:PATH")]
    pub targets: Vec<TargetId>,

    /// Only (or also, with --target) watch local JVMs whose main class or
    /// Kafka Streams application id matches this regex.
    #[arg(long = "target.match", value_name = "REGEX", value_parser = parse_regex)]
    pub target_match: Option<Regex>,

    /// Discover local Kafka Streams JVMs [default: on when no --target is given or --target.match is set].
    #[arg(long = "discovery", value_name = "BOOL")]
    pub discovery: Option<bool>,

    /// How often to look for new and stopped local JVMs.
    #[arg(long = "discovery.interval", value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub discovery_interval: Duration,

    /// Poll each JVM's client and thread states this often between scrapes
    /// (transitions, time in state, rebalance duration); 0 turns the poller off.
    #[arg(long = "state-poller.interval", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub state_poller_interval: Duration,
    /// Attach to every local JVM that can safely take it to look for Kafka
    /// Streams beans, instead of only to those /proc shows to be Streams apps.
    #[arg(long = "discovery.probe")]
    pub discovery_probe: bool,

    /// Longest read of a target per scrape when Prometheus sends no
    /// X-Prometheus-Scrape-Timeout-Seconds (and the upper bound when it does).
    #[arg(long = "scrape.timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub scrape_timeout: Duration,

    /// Serve a target's last good snapshot after a missed read until it is this old.
    #[arg(long = "scrape.stale-after", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub stale_after: Duration,

    /// Also export Kafka's -rate metrics (off by default: rate() of the counter gives them).
    #[arg(long = "kafka.rates")]
    pub rates: bool,

    /// Measure consumer-group lag of the watched apps against these brokers.
    #[arg(long = "kafka.bootstrap-servers", value_name = "HOST:PORT,...", value_parser = parse_bootstrap)]
    pub kafka_bootstrap_servers: Option<String>,

    /// How often to measure consumer-group lag.
    #[arg(long = "lag.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration)]
    pub lag_interval: Duration,

    /// Measure only the groups of lag shard I of N (0 <= I < N; by Kafka's
    /// murmur2 hash of the group id): N replicas split a cluster's groups.
    #[arg(long = "lag.shard", value_name = "I/N")]
    pub lag_shard: Option<crate::lag::Shard>,

    /// Also measure the lag of every consumer group whose id matches (`.*`: all).
    #[arg(long = "lag.group.match", value_name = "REGEX", value_parser = parse_regex)]
    pub lag_group_match: Option<Regex>,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// The credentials file of one remote target, as URL=FILE (repeatable;
    /// wins over --jmx.credentials-file for that URL).
    #[arg(long = "target.credentials-file", value_name = "URL=FILE")]
    pub target_credentials: Vec<TargetCredentials>,

    /// Benchmark baseline: read explicit JVM targets with one getAttribute per attribute.
    #[arg(long = "bench.per-attribute-reads", hide = true)]
    pub per_attribute_reads: bool,

    /// Benchmark baseline: read every attribute, also those no enabled group serves.
    #[arg(long = "bench.all-attributes", hide = true)]
    pub all_attributes: bool,

    #[command(flatten)]
    pub groups: GroupFlags,

    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse::<SocketAddr>()
        .map_err(|e| format!("{e} (expected host:port, e.g. {DEFAULT_LISTEN})"))
}

fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s == "/" || s == "/healthz" {
        return Err("must start with '/' and not be '/' or '/healthz'".into());
    }
    Ok(s.to_string())
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| e.to_string())
}

fn parse_bootstrap(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("is empty".into());
    }
    Ok(s.trim().to_string())
}

impl Settings {
    /// Discovery is on unless targets were named without a match pattern.
    pub fn discovery(&self) -> bool {
        self.discovery
            .unwrap_or(self.targets.is_empty() || self.target_match.is_some())
    }

    /// The metric groups and options every JMX source applies.
    pub fn options(&self) -> Options {
        let mut options = Options {
            rates: self.rates,
            limits: self.limits.limits(),
            ..Options::default()
        };
        for (name, on) in &self.groups.0 {
            options.groups.retain(|g| g != name);
            if let (true, Some(g)) = (*on, crate::streams::group(name)) {
                options.groups.push(g.name);
            }
        }
        options
            .groups
            .sort_by_key(|n| GROUPS.iter().position(|g| g.name == *n));
        options
    }

    /// The connection for a pid or URL target, with its credentials.
    fn jvm_target(&self, id: &TargetId) -> anyhow::Result<Option<Target>> {
        let creds = match id {
            TargetId::Url(url) => match self.target_credentials.iter().find(|c| &c.url == url) {
                Some(c) => Some(Credentials::from_file(&c.file)?),
                None => self.credentials.load()?,
            },
            _ => None,
        };
        Ok(Target::for_id(id, creds)?)
    }
}

/// `--group.<name>` / `--no-group.<name>` for every entry of `streams::GROUPS`.
#[derive(Debug, Clone, Default)]
pub struct GroupFlags(pub BTreeMap<String, bool>);

fn leak(s: String) -> &'static str {
    // Flag names are built once at start-up from the fixed group list.
    Box::leak(s.into_boxed_str())
}

impl clap::Args for GroupFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for g in GROUPS {
            let on = leak(format!("group.{}", g.name));
            let off = leak(format!("no-group.{}", g.name));
            let state = if g.default_on { "on" } else { "off" };
            cmd = cmd
                .arg(
                    Arg::new(on)
                        .long(on)
                        .action(ArgAction::SetTrue)
                        .overrides_with(off)
                        .help(format!(
                            "Enable the {} group: {} [default: {state}]",
                            g.name, g.help
                        )),
                )
                .arg(
                    Arg::new(off)
                        .long(off)
                        .action(ArgAction::SetTrue)
                        .overrides_with(on)
                        .help(format!("Disable the {} group", g.name)),
                );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for GroupFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut out = BTreeMap::new();
        for g in GROUPS {
            let on = format!("group.{}", g.name);
            let off = format!("no-group.{}", g.name);
            if m.try_get_one::<bool>(&on).ok().flatten() == Some(&true) {
                out.insert(g.name.to_string(), true);
            }
            if m.try_get_one::<bool>(&off).ok().flatten() == Some(&true) {
                out.insert(g.name.to_string(), false);
            }
        }
        Ok(GroupFlags(out))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// Threads for blocking work (encoding, merging, building families, bcrypt):
/// every request shares them, so the thread count does not follow the
/// number of clients.
const BLOCKING_THREADS: usize = 4;
/// How long closing the embedded JVM's connections may take on shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(*args.settings));
    // Blocking work still running (an encode for a dropped connection) is not waited for long.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // A scrape must end (with what it has) before the request timeout cuts it.
    let max_deadline = settings
        .scrape_timeout
        .min(settings.request_timeout.mul_f64(0.9));
    if max_deadline < settings.scrape_timeout {
        tracing::warn!(scrape_timeout = ?settings.scrape_timeout, request_timeout = ?settings.request_timeout, deadline = ?max_deadline, "--scrape.timeout is longer than --web.request-timeout allows: scrapes end earlier");
    }
    let scraper = Arc::new(Scraper::new(ScrapeSettings {
        max_deadline,
        stale_after: settings.stale_after,
    }));
    let mut options = settings.options();
    let lag = match &settings.kafka_bootstrap_servers {
        Some(bootstrap) => {
            let source =
                LagSource::builder(bootstrap, settings.scrape_timeout, settings.lag_interval)
                    .with_selection(settings.lag_group_match.clone(), settings.lag_shard)
                    .start()
                    .context("starting the consumer-lag monitor")?;
            tracing::info!(bootstrap = %bootstrap, interval = ?settings.lag_interval, shard = ?settings.lag_shard, "measuring consumer-group lag");
            let source = Arc::new(source);
            scraper.add(source.clone());
            Some(source)
        }
        None => None,
    };
    options.lag = lag.as_ref().map(|l| l.verdicts());
    let options = Arc::new(options);
    let mut explicit = Vec::new();
    for id in &settings.targets {
        match settings.jvm_target(id)? {
            Some(t) => explicit.push(t),
            None => {
                if let TargetId::File(path) = id {
                    scraper.add(Arc::new(JmxSource::file(path.clone(), options.clone())));
                }
            }
        }
    }
    let web = match &settings.web_config_file {
        Some(p) => Some(Arc::new(crate::web::WebConfig::load(p)?)),
        None => None,
    };
    let plan = Plan {
        explicit,
        discover: settings.discovery(),
        matcher: settings.target_match.clone(),
        probe: settings.discovery_probe,
        interval: settings.discovery_interval,
        options,
        mode: ReadMode {
            per_attribute: settings.per_attribute_reads,
            requery: false,
            all_attributes: settings.all_attributes,
        },
        lag,
        state_interval: (!settings.state_poller_interval.is_zero())
            .then_some(settings.state_poller_interval),
    };
    let watcher = discovery::start(scraper.clone(), plan)?;

    let listener = tokio::net::TcpListener::bind(settings.listen_address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--web.listen-address)",
                settings.listen_address
            )
        })?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, path = %settings.telemetry_path, "serving");
    let scheme = match &web {
        Some(w) if w.current().tls.is_some() => "https",
        _ => "http",
    };
    eprintln!(
        "ksbridge serve: listening on {scheme}://{local}{} (default {DEFAULT_LISTEN})",
        settings.telemetry_path
    );
    let app = crate::server::router(scraper, &settings.telemetry_path);
    let limits = crate::web::limits::Limits {
        max_requests: settings.max_requests,
        request_timeout: settings.request_timeout,
    };
    let served = crate::web::serve(listener, app, web, limits, shutdown_signal()).await;
    watcher.abort();
    close_connections().await;
    served.context("HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Closes the embedded JVM's connections (when it was started), so every
/// target learns at once that ksbridge went away.
async fn close_connections() {
    let Some(jvm) = crate::jvm::Jvm::started() else {
        return;
    };
    match jvm.close_all(CLOSE_TIMEOUT).await {
        Ok(n) => tracing::info!(connections = n, "closed the JVM connections"),
        Err(e) => tracing::warn!(error = %e, "closing the JVM connections failed"),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
