//! Which JVMs to read: explicit targets (pid, JMX URL), local JVMs discovered
//! from `/proc` evidence alone (Kafka Streams apps whose command line matches
//! `--target.match`; see `evidence`), attached to only then and kept when they
//! have `kafka.streams` beans, following an app across restarts by application
//! id, and telling the lag source which apps are watched. Input: a [`Plan`]
//! and the scraper; output: JMX sources added to and removed from the [`Scraper`].

pub mod apps;
pub mod evidence;
pub mod procfs;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::jvm::{Jvm, JvmError, LocalJvm, ReadMode, Target};
use crate::scrape::Scraper;
use crate::source::jmx::JmxSource;
use crate::source::lag::LagSource;
use crate::source::state_poller::StatePoller;
use crate::streams::{self, Options};
use crate::target::TargetId;

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
/// Connect and probe-read limit for a candidate JVM. Generous: only JVMs
/// that /proc shows to be wanted are probed, and the first attach to a busy
/// JVM (its attach listener and management agent starting) can take seconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Every local JVM: the attach API's list plus the Java processes it misses
/// (started with `-XX:-UsePerfData`) from `/proc`; never ksbridge itself.
pub async fn local_jvms(jvm: &Jvm) -> Result<Vec<LocalJvm>, JvmError> {
    let mut list = jvm.list_local().await?;
    let me = std::process::id();
    for pid in procfs::java_pids() {
        if pid != me && !list.iter().any(|j| j.pid == pid) {
            list.push(LocalJvm {
                pid,
                user: procfs::user(pid),
                display_name: procfs::main_class(pid).unwrap_or_default(),
            });
        }
    }
    list.sort_by_key(|j| j.pid);
    Ok(list)
}

/// What to watch and how.
pub struct Plan {
    /// JVMs named by the user (never dropped; replaced when their app restarts).
    pub explicit: Vec<Target>,
    /// Look for local Kafka Streams JVMs.
    pub discover: bool,
    /// Only adopt discovered JVMs whose command line (before attaching) and
    /// main class or application id (after) match.
    pub matcher: Option<regex::Regex>,
    /// Attach to every local JVM that can safely take it to look for Kafka
    /// Streams beans, instead of only to those /proc shows to be Streams apps.
    pub probe: bool,
    pub interval: Duration,
    pub options: Arc<Options>,
    /// How explicit targets are read (the per-attribute mode is a benchmark baseline).
    pub mode: ReadMode,
    /// Told which Kafka Streams apps are watched, when that changes.
    pub lag: Option<Arc<LagSource>>,
    /// Poll client and thread states this often between scrapes (None: off).
    pub state_interval: Option<Duration>,
}

/// Registers the explicit JVM targets and starts the watch loop (discovery,
/// restarts, following apps for the lag source). The embedded JVM is only
/// started when a JVM is to be read.
pub fn start(
    scraper: Arc<Scraper>,
    plan: Plan,
) -> Result<tokio::task::JoinHandle<()>, DiscoveryError> {
    let jvm = if plan.explicit.is_empty() && !plan.discover {
        None
    } else {
        let what = if plan.explicit.is_empty() {
            "local JVMs (discovery)".to_string()
        } else {
            let names: Vec<String> = plan.explicit.iter().map(|t| t.id().to_string()).collect();
            names.join(", ")
        };
        Some(Jvm::get().map_err(|source| DiscoveryError::Jvm { what, source })?)
    };
    let mut explicit = Vec::new();
    if let Some(jvm) = &jvm {
        for target in &plan.explicit {
            let description = match target {
                Target::Pid(pid) => procfs::main_class(*pid).unwrap_or_default(),
                Target::Url { .. } => "remote JMX".to_string(),
            };
            explicit.push(target.id().to_string());
            let source = JmxSource::live(
                jvm.clone(),
                target.clone(),
                description,
                plan.options.clone(),
                None,
            )
            .with_mode(plan.mode);
            scraper.add(Arc::new(source));
            if let Some(every) = plan.state_interval {
                scraper.add(Arc::new(
                    StatePoller::start(jvm.clone(), target.clone(), every)
                        .with_label_length(plan.options.limits.label_length),
                ));
            }
        }
    }
    let mut d = Discovery {
        jvm,
        scraper,
        options: plan.options,
        discover: plan.discover,
        probe: plan.probe,
        matcher: plan.matcher,
        lag: plan.lag,
        followed: Vec::new(),
        explicit,
        rejected: HashMap::new(),
        gone_since: HashMap::new(),
        state_interval: plan.state_interval,
    };
    let interval = plan.interval;
    Ok(tokio::spawn(async move {
        loop {
            d.cycle().await;
            tokio::time::sleep(interval).await;
        }
    }))
}

struct Discovery {
    /// The embedded JVM, when JVMs are read at all.
    jvm: Option<Jvm>,
    scraper: Arc<Scraper>,
    options: Arc<Options>,
    discover: bool,
    /// Attach to every safe JVM to look for Kafka Streams beans (`--discovery.probe`).
    probe: bool,
    matcher: Option<regex::Regex>,
    lag: Option<Arc<LagSource>>,
    /// Application ids last handed to the lag source.
    followed: Vec<String>,
    /// Targets given on the command line (never dropped, only replaced on restart).
    explicit: Vec<String>,
    rejected: HashMap<u32, Instant>,
    gone_since: HashMap<String, Instant>,
    state_interval: Option<Duration>,
}

