//! Validated, immutable configuration of `ksbridge serve`, built from flags
//! and an optional TOML file (`--config.file`; flags win). Input: [`RawConfig`]
//! values; output: a [`Config`] or a [`ConfigError`] that names the bad setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::streams::{self, Options};

/// Default listen address. The Prometheus wiki's default-port list filled its
/// 9100-9999 exporter range in 2023; 39134 sits outside it, in the overflow area
/// other exporters now use (see README "Port"). Loopback unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:39134";

/// A target named on the command line or in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A local JVM by pid (attach).
    Pid(u32),
    /// A remote JVM by `service:jmx:` URL.
    Url(String),
    /// A capture file (`file:<path>`), re-read on every scrape.
    File(PathBuf),
}

impl TargetSpec {
    pub fn parse(s: &str) -> Result<TargetSpec, ConfigError> {
        let s = s.trim();
        if let Ok(pid) = s.parse::<u32>() {
            return Ok(TargetSpec::Pid(pid));
        }
        if s.starts_with("service:jmx:") {
            return Ok(TargetSpec::Url(s.to_string()));
        }
        if let Some(p) = s.strip_prefix("file:") {
            if p.is_empty() {
                return Err(ConfigError::Target(s.to_string(), "empty path".into()));
            }
            return Ok(TargetSpec::File(PathBuf::from(p)));
        }
        Err(ConfigError::Target(
            s.to_string(),
            "expected a pid, a service:jmx: URL or file:<capture.json>".into(),
        ))
    }

    /// The `target` label value.
    pub fn name(&self) -> String {
        match self {
            TargetSpec::Pid(p) => format!("pid:{p}"),
            TargetSpec::Url(u) => u.clone(),
            TargetSpec::File(p) => format!("file:{}", p.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    ReadFile(String, std::io::Error),
    #[error("config file {0}: {1}")]
    ParseFile(String, String),
    #[error("web.listen-address {0:?}: {1}")]
    Listen(String, String),
    #[error("web.telemetry-path {0:?}: must start with '/' and not be '/' or '/healthz'")]
    TelemetryPath(String),
    #[error("target {0:?}: {1}")]
    Target(String, String),
    #[error("target.match {0:?}: {1}")]
    Match(String, String),
    #[error("{0} {1:?}: {2}")]
    Duration(&'static str, String, String),
    #[error("unknown metric group {0:?} (known: {1})")]
    Group(String, String),
    #[error("{0}")]
    Invalid(String),
}

/// Settings as given (every field optional), from flags or the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    pub target_match: Option<String>,
    pub discovery: Option<bool>,
    pub discovery_interval: Option<String>,
    pub discovery_probe: Option<bool>,
    pub web_config_file: Option<std::path::PathBuf>,
    pub scrape_timeout: Option<String>,
    pub stale_after: Option<String>,
    pub rates: Option<bool>,
    /// Group name -> enabled.
    #[serde(default)]
    pub groups: std::collections::BTreeMap<String, bool>,
    pub kafka_bootstrap_servers: Option<String>,
    pub lag_interval: Option<String>,
    #[serde(skip)]
    pub per_attribute_reads: bool,
}

impl RawConfig {
    pub fn from_file(path: &std::path::Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::ReadFile(path.display().to_string(), e))?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::ParseFile(path.display().to_string(), e.to_string()))
    }

    /// `self` (flags) over `base` (file): scalars replace, targets add up, groups merge.
    pub fn over(self, base: RawConfig) -> RawConfig {
        let mut groups = base.groups;
        groups.extend(self.groups);
        let mut targets = base.targets;
        targets.extend(self.targets);
        RawConfig {
            listen_address: self.listen_address.or(base.listen_address),
            telemetry_path: self.telemetry_path.or(base.telemetry_path),
            targets,
            target_match: self.target_match.or(base.target_match),
            discovery: self.discovery.or(base.discovery),
            discovery_interval: self.discovery_interval.or(base.discovery_interval),
            discovery_probe: self.discovery_probe.or(base.discovery_probe),
            web_config_file: self.web_config_file.or(base.web_config_file),
            scrape_timeout: self.scrape_timeout.or(base.scrape_timeout),
            stale_after: self.stale_after.or(base.stale_after),
            rates: self.rates.or(base.rates),
            groups,
            kafka_bootstrap_servers: self
                .kafka_bootstrap_servers
                .or(base.kafka_bootstrap_servers),
            lag_interval: self.lag_interval.or(base.lag_interval),
            per_attribute_reads: self.per_attribute_reads || base.per_attribute_reads,
        }
    }
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub telemetry_path: String,
    pub targets: Vec<TargetSpec>,
    pub target_match: Option<Regex>,
    /// Discover local JVMs (default: on when no explicit target is given or
    /// when `target.match` is set).
    pub discovery: bool,
    pub discovery_interval: Duration,
    /// Attach to every local JVM that can take it to look for Kafka Streams
    /// beans, instead of deciding from `/proc` evidence first.
    pub discovery_probe: bool,
    /// Exporter-toolkit web configuration (TLS, basic auth, headers).
    pub web_config_file: Option<std::path::PathBuf>,
    pub scrape_timeout: Duration,
    pub stale_after: Duration,
    pub options: Options,
    pub kafka_bootstrap_servers: Option<String>,
    pub lag_interval: Duration,
    /// Read explicit JVM targets one attribute at a time (benchmark baseline only).
    pub per_attribute_reads: bool,
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let listen_s = raw
            .listen_address
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = parse_listen(&listen_s)?;
        let telemetry_path = raw.telemetry_path.unwrap_or_else(|| "/metrics".into());
        if !telemetry_path.starts_with('/') || telemetry_path == "/" || telemetry_path == "/healthz"
        {
            return Err(ConfigError::TelemetryPath(telemetry_path));
        }
        let targets = raw
            .targets
            .iter()
            .map(|t| TargetSpec::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let target_match = raw
            .target_match
            .map(|m| Regex::new(&m).map_err(|e| ConfigError::Match(m.clone(), e.to_string())))
            .transpose()?;
        let discovery = raw
            .discovery
            .unwrap_or(targets.is_empty() || target_match.is_some());
        let mut options = Options {
            rates: raw.rates.unwrap_or(false),
            ..Options::default()
        };
        for (name, on) in &raw.groups {
            let Some(g) = streams::group(name) else {
                let known: Vec<&str> = streams::GROUPS.iter().map(|g| g.name).collect();
                return Err(ConfigError::Group(name.clone(), known.join(", ")));
            };
            options.groups.retain(|x| *x != g.name);
            if *on {
                options.groups.push(g.name);
            }
        }
        options
            .groups
            .sort_by_key(|n| streams::GROUPS.iter().position(|g| g.name == *n));
        let d = |field: &'static str, v: Option<String>, default: &str| {
            let s = v.unwrap_or_else(|| default.to_string());
            parse_duration(&s).map_err(|e| ConfigError::Duration(field, s.clone(), e))
        };
        let scrape_timeout = d("scrape.timeout", raw.scrape_timeout, "10s")?;
        let discovery_interval = d("discovery.interval", raw.discovery_interval, "10s")?;
        let stale_after = d("scrape.stale-after", raw.stale_after, "5m")?;
        let lag_interval = d("lag.interval", raw.lag_interval, "15s")?;
        for (name, v) in [
            ("scrape.timeout", scrape_timeout),
            ("discovery.interval", discovery_interval),
            ("lag.interval", lag_interval),
        ] {
            if v.is_zero() {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        if let Some(b) = &raw.kafka_bootstrap_servers {
            if b.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "kafka.bootstrap-servers is empty".into(),
                ));
            }
        }
        Ok(Config {
            listen,
            telemetry_path,
            targets,
            target_match,
            discovery,
            discovery_interval,
            discovery_probe: raw.discovery_probe.unwrap_or(false),
            web_config_file: raw.web_config_file,
            scrape_timeout,
            stale_after,
            options,
            kafka_bootstrap_servers: raw.kafka_bootstrap_servers,
            lag_interval,
            per_attribute_reads: raw.per_attribute_reads,
        })
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse::<SocketAddr>().map_err(|e| {
        ConfigError::Listen(
            s.to_string(),
            format!("{e} (expected host:port, e.g. 127.0.0.1:39134)"),
        )
    })
}

