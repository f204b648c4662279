//! `ksbridge serve`: flags (plus `--config.file`) -> validated `Config` ->
//! targets, discovery and the HTTP server until SIGTERM/Ctrl-C.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

use crate::config::{Config, RawConfig, TargetSpec, DEFAULT_LISTEN};
use crate::discovery;
use crate::lag::{self, CollectorSettings, LagMonitor, Selection};
use crate::scrape::{ExtraFamilies, FileSource, ScrapeSettings, Scraper, Target};
use crate::streams::GROUPS;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub settings: Box<Settings>,
}

/// The flags of `ksbridge serve` (boxed: they are many).
#[derive(Debug, clap::Args)]
pub struct Settings {
    /// TOML file with the same settings (kebab-case keys: listen-address,
    /// telemetry-path, targets, target-match, scrape-timeout, rates, [groups], ...); flags win.
    #[arg(long = "config.file", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:39134].
    #[arg(long = "web.listen-address", value_name = "HOST:PORT")]
    pub listen_address: Option<String>,

    /// Web configuration file (Prometheus exporter-toolkit format): TLS,
    /// client certificates, basic auth users (bcrypt), response headers;
    /// re-read when it changes. Applies to every endpoint.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// Path of the metrics endpoint [default: /metrics].
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,

    /// A JVM to read: a pid, a service:jmx: URL, or file:<capture.json>. Repeatable.
    /// Without any, every local JVM with kafka.streams beans is discovered.
    #[arg(long = "target", value_name = "PID|URL|file:PATH")]
    pub targets: Vec<String>,

    /// Only (or also, with --target) watch local JVMs whose main class or
    /// Kafka Streams application id matches this regex.
    #[arg(long = "target.match", value_name = "REGEX")]
    pub target_match: Option<String>,

    /// How often to look for new and stopped local JVMs [default: 10s].
    #[arg(long = "discovery.interval", value_name = "DURATION")]
    pub discovery_interval: Option<String>,

    /// Attach to every local JVM that can safely take it to look for Kafka
    /// Streams beans, instead of only to those /proc shows to be Streams apps.
    #[arg(long = "discovery.probe")]
    pub discovery_probe: bool,

    /// Longest read of a target per scrape when Prometheus sends no
    /// X-Prometheus-Scrape-Timeout-Seconds (and the upper bound when it does) [default: 10s].
    #[arg(long = "scrape.timeout", value_name = "DURATION")]
    pub scrape_timeout: Option<String>,

    /// Serve a target's last good snapshot after a missed read until it is this old [default: 5m].
    #[arg(long = "scrape.stale-after", value_name = "DURATION")]
    pub stale_after: Option<String>,

    /// Also export Kafka's -rate metrics (off by default: rate() of the counter gives them).
    #[arg(long = "kafka.rates")]
    pub rates: bool,

    /// Measure consumer-group lag of the watched apps against these brokers.
    #[arg(long = "kafka.bootstrap-servers", value_name = "HOST:PORT,...")]
    pub kafka_bootstrap_servers: Option<String>,

    /// How often to measure consumer-group lag [default: 15s].
    #[arg(long = "lag.interval", value_name = "DURATION")]
    pub lag_interval: Option<String>,

    /// Benchmark baseline: read explicit JVM targets with one getAttribute per attribute.
    #[arg(long = "bench.per-attribute-reads", hide = true)]
    pub per_attribute_reads: bool,

    #[command(flatten)]
    pub groups: GroupFlags,
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

impl Settings {
    fn raw(self) -> anyhow::Result<RawConfig> {
        let base = match &self.config_file {
            Some(p) => RawConfig::from_file(p)?,
            None => RawConfig::default(),
        };
        let flags = RawConfig {
            listen_address: self.listen_address,
            telemetry_path: self.telemetry_path,
            targets: self.targets,
            target_match: self.target_match,
            discovery: None,
            discovery_interval: self.discovery_interval,
            discovery_probe: self.discovery_probe.then_some(true),
            web_config_file: self.web_config_file,
            scrape_timeout: self.scrape_timeout,
            stale_after: self.stale_after,
            rates: self.rates.then_some(true),
            groups: self.groups.0,
            kafka_bootstrap_servers: self.kafka_bootstrap_servers,
            lag_interval: self.lag_interval,
            per_attribute_reads: self.per_attribute_reads,
        };
        Ok(flags.over(base))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_raw(args.settings.raw()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let mut extras: Vec<ExtraFamilies> = Vec::new();
    if let Some(bootstrap) = &config.kafka_bootstrap_servers {
        let monitor = Arc::new(
            LagMonitor::start(
                lag::client_config(bootstrap, &[]),
                config.scrape_timeout,
                config.lag_interval,
                Selection::default(),
                CollectorSettings::default(),
            )
            .context("starting the consumer-lag monitor")?,
        );
        tracing::info!(bootstrap = %bootstrap, interval = ?config.lag_interval, "measuring consumer-group lag");
        let source_target = bootstrap.clone();
        extras.push(Arc::new(move |apps: &[String]| {
            // Kafka Streams commits under its application id as the group id.
            monitor.add_groups(apps.iter().cloned());
            let snap = monitor.latest();
            let ids: HashMap<String, String> =
                apps.iter().map(|a| (a.clone(), a.clone())).collect();
            let mut out = snap
                .report
                .as_ref()
                .map(|r| crate::exposition::lag::families(r, &ids))
                .unwrap_or_default();
            out.extend(crate::exposition::lag::self_families(&snap, &source_target));
            out
        }));
    }
    let scraper = Arc::new(Scraper::new(
        ScrapeSettings {
            max_deadline: config.scrape_timeout,
            stale_after: config.stale_after,
            options: config.options.clone(),
        },
        extras,
    ));
    let mut jvm_targets = Vec::new();
    for spec in &config.targets {
        match spec {
            TargetSpec::File(path) => scraper.add_target(Arc::new(Target::new(
                spec.name(),
                format!("capture {}", path.display()),
                Arc::new(FileSource { path: path.clone() }),
            ))),
            other => jvm_targets.push(other.clone()),
        }
    }
    let web = match &config.web_config_file {
        Some(p) => Some(Arc::new(crate::web::WebConfig::load(p)?)),
        None => None,
    };
    let discovery = discovery::start(scraper.clone(), &config, jvm_targets)?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--web.listen-address)", config.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, path = %config.telemetry_path, "serving");
    let scheme = match &web {
        Some(w) if w.current().tls.is_some() => "https",
        _ => "http",
    };
    eprintln!(
        "ksbridge serve: listening on {scheme}://{local}{} (default {DEFAULT_LISTEN})",
        config.telemetry_path
    );
    let app = crate::server::router(scraper, &config.telemetry_path);
    crate::web::serve(listener, app, web, shutdown_signal())
        .await
        .context("HTTP server failed")?;
    if let Some(d) = discovery {
        d.abort();
    }
    tracing::info!("stopped");
    Ok(())
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
