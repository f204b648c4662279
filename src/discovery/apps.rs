//! Finding where a Kafka Streams application runs: the local JVMs (attach
//! list and `/proc`) whose `kafka.streams:type=stream-metrics` beans name the
//! application id. Input: an application id and optional candidate pids;
//! output: the [`Instance`]s that run it.

use std::time::Duration;

use crate::jvm::{Jvm, JvmError, Target};
use crate::streams::{self, StreamsApp};

use super::procfs;

/// The beans that say which applications a JVM runs.
pub const CLIENT_PATTERN: &str = "kafka.streams:type=stream-metrics,*";

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("cannot list local JVMs while looking for application {application_id}: {source}")]
    List {
        application_id: String,
        source: JvmError,
    },
}

/// One JVM running (a client of) the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub pid: u32,
    /// The application's clients in that JVM (usually one).
    pub clients: Vec<StreamsApp>,
}

impl Instance {
    pub fn target(&self) -> Target {
        Target::Pid(self.pid)
    }
}

/// The local JVMs that run `application_id`, by pid. With `among`, only those
/// pids (that are Java processes) are considered (tests pass their own JVMs; scripts can narrow the
/// search). JVMs that are unsafe to attach to (`-Xrs`, attach disabled),
/// younger than `min_age`, or ksbridge itself are skipped; a JVM that cannot
/// be read is skipped with a debug log.
pub async fn find(
    jvm: &Jvm,
    application_id: &str,
    among: Option<&[u32]>,
    timeout: Duration,
    min_age: Duration,
) -> Result<Vec<Instance>, AppsError> {
    let mut candidates: Vec<u32> = match among {
        // Only Java processes: attaching signals the process (SIGQUIT).
        Some(pids) => {
            let java = procfs::java_pids();
            pids.iter().copied().filter(|p| java.contains(p)).collect()
        }
        None => {
            let mut c = procfs::java_pids();
            let listed = jvm.list_local().await.map_err(|source| AppsError::List {
                application_id: application_id.to_string(),
                source,
            })?;
            c.extend(listed.into_iter().map(|j| j.pid));
            c
        }
    };
    candidates.sort_unstable();
    candidates.dedup();
    let me = std::process::id();
    candidates.retain(|&pid| {
        pid != me
            && procfs::attach_safe(pid)
            && procfs::age_seconds(pid).is_some_and(|a| a >= min_age.as_secs_f64())
    });
    let probes: Vec<_> = candidates
        .into_iter()
        .map(|pid| {
            let jvm = jvm.clone();
            tokio::spawn(async move { (pid, clients_of(&jvm, pid, timeout).await) })
        })
        .collect();
    let mut out = Vec::new();
    for p in probes {
        let Ok((pid, result)) = p.await else { continue };
        match result {
            Ok(clients) => {
                let clients: Vec<StreamsApp> = clients
                    .into_iter()
                    .filter(|c| c.application_id == application_id)
                    .collect();
                if !clients.is_empty() {
                    out.push(Instance { pid, clients });
                }
            }
            Err(e) => {
                tracing::debug!(pid, error = %e, "JVM not readable while looking for an application")
            }
        }
    }
    out.sort_by_key(|i| i.pid);
    Ok(out)
}

/// The Kafka Streams clients of one local JVM.
async fn clients_of(jvm: &Jvm, pid: u32, timeout: Duration) -> Result<Vec<StreamsApp>, JvmError> {
    let conn = jvm.connect(Target::Pid(pid), timeout).await?;
    let read = jvm.read(conn, vec![CLIENT_PATTERN.into()], timeout).await;
    jvm.close(conn).await;
    Ok(streams::apps(&read?.snapshot))
}