/// `500ms`, `10s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| "expected a number with a unit (ms, s, m, h)".to_string())?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err("out of range".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.telemetry_path, "/metrics");
        assert!(c.discovery);
        assert!(!c.options.rates);
        assert!(c.options.groups.contains(&"thread"));
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |r: RawConfig| Config::from_raw(r).unwrap_err().to_string();
        assert!(bad(RawConfig {
            listen_address: Some("nope".into()),
            ..Default::default()
        })
        .contains("web.listen-address"));
        assert!(bad(RawConfig {
            targets: vec!["x".into()],
            ..Default::default()
        })
        .contains("target \"x\""));
        assert!(bad(RawConfig {
            target_match: Some("(".into()),
            ..Default::default()
        })
        .contains("target.match"));
        let mut groups = std::collections::BTreeMap::new();
        groups.insert("nope".to_string(), true);
        assert!(bad(RawConfig {
            groups,
            ..Default::default()
        })
        .contains("unknown metric group"));
        assert!(bad(RawConfig {
            scrape_timeout: Some("3 parsecs".into()),
            ..Default::default()
        })
        .contains("scrape.timeout"));
    }

    #[test]
    fn file_then_flags() {
        let file: RawConfig = toml::from_str(
            "listen-address = \"127.0.0.1:1\"\ntargets = [\"1\"]\nrates = true\n[groups]\nrocksdb = false\n",
        )
        .unwrap();
        let flags = RawConfig {
            listen_address: Some("127.0.0.1:2".into()),
            targets: vec!["file:/x.json".into()],
            ..Default::default()
        };
        let c = Config::from_raw(flags.over(file)).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.targets.len(), 2);
        assert!(c.options.rates);
        assert!(!c.options.groups.contains(&"rocksdb"));
        assert!(!c.discovery);
        assert!(toml::from_str::<RawConfig>("bogus = 1").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("x").is_err());
    }
}
