//! Which JVMs to read: explicit targets (pid, JMX URL), local JVMs discovered
//! from `/proc` evidence alone (Kafka Streams apps whose command line matches
//! `--target.match`; see `evidence`), attached to only then and kept when they
//! have `kafka.streams` beans,
//! and following an app across restarts by application id. Input: the config
//! and the scraper; output: targets added to and removed from the [`Scraper`].

pub mod evidence;
pub mod procfs;
pub mod source;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, TargetSpec};
use crate::jvm::{Jvm, JvmError, ReadMode, Target as JvmTarget};
use crate::scrape::{Scraper, Target};
use crate::streams;

pub use source::JvmSource;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot start the embedded JVM needed to read {what}: {source}")]
    Jvm { what: String, source: JvmError },
}

/// A discovered target that stays gone this long is dropped (its
/// `ksbridge_scrape_success` 0 stays visible meanwhile).
const GONE_GRACE: Duration = Duration::from_secs(60);
/// A JVM without Kafka Streams beans (or not matching) is probed again after this.
const REPROBE_AFTER: Duration = Duration::from_secs(60);
/// A JVM younger than this is not probed yet: attaching signals the process
/// (SIGQUIT), which a JVM still starting up may not handle yet.
const MIN_AGE_SECONDS: f64 = 3.0;
/// Connect and probe-read limit for a candidate JVM.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the explicit JVM targets and, when configured, discovery; returns
/// the background task (None when nothing needs the embedded JVM).
pub fn start(
    scraper: Arc<Scraper>,
    config: &Config,
    jvm_targets: Vec<TargetSpec>,
) -> Result<Option<tokio::task::JoinHandle<()>>, DiscoveryError> {
    if jvm_targets.is_empty() && !config.discovery {
        return Ok(None);
    }
    let what = if jvm_targets.is_empty() {
        "local JVMs (discovery)".to_string()
    } else {
        jvm_targets
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let jvm = Jvm::get().map_err(|source| DiscoveryError::Jvm { what, source })?;
    let patterns = source::patterns(&config.options);
    let mut explicit = Vec::new();
    for spec in jvm_targets {
        let target = match &spec {
            TargetSpec::Pid(pid) => JvmTarget::Pid(*pid),
            TargetSpec::Url(url) => JvmTarget::Url {
                url: url.clone(),
                credentials: None,
            },
            TargetSpec::File(_) => continue,
        };
        let description = match &spec {
            TargetSpec::Pid(pid) => procfs::main_class(*pid).unwrap_or_default(),
            _ => "remote JMX".to_string(),
        };
        let name = spec.name();
        explicit.push(name.clone());
        scraper.add_target(Arc::new(Target::new(
            name,
            description,
            Arc::new(
                JvmSource::new(jvm.clone(), target, patterns.clone()).with_mode(ReadMode {
                    per_attribute: config.per_attribute_reads,
                    requery: false,
                }),
            ),
        )));
    }
    let mut d = Discovery {
        jvm,
        scraper,
        patterns,
        discover: config.discovery,
        probe: config.discovery_probe,
        matcher: config.target_match.clone(),
        explicit,
        rejected: HashMap::new(),
        gone_since: HashMap::new(),
    };
    let interval = config.discovery_interval;
    Ok(Some(tokio::spawn(async move {
        loop {
            d.cycle().await;
            tokio::time::sleep(interval).await;
        }
    })))
}

struct Discovery {
    jvm: Jvm,
    scraper: Arc<Scraper>,
    patterns: Vec<String>,
    discover: bool,
    /// Attach to every safe JVM to look for Kafka Streams beans (`--discovery.probe`).
    probe: bool,
    matcher: Option<regex::Regex>,
    /// Names of targets given on the command line (never dropped, only replaced on restart).
    explicit: Vec<String>,
    rejected: HashMap<u32, Instant>,
    gone_since: HashMap<String, Instant>,
}

fn pid_of(name: &str) -> Option<u32> {
    name.strip_prefix("pid:")?.parse().ok()
}

impl Discovery {
    async fn cycle(&mut self) {
        let targets = self.scraper.targets();
        // Gone targets: remember since when; drop discovered ones after the grace.
        let mut gone: Vec<(String, Vec<String>)> = Vec::new();
        for t in &targets {
            let dead = t.is_gone() || pid_of(&t.name).is_some_and(|p| !procfs::alive(p));
            if !dead {
                self.gone_since.remove(&t.name);
                continue;
            }
            let since = *self
                .gone_since
                .entry(t.name.clone())
                .or_insert_with(Instant::now);
            if !self.explicit.contains(&t.name) && since.elapsed() > GONE_GRACE {
                tracing::info!(target_name = %t.name, "dropping a target that is gone");
                self.scraper.remove_target(&t.name);
                self.gone_since.remove(&t.name);
                continue;
            }
            gone.push((t.name.clone(), t.known_apps()));
        }
        let followable = gone.iter().any(|(_, apps)| !apps.is_empty());
        if !self.discover && !followable {
            return;
        }
        let gone_mains: Vec<String> = targets
            .iter()
            .filter(|t| {
                gone.iter()
                    .any(|(n, apps)| *n == t.name && !apps.is_empty())
            })
            .map(|t| {
                t.description
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .filter(|m| !m.is_empty())
            .collect();
        let watched: Vec<u32> = targets.iter().filter_map(|t| pid_of(&t.name)).collect();
        let root = evidence::ProcRoot::host();
        let mut candidates = evidence::jvm_pids(&root);
        if let Ok(list) = self.jvm.list_local().await {
            candidates.extend(list.into_iter().map(|j| j.pid));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let me = std::process::id();
        self.rejected.retain(|_, at| at.elapsed() < REPROBE_AFTER);
        for pid in candidates {
            if pid == me || watched.contains(&pid) || self.rejected.contains_key(&pid) {
                continue;
            }
            // Decided from /proc alone, before anything touches the process.
            let Ok(facts) = evidence::read_facts(&root, pid) else {
                continue;
            };
            if !facts.age_seconds.is_some_and(|a| a >= MIN_AGE_SECONDS) {
                continue;
            }
            let wanted = evidence::Wanted {
                matcher: self.matcher.as_ref(),
                restarted_mains: &gone_mains,
                probe: self.probe,
                only_restarts: !self.discover,
            };
            let verdict = evidence::attach_verdict_for(&facts, evidence::own_uid())
                .map_err(|r| r.to_string())
                .and_then(|_| evidence::discovery_verdict(&facts, &wanted));
            match verdict {
                Ok(why) => {
                    tracing::debug!(pid, why = %why, "attaching to a candidate");
                    let named = self
                        .matcher
                        .as_ref()
                        .is_some_and(|re| evidence::command_line_matches(re, &facts));
                    self.probe(pid, &gone, named).await;
                }
                Err(why) => {
                    tracing::debug!(pid, why = %why, "not attaching");
                    self.rejected.insert(pid, Instant::now());
                }
            }
        }
    }

    /// Connects to a candidate and adopts it when it has Kafka Streams beans
    /// and is wanted (discovery + match, or the restart of a gone target).
    async fn probe(&mut self, pid: u32, gone: &[(String, Vec<String>)], named: bool) {
        let target = JvmTarget::Pid(pid);
        let conn = match self.jvm.connect(target.clone(), PROBE_TIMEOUT).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(pid, error = %e, "not attachable");
                self.rejected.insert(pid, Instant::now());
                return;
            }
        };
        let read = self
            .jvm
            .read(
                conn,
                vec!["kafka.streams:type=stream-metrics,*".into()],
                PROBE_TIMEOUT,
            )
            .await;
        let apps: Vec<String> = match &read {
            Ok(r) => streams::client::clients(&r.snapshot)
                .into_iter()
                .map(|c| c.application_id)
                .collect(),
            Err(_) => Vec::new(),
        };
        let main = procfs::main_class(pid).unwrap_or_default();
        let replaces: Vec<&String> = gone
            .iter()
            .filter(|(_, known)| known.iter().any(|a| apps.contains(a)))
            .map(|(n, _)| n)
            .collect();
        let matches = match &self.matcher {
            None => true,
            Some(re) => named || re.is_match(&main) || apps.iter().any(|a| re.is_match(a)),
        };
        let wanted = !apps.is_empty() && ((self.discover && matches) || !replaces.is_empty());
        if !wanted {
            self.jvm.close(conn).await;
            self.rejected.insert(pid, Instant::now());
            return;
        }
        for old in &replaces {
            tracing::info!(old = %old, pid, apps = ?apps, "re-attached a restarted app");
            self.scraper.remove_target(old);
            self.gone_since.remove(*old);
            if let Some(i) = self.explicit.iter().position(|e| e == *old) {
                self.explicit[i] = format!("pid:{pid}");
            }
        }
        tracing::info!(pid, main = %crate::web::redact::command_line(&main), apps = ?apps, "watching a Kafka Streams JVM");
        let name = format!("pid:{pid}");
        self.scraper.add_target(Arc::new(Target::new(
            name,
            main,
            Arc::new(JvmSource::with_connection(
                self.jvm.clone(),
                target,
                self.patterns.clone(),
                conn,
            )),
        )));
    }
}