/// A JVM target that is gone, and the apps it ran (to recognise their restart).
struct Gone {
    target: String,
    apps: Vec<String>,
    /// Its main class (a JVM with the same one may be its restart).
    main: String,
}

impl Discovery {
    async fn cycle(&mut self) {
        let gone = self.sweep_gone();
        if let Some(jvm) = self.jvm.clone() {
            if self.discover || gone.iter().any(|g| !g.apps.is_empty()) {
                self.look_for_jvms(&jvm, &gone).await;
            }
        }
        self.follow_apps();
    }

    /// JVM targets that are gone: remembered since when; discovered ones
    /// dropped after the grace period.
    fn sweep_gone(&mut self) -> Vec<Gone> {
        let mut gone = Vec::new();
        // A JVM has two slots (its JMX source and its state poller) under one
        // name: both go together.
        let mut dropped = std::collections::HashSet::new();
        for slot in self.scraper.slots() {
            let Some(id) = slot.source().jvm() else {
                continue;
            };
            let name = slot.target().to_string();
            if dropped.contains(&name) {
                continue;
            }
            let dead = slot.is_gone() || id.pid().is_some_and(|p| !procfs::alive(p));
            if !dead {
                self.gone_since.remove(&name);
                continue;
            }
            let since = *self
                .gone_since
                .entry(name.clone())
                .or_insert_with(Instant::now);
            if !self.explicit.contains(&name) && since.elapsed() > GONE_GRACE {
                tracing::info!(target_name = %name, "dropping a target that is gone");
                self.scraper.remove("jmx", &name);
                self.scraper.remove("state", &name);
                self.gone_since.remove(&name);
                dropped.insert(name);
                continue;
            }
            gone.push(Gone {
                target: name,
                apps: slot.known_apps(),
                main: slot
                    .source()
                    .description()
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            });
        }
        gone
    }

    /// Attaches to local JVMs not watched yet that /proc shows to be wanted.
    async fn look_for_jvms(&mut self, jvm: &Jvm, gone: &[Gone]) {
        let watched: Vec<u32> = self
            .scraper
            .slots()
            .iter()
            .filter_map(|s| s.source().jvm().and_then(TargetId::pid))
            .collect();
        let gone_mains: Vec<String> = gone
            .iter()
            .filter(|g| !g.apps.is_empty() && !g.main.is_empty())
            .map(|g| g.main.clone())
            .collect();
        let root = evidence::ProcRoot::host();
        // From /proc alone, not also from the attach API's list: that list
        // maps every listed JVM's hsperfdata file (32 KB each) and the
        // mappings are never released (about 0.35 MB per restart in the
        // 50-restart test, and as much per minute with a few JVMs on the
        // host), while /proc already shows every HotSpot JVM it would list.
        let mut candidates = evidence::jvm_pids(&root);
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
                    self.probe(jvm, pid, gone, named).await;
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
    async fn probe(&mut self, jvm: &Jvm, pid: u32, gone: &[Gone], named: bool) {
        let target = Target::Pid(pid);
        let conn = match jvm.connect(target.clone(), PROBE_TIMEOUT).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(pid, error = %e, "not attachable");
                self.rejected.insert(pid, Instant::now());
                return;
            }
        };
        let read = jvm
            .read(conn, vec![streams::CLIENT_BEANS.pattern()], PROBE_TIMEOUT)
            .await;
        let apps = match &read {
            Ok(r) => streams::client::application_ids(&r.snapshot),
            Err(_) => Vec::new(),
        };
        let main = procfs::main_class(pid).unwrap_or_default();
        let replaces: Vec<&str> = gone
            .iter()
            .filter(|g| g.apps.iter().any(|a| apps.contains(a)))
            .map(|g| g.target.as_str())
            .collect();
        let matches = match &self.matcher {
            None => true,
            Some(re) => named || re.is_match(&main) || apps.iter().any(|a| re.is_match(a)),
        };
        let wanted = !apps.is_empty() && ((self.discover && matches) || !replaces.is_empty());
        if !wanted {
            jvm.close(conn).await;
            self.rejected.insert(pid, Instant::now());
            return;
        }
        let id = target.id().to_string();
        for old in &replaces {
            tracing::info!(old = %old, pid, apps = ?apps, "re-attached a restarted app");
            self.scraper.remove("jmx", old);
            self.scraper.remove("state", old);
            self.gone_since.remove(*old);
            if let Some(i) = self.explicit.iter().position(|e| e == old) {
                self.explicit[i] = id.clone();
            }
        }
        tracing::info!(pid, main = %crate::web::redact::command_line(&main), apps = ?apps, "watching a Kafka Streams JVM");
        if let Some(every) = self.state_interval {
            self.scraper.add(Arc::new(
                StatePoller::start(jvm.clone(), target.clone(), every)
                    .with_label_length(self.options.limits.label_length),
            ));
        }
        let source = JmxSource::live(jvm.clone(), target, main, self.options.clone(), Some(conn));
        self.scraper.add(Arc::new(source));
    }

    /// Tells the lag source about apps seen for the first time.
    fn follow_apps(&mut self) {
        let Some(lag) = &self.lag else {
            return;
        };
        let apps = self.scraper.known_apps();
        if apps != self.followed {
            lag.follow(apps.iter().cloned());
            self.followed = apps;
        }
    }
}
