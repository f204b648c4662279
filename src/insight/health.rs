//! Health of an application: healthy, degraded or failed, with reasons in
//! plain words and a stable code for each (the `reason` label of
//! `kafka_streams_health`). Input: an [`App`] (and optional expectations);
//! output: [`Health`].

use serde::Serialize;

use super::{App, Instance, ThreadKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Degraded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
        }
    }

    /// The process exit code of `ksbridge status`: 0, 1, 2.
    pub fn exit_code(self) -> u8 {
        self as u8
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub status: Status,
    /// Stable code: `error`, `not_running`, `no_threads`, `thread_failed`,
    /// `thread_dead`, `threads_missing`, `rebalancing`, `not_started`,
    /// `restoring`, `stuck`.
    pub code: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub status: Status,
    pub reasons: Vec<Reason>,
}

impl Health {
    /// The code of the worst reason (`ok` when healthy).
    pub fn reason(&self) -> &'static str {
        self.reasons
            .iter()
            .max_by_key(|r| r.status)
            .map(|r| r.code)
            .unwrap_or("ok")
    }
}

/// What the caller expects beyond what the beans say.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// `num.stream.threads` per instance, when known.
    pub threads: Option<u32>,
}

/// Judges one instance.
pub fn instance(i: &Instance, expect: &Expect) -> Vec<Reason> {
    let mut out = Vec::new();
    let mut add = |status, code, text: String| out.push(Reason { status, code, text });
    let who = &i.source;
    match i.state.as_deref() {
        Some(s @ ("ERROR" | "PENDING_ERROR")) => add(
            Status::Failed,
            "error",
            format!("{who}: the client is in {s}: every stream thread died or it was shut down after an uncaught exception"),
        ),
        Some(s @ ("NOT_RUNNING" | "PENDING_SHUTDOWN")) => add(
            Status::Failed,
            "not_running",
            format!("{who}: the client is {s} (closed or closing)"),
        ),
        Some("REBALANCING") => add(
            Status::Degraded,
            "rebalancing",
            format!("{who}: rebalancing: tasks are being (re)assigned, processing is paused"),
        ),
        Some("CREATED") => add(
            Status::Degraded,
            "not_started",
            format!("{who}: created but not started"),
        ),
        None => add(
            Status::Degraded,
            "unknown_state",
            format!("{who}: the client's state attribute is not readable"),
        ),
        _ => {}
    }
    let running = matches!(i.state.as_deref(), Some("RUNNING" | "REBALANCING"));
    if running && i.alive_threads == Some(0.0) {
        add(
            Status::Failed,
            "no_threads",
            format!("{who}: no stream thread is alive"),
        );
    }
    if let Some(n) = i.failed_threads.filter(|n| *n > 0.0) {
        add(
            Status::Degraded,
            "thread_failed",
            format!(
                "{who}: {n} stream thread(s) died since start (uncaught exception; replaced if alive threads are back to the configured count)"
            ),
        );
    }
    for t in &i.threads {
        if t.state.as_deref() == Some("DEAD") && t.kind != ThreadKind::StateUpdater {
            add(
                Status::Degraded,
                "thread_dead",
                format!("{who}: thread {} is DEAD", t.name),
            );
        }
    }
    if let (Some(want), Some(alive)) = (expect.threads, i.alive_threads) {
        if alive < f64::from(want) {
            add(
                Status::Degraded,
                "threads_missing",
                format!("{who}: {alive} of {want} stream threads alive"),
            );
        }
    }
    if !i.restoring.is_empty() {
        let remaining: f64 = i.restoring.iter().map(|r| r.remaining).sum();
        add(
            Status::Degraded,
            "restoring",
            format!(
                "{who}: {} task(s) restoring state, {remaining} records to go",
                i.restoring.len()
            ),
        );
    }
    out
}

/// Judges every instance of an application; the worst finding decides.
pub fn judge(app: &App, expect: &Expect) -> Health {
    let mut reasons: Vec<Reason> = app
        .instances
        .iter()
        .flat_map(|i| instance(i, expect))
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.status));
    let status = reasons
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(Status::Healthy);
    Health { status, reasons }
}

/// Adds a finding from outside the beans (input lag, for instance).
pub fn add(h: &mut Health, r: Reason) {
    h.status = h.status.max(r.status);
    h.reasons.push(r);
    h.reasons.sort_by_key(|r| std::cmp::Reverse(r.status));
}
