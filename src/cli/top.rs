//! `ksbridge top`: a live full-screen view of every Kafka Streams app on the
//! host (or the targets given), one row per app, Enter to drill into one.
//! Reads go through the same single-flight JMX sources (`source::jmx` in
//! `scrape::Slot`s) as `serve`, input lag through the lag monitor
//! (`lag::LagMonitor`) when `--bootstrap-server` is given; the terminal
//! (ratatui + crossterm) is restored on every exit path: q, Ctrl-C, SIGTERM,
//! a panic. Targets given with `--target` are connected to once before the
//! screen opens, so a dead pid, a non-JVM or wrong credentials end with the
//! console's exit codes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::console::top::{num_stream_threads, AppRow, SortBy, Top};
use crate::console::{bytes, duration_text};
use crate::discovery::evidence::{self, ProcRoot};
use crate::discovery::procfs;
use crate::insight::interceptors::percentiles_text;
use crate::jvm::{Jvm, Target};
use crate::lag::{self, CollectorSettings, LagMonitor, Selection};
use crate::scrape::Slot;
use crate::settings::parse_duration;
use crate::source::jmx::JmxSource;
use crate::streams::{Options, GROUPS};
use crate::target::TargetId;

use super::target::CredentialArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JVM to watch (pid, service:jmx: URL or file:capture.json), repeatable.
    /// Default: every local JVM with Kafka Streams beans.
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<TargetId>,

    /// Only local JVMs whose command line (main class and arguments) matches this regex;
    /// checked before attaching.
    #[arg(long = "target.match", value_name = "REGEX")]
    pub target_match: Option<regex::Regex>,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Time between refreshes.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Longest wait for attaching and for each read.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Also show each app's input lag and its trend (its consumer group is its application id).
    #[arg(long = "bootstrap-server", value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,

    /// num.stream.threads of every app, for the THREADS column's alive/configured
    /// (default: found on each JVM's command line, else the most threads seen).
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
}

/// A watched JVM.
struct Watched {
    slot: Arc<Slot>,
    explicit: bool,
    pid: Option<u32>,
    gone_since: Option<Instant>,
}

/// A gone discovered JVM's row stays this long (the restart shows beside it).
const GONE_GRACE: Duration = Duration::from_secs(30);
/// A local JVM younger than this is not probed yet (its agent may not be ready).
const MIN_AGE_SECONDS: f64 = 3.0;
/// A JVM without a Kafka Streams client is looked at again after this long.
const REPROBE_AFTER: Duration = Duration::from_secs(10);

/// The UI's view of the model plus the refresher's health.
struct Shared {
    top: Mutex<Top>,
    refreshed: Mutex<Option<Instant>>,
    quit: AtomicBool,
    /// `--bootstrap-server` was given: the input lag columns are shown.
    lag_on: bool,
}

/// The JMX sources to read: every group `top` shows, whatever serve's defaults are.
fn options() -> Arc<Options> {
    let mut o = Options::default();
    for g in [
        "client",
        "thread",
        "thread_cpu",
        "state_updater",
        "task",
        "processor_node",
        "store",
        "jvm",
        "interceptors",
    ] {
        if let Some(g) = GROUPS.iter().find(|x| x.name == g) {
            if !o.groups.contains(&g.name) {
                o.groups.push(g.name);
            }
        }
    }
    Arc::new(o)
}

struct Refresher {
    jvm: Option<Jvm>,
    options: Arc<Options>,
    matcher: Option<regex::Regex>,
    discover: bool,
    watched: HashMap<String, Watched>,
    /// Pids not to probe: for good (`None`), or until the instant (a JVM
    /// whose Kafka Streams client may not be created yet).
    rejected: HashMap<u32, Option<Instant>>,
    timeout: Duration,
    /// The lag monitor (with `--bootstrap-server`) and the groups it follows.
    lag: Option<LagMonitor>,
    lag_groups: BTreeSet<String>,
}

/// A file named on a process's command line, read as that process sees it
/// (relative to its working directory, inside its root), at most 1 MiB.
fn read_process_file(pid: u32, path: &str) -> Option<String> {
    use std::io::Read;
    let base = std::path::PathBuf::from(format!("/proc/{pid}"));
    let full = match path.strip_prefix('/') {
        Some(abs) => base.join("root").join(abs),
        None => base.join("cwd").join(path),
    };
    let mut text = String::new();
    std::fs::File::open(full)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// `num.stream.threads` from a local JVM's command line, when it shows it.
fn declared_threads(pid: u32) -> Option<u32> {
    let facts = evidence::read_facts(&ProcRoot::host(), pid).ok()?;
    num_stream_threads(facts.args.as_deref()?, |p| read_process_file(pid, p))
}

impl Refresher {
    fn add(&mut self, source: JmxSource, explicit: bool, pid: Option<u32>, shared: &Shared) {
        let slot = Arc::new(Slot::new(Arc::new(source)));
        if let Some(n) = pid.and_then(declared_threads) {
            crate::sync::lock(&shared.top, "top model").declare_threads(slot.target(), n);
        }
        self.watched.insert(
            slot.target().to_string(),
            Watched {
                slot,
                explicit,
                pid,
                gone_since: None,
            },
        );
    }

    /// Local JVMs not watched yet whose command line matches.
    fn discover(&mut self, shared: &Shared) {
        let (Some(jvm), true) = (self.jvm.clone(), self.discover) else {
            return;
        };
        let watched: HashSet<u32> = self.watched.values().filter_map(|w| w.pid).collect();
        let me = std::process::id();
        let now = Instant::now();
        self.rejected
            .retain(|_, until| !matches!(until, Some(u) if *u <= now));
        for pid in procfs::java_pids() {
            if pid == me || watched.contains(&pid) || self.rejected.contains_key(&pid) {
                continue;
            }
            if !procfs::age_seconds(pid).is_some_and(|a| a >= MIN_AGE_SECONDS)
                || !procfs::attach_safe(pid)
            {
                continue;
            }
            let main = procfs::main_class(pid).unwrap_or_default();
            if self.matcher.as_ref().is_some_and(|re| !re.is_match(&main)) {
                self.rejected.insert(pid, None);
                continue;
            }
            let source = JmxSource::live(
                jvm.clone(),
                Target::Pid(pid),
                main,
                self.options.clone(),
                None,
            );
            self.add(source, false, Some(pid), shared);
        }
    }

    /// Refreshes every watched JVM in parallel and updates the model.
    async fn cycle(&mut self, shared: &Shared) {
        self.discover(shared);
        let requested = Instant::now();
        let deadline = requested + self.timeout;
        let mut set = tokio::task::JoinSet::new();
        for (target, w) in &self.watched {
            let (slot, target) = (w.slot.clone(), target.clone());
            set.spawn(async move { (target, slot.refresh(requested, deadline).await) });
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                results.push(r);
            }
        }
        let mut drop_targets = Vec::new();
        {
            let mut top = crate::sync::lock(&shared.top, "top model");
            for (target, refresh) in results {
                let Some(w) = self.watched.get_mut(&target) else {
                    continue;
                };
                if refresh.success {
                    w.gone_since = None;
                    let Some((out, _)) = w.slot.served(Duration::from_secs(3600)) else {
                        continue;
                    };
                    if out.apps.is_empty() && !w.explicit {
                        // No Kafka Streams client (yet): stop reading it, look again later.
                        if let Some(pid) = w.pid {
                            self.rejected
                                .insert(pid, Some(Instant::now() + REPROBE_AFTER));
                        }
                        drop_targets.push(target.clone());
                        continue;
                    }
                    if let Some(snap) = &out.snapshot {
                        top.update(&target, snap);
                    }
                    continue;
                }
                let gone = w.slot.is_gone() || w.pid.is_some_and(|p| !procfs::alive(p));
                let error = refresh
                    .error
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "no answer".into());
                if gone {
                    let since = *w.gone_since.get_or_insert_with(Instant::now);
                    if !w.explicit && since.elapsed() > GONE_GRACE {
                        drop_targets.push(target.clone());
                        continue;
                    }
                }
                top.failed(&target, error, gone);
            }
            for t in &drop_targets {
                top.remove(t);
            }
        }
        for t in drop_targets {
            self.watched.remove(&t);
        }
        self.follow_lag(shared);
        *crate::sync::lock(&shared.refreshed, "top refreshed") = Some(Instant::now());
    }

    /// Points the lag monitor at the application ids shown and hands its
    /// latest report to the model (the monitor refreshes on its own thread).
    fn follow_lag(&mut self, shared: &Shared) {
        let Some(monitor) = &self.lag else {
            return;
        };
        let mut top = crate::sync::lock(&shared.top, "top model");
        let new: Vec<String> = top
            .application_ids()
            .into_iter()
            .filter(|a| !self.lag_groups.contains(a))
            .collect();
        if !new.is_empty() {
            self.lag_groups.extend(new.iter().cloned());
            monitor.add_groups(new);
            monitor.refresh();
        }
        let latest = monitor.latest();
        let error = (!latest.success).then(|| {
            latest
                .error
                .clone()
                .unwrap_or_else(|| "no answer from the brokers yet".into())
        });
        top.set_lag(latest.report.as_deref(), error);
    }
}

/// Connects once to each `--target` (not capture files) before the screen
/// opens: a dead pid, a non-JVM or wrong credentials end `top` with the
/// console's exit codes instead of a screen of errors.
fn preflight(
    jvm: &Jvm,
    targets: &[Target],
    timeout: Duration,
) -> Result<(), std::process::ExitCode> {
    let rt = match super::target::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ksbridge: {e:#}");
            return Err(std::process::ExitCode::FAILURE);
        }
    };
    rt.block_on(async {
        for t in targets {
            match jvm.connect(t.clone(), timeout).await {
                Ok(c) => jvm.close(c).await,
                Err(e) => return Err(super::target::fail(&e)),
            }
        }
        Ok(())
    })
}

/// Each `--target` with what to connect to (`None` for a capture file).
type Explicit = Vec<(TargetId, Option<Target>)>;

/// The `--target`s as sources to read (`None` for a capture file), each
/// live one connected to once first; `Err` is the exit code of the first
/// that cannot be reached.
fn explicit_targets(
    args: &Args,
    creds: Option<crate::jvm::Credentials>,
    jvm: Option<&Jvm>,
) -> anyhow::Result<Result<Explicit, std::process::ExitCode>> {
    let mut out = Vec::new();
    for id in &args.targets {
        out.push((id.clone(), Target::for_id(id, creds.clone())?));
    }
    if let Some(jvm) = jvm {
        let live: Vec<Target> = out.iter().filter_map(|(_, t)| t.clone()).collect();
        if let Err(code) = preflight(jvm, &live, args.timeout) {
            return Ok(Err(code));
        }
    }
    Ok(Ok(out))
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let creds = args.credentials.load()?;
    let options = options();
    let needs_jvm =
        args.targets.is_empty() || args.targets.iter().any(|t| !matches!(t, TargetId::File(_)));
    let jvm = if needs_jvm {
        match super::target::embedded_jvm() {
            Ok(j) => Some(j),
            Err(code) => return Ok(code),
        }
    } else {
        None
    };
    // A bad --target ends `top` here, before the lag monitor or the screen start.
    let targets = match explicit_targets(&args, creds, jvm.as_ref())? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let interval = args.interval.max(Duration::from_millis(200));
    let lag = match &args.bootstrap_server {
        Some(b) => Some(LagMonitor::start(
            lag::client_config(b, &[]),
            args.timeout,
            interval,
            Selection::default(),
            CollectorSettings::default(),
        )?),
        None => None,
    };
    let mut refresher = Refresher {
        jvm: jvm.clone(),
        options: options.clone(),
        matcher: args.target_match.clone(),
        discover: args.targets.is_empty(),
        watched: HashMap::new(),
        rejected: HashMap::new(),
        timeout: args.timeout,
        lag,
        lag_groups: BTreeSet::new(),
    };
    let mut model = Top::new();
    model.expect_threads(args.threads);
    let shared = Arc::new(Shared {
        top: Mutex::new(model),
        refreshed: Mutex::new(None),
        quit: AtomicBool::new(false),
        lag_on: args.bootstrap_server.is_some(),
    });
    for (id, target) in targets {
        let source = match (target, &jvm, &id) {
            (Some(t), Some(jvm), _) => {
                let desc = id.pid().and_then(procfs::main_class).unwrap_or_default();
                JmxSource::live(jvm.clone(), t, desc, options.clone(), None)
            }
            (None, _, TargetId::File(p)) => JmxSource::file(p.clone(), options.clone()),
            _ => continue,
        };
        refresher.add(source, true, id.pid(), &shared);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let s = shared.clone();
    rt.spawn(async move {
        loop {
            refresher.cycle(&s).await;
            tokio::time::sleep(interval).await;
        }
    });
    let s = shared.clone();
    rt.spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        s.quit.store(true, Ordering::SeqCst);
    });
    let result = ui(&shared, interval);
    rt.shutdown_timeout(Duration::from_millis(500));
    result?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Restores the terminal when dropped (normal exit, error, unwinding panic;
/// `ratatui::init` also installs a panic hook that restores it first).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

#[derive(Default)]
struct View {
    sort: Option<SortBy>,
    filter: String,
    editing_filter: bool,
    selected: usize,
    /// (target, client id) of the app drilled into.
    detail: Option<(String, String)>,
}

fn ui(shared: &Shared, interval: Duration) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let _guard = TerminalGuard;
    let mut view = View {
        sort: Some(SortBy::App),
        ..View::default()
    };
    let mut table = TableState::default();
    loop {
        if shared.quit.load(Ordering::SeqCst) {
            return Ok(());
        }
        let sort = view.sort.unwrap_or(SortBy::App);
        let (rows, lag_error) = {
            let top = crate::sync::lock(&shared.top, "top model");
            (
                top.rows(sort, &view.filter),
                top.lag_error().map(str::to_string),
            )
        };
        let refreshed = *crate::sync::lock(&shared.refreshed, "top refreshed");
        view.selected = view.selected.min(rows.len().saturating_sub(1));
        table.select((!rows.is_empty()).then_some(view.selected));
        let lag = shared.lag_on.then_some(lag_error.as_deref());
        terminal.draw(|f| draw(f, &view, &rows, &mut table, refreshed, interval, lag))?;
        if !event::poll(Duration::from_millis(200))? {
            continue;
        }
        let Event::Key(k) = event::read()? else {
            continue;
        };
        if k.kind != KeyEventKind::Press {
            continue;
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return Ok(());
        }
        if view.editing_filter {
            match k.code {
                KeyCode::Enter | KeyCode::Esc => view.editing_filter = false,
                KeyCode::Backspace => {
                    view.filter.pop();
                }
                KeyCode::Char(c) => view.filter.push(c),
                _ => {}
            }
            continue;
        }
        match k.code {
            KeyCode::Char('q') => return Ok(()),
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => view.detail = None,
            KeyCode::Char('s') => view.sort = Some(sort.next()),
            KeyCode::Char('/') => view.editing_filter = true,
            KeyCode::Down | KeyCode::Char('j') => {
                view.selected = (view.selected + 1).min(rows.len().saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
            KeyCode::Enter | KeyCode::Right => {
                if let Some(r) = rows.get(view.selected) {
                    view.detail = Some((r.target.clone(), r.client_id.clone()));
                }
            }
            _ => {}
        }
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// Records or seconds as `950`, `12.3k`, `4.5M`.
fn count_text(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `alive/configured`, with the failed count when there are failures.
fn threads_text(r: &AppRow) -> String {
    format!(
        "{}/{}{}",
        opt(r.threads_alive, |v| format!("{v:.0}")),
        r.threads_configured
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| "-".into()),
        r.threads_failed
            .filter(|x| *x > 0.0)
            .map(|v| format!(" ({v:.0} failed)"))
            .unwrap_or_default()
    )
}

/// `37% 1520` while restoring (share done, records left), else the records left.
fn restore_text(r: &AppRow) -> String {
    match (r.restore_progress, r.restore_remaining) {
        (Some(p), Some(left)) => format!("{:.0}% {}", p * 100.0, count_text(left)),
        (_, left) => opt(left, count_text),
    }
}

/// `lag` is `None` without `--bootstrap-server`, else why the lag is
/// unknown (`Some(None)` when it is known).
fn draw(
    f: &mut Frame,
    view: &View,
    rows: &[AppRow],
    table: &mut TableState,
    refreshed: Option<Instant>,
    interval: Duration,
    lag: Option<Option<&str>>,
) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let age = refreshed
        .map(|r| format!("refreshed {:.0}s ago", r.elapsed().as_secs_f64()))
        .unwrap_or_else(|| "connecting...".into());
    f.render_widget(
        Paragraph::new(Line::from(format!(
            "ksbridge top - {} apps - every {:.1}s, {age} - sort: {}{}",
            rows.len(),
            interval.as_secs_f64(),
            view.sort.unwrap_or(SortBy::App).label(),
            if view.filter.is_empty() && !view.editing_filter {
                String::new()
            } else {
                format!(
                    " - filter: {}{}",
                    view.filter,
                    if view.editing_filter { "_" } else { "" }
                )
            }
        )))
        .bold(),
        head,
    );
    let help = if view.detail.is_some() {
        "Esc back  q quit".to_string()
    } else {
        "Up/Down select  Enter details  s sort  / filter  q quit".to_string()
    };
    let help = match lag {
        Some(Some(e)) => format!("{help}  - input lag unknown: {e}"),
        _ => help,
    };
    f.render_widget(Paragraph::new(help).dim(), foot);
    match &view.detail {
        Some((target, client)) => {
            match rows
                .iter()
                .find(|r| &r.target == target && &r.client_id == client)
            {
                Some(r) => draw_detail(f, body, r, lag.is_some()),
                None => f.render_widget(
                    Paragraph::new(format!(
                        "{client} on {target} is not in the list any more (Esc)"
                    ))
                    .block(Block::bordered()),
                    body,
                ),
            }
        }
        None => draw_list(f, body, rows, table, lag.is_some()),
    }
}

fn draw_list(
    f: &mut Frame,
    area: ratatui::layout::Rect,
    rows: &[AppRow],
    table: &mut TableState,
    lag_on: bool,
) {
    let mut head = vec!["APP", "STATE", "FOR", "THREADS", "REC/S", "E2E MS"];
    if lag_on {
        head.extend(["LAG", "TREND"]);
    }
    head.extend(["RESTORE", "HEAP", "GC", "CPU", "TARGET"]);
    let header =
        Row::new(head).style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED));
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            let state_style = match r.state.as_str() {
                "RUNNING" => Style::new().green(),
                "REBALANCING" => Style::new().yellow(),
                _ => Style::new().red(),
            };
            let mut cells: Vec<ratatui::text::Text> = vec![
                ratatui::text::Text::from(if r.application_id.is_empty() {
                    "?".into()
                } else {
                    r.application_id.clone()
                }),
                ratatui::text::Text::from(r.state.clone()).style(state_style),
                duration_text(r.state_for.as_millis() as i64).into(),
                threads_text(r).into(),
                opt(r.process_rate, |v| format!("{v:.1}")).into(),
                opt(r.e2e_latency_ms, |v| format!("{v:.1}")).into(),
            ];
            if lag_on {
                let l = r.input_lag.as_ref();
                cells.push(opt(l.and_then(|l| l.lag).map(|v| v as f64), count_text).into());
                cells.push(l.map(|l| l.trend()).unwrap_or("-").into());
            }
            cells.extend([
                restore_text(r).into(),
                format!(
                    "{}/{}",
                    opt(r.heap_used, |v| bytes(v as i64)),
                    opt(r.heap_max, |v| bytes(v as i64))
                )
                .into(),
                opt(r.gc_share, |v| format!("{:.1}%", v * 100.0)).into(),
                opt(r.cpu, |v| format!("{:.0}%", v * 100.0)).into(),
                r.target.clone().into(),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Min(14),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    if lag_on {
        widths.extend([Constraint::Length(7), Constraint::Length(7)]);
    }
    widths.extend([
        Constraint::Length(10),
        Constraint::Length(19),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(12),
    ]);
    let t = Table::new(body, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(" Kafka Streams apps "));
    f.render_stateful_widget(t, area, table);
}

/// The drill-in: the app, its threads and tasks, stores, restores, input
/// lag, interceptors and warnings, each a panel (empty ones left out). Long
/// because the layout and the panels it places are read best together; the
/// larger panels have their own functions.
fn draw_detail(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow, lag_on: bool) {
    let lag_rows = r.input_lag.as_ref().map_or(0, |l| l.topics.len().max(1));
    let panel = |n: usize| Constraint::Length(n as u16 + 3);
    let mut constraints = vec![
        Constraint::Length(4),
        Constraint::Min(4),
        Constraint::Min(3),
    ];
    if !r.restoring.is_empty() {
        constraints.push(panel(r.restoring.len()));
    }
    if !r.last_restores.is_empty() {
        constraints.push(panel(r.last_restores.len()));
    }
    if lag_on {
        constraints.push(panel(lag_rows));
    }
    if !r.interceptors.is_empty() {
        constraints.push(panel(r.interceptors.len()));
    }
    constraints.push(Constraint::Length(4));
    let areas = Layout::vertical(constraints).split(area);
    let mut next = areas.iter().copied();
    let mut take = || next.next().unwrap_or_default();
    let (info, threads, stores) = (take(), take(), take());
    let configured = r
        .threads_configured
        .map(|(_, from)| format!(" (configured: {})", from.describe()))
        .unwrap_or_default();
    let lines = vec![
        Line::from(format!(
            "{}  client {}  on {}",
            r.application_id, r.client_id, r.target
        )),
        Line::from(format!(
            "state {} for {}  threads {}{configured}  rec/s {}  e2e {} ms  restore {}",
            r.state,
            duration_text(r.state_for.as_millis() as i64),
            threads_text(r),
            opt(r.process_rate, |v| format!("{v:.1}")),
            opt(r.e2e_latency_ms, |v| format!("{v:.1}")),
            restore_text(r)
        )),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" app ")),
        info,
    );
    let trows: Vec<Row> = r
        .threads
        .iter()
        .map(|t| {
            Row::new(vec![
                t.thread.clone(),
                t.state.clone(),
                opt(t.cpu, |v| format!("{:.0}%", v * 100.0)),
                opt(t.process_rate, |v| format!("{v:.1}")),
                if t.tasks.is_empty() {
                    "-".into()
                } else {
                    t.tasks.join(",")
                },
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            trows,
            [
                Constraint::Length(22),
                Constraint::Length(20),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(["THREAD", "STATE", "CPU", "REC/S", "TASKS"]).bold())
        .block(Block::bordered().title(" threads and tasks ")),
        threads,
    );
    let us = |v: Option<f64>| opt(v, |x| format!("{:.1}", x / 1000.0));
    let srows: Vec<Row> = r
        .stores
        .iter()
        .map(|s| {
            Row::new(vec![
                s.store.clone(),
                s.kind.clone(),
                s.task.clone(),
                us(s.put_latency_ns),
                us(s.get_latency_ns),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            srows,
            [
                Constraint::Min(20),
                Constraint::Length(20),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
        )
        .header(Row::new(["STORE", "KIND", "TASK", "PUT US", "GET US"]).bold())
        .block(Block::bordered().title(" state stores ")),
        stores,
    );
    if !r.restoring.is_empty() {
        draw_restoring(f, take(), r);
    }
    if !r.last_restores.is_empty() {
        draw_restores(f, take(), r);
    }
    if lag_on {
        draw_lag(f, take(), r);
    }
    if !r.interceptors.is_empty() {
        draw_interceptors(f, take(), r);
    }
    let warnings = take();
    let mut w: Vec<Line> = r
        .warnings
        .iter()
        .map(|x| Line::from(format!("! {x}")))
        .collect();
    if let Some(e) = &r.error {
        w.push(Line::from(format!("! {e}")));
    }
    if w.is_empty() {
        w.push(Line::from("no warnings"));
    }
    f.render_widget(
        Paragraph::new(w).block(Block::bordered().title(" warnings ")),
        warnings,
    );
}

fn draw_restoring(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow) {
    let rows: Vec<Row> = r
        .restoring
        .iter()
        .map(|x| {
            Row::new(vec![
                x.task.clone(),
                x.thread.clone(),
                count_text(x.remaining),
                opt(x.rate, |v| format!("{v:.1}")),
                opt(x.eta_seconds, |v| duration_text((v * 1e3) as i64)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(22),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(["TASK", "THREAD", "LEFT", "REC/S", "ETA"]).bold())
        .block(Block::bordered().title(" restoring ")),
        area,
    );
}

/// When the current or last restore of the client and each task began and
/// ended, as this `top` saw it.
fn draw_restores(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow) {
    let rows: Vec<Row> = r
        .last_restores
        .iter()
        .map(|p| {
            Row::new(vec![
                p.task.clone().unwrap_or_else(|| "all".into()),
                crate::insight::screen::clock(p.began_ms),
                p.ended_ms
                    .map(crate::insight::screen::clock)
                    .unwrap_or_else(|| "restoring".into()),
                opt(p.duration_seconds, |v| duration_text((v * 1e3) as i64)),
                count_text(p.records),
                p.stores.join(", "),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(13),
                Constraint::Length(13),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(["TASK", "BEGAN", "ENDED", "TOOK", "RECORDS", "STORES"]).bold())
        .block(Block::bordered().title(" last restores ")),
        area,
    );
}

fn draw_lag(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow) {
    let title = format!(" input lag (group {}) ", r.application_id);
    let Some(l) = r.input_lag.as_ref() else {
        f.render_widget(
            Paragraph::new("no lag measured yet for this group")
                .block(Block::bordered().title(title)),
            area,
        );
        return;
    };
    let mut rows: Vec<Row> = l
        .topics
        .iter()
        .map(|t| {
            Row::new(vec![
                t.topic.clone(),
                t.lag.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                opt(t.lag_seconds, |v| format!("{v:.1}")),
                t.status.clone(),
                t.trend.clone(),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::new(vec!["no committed offsets yet".to_string()]));
    }
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(20),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Length(8),
            ],
        )
        .header(Row::new(["TOPIC", "LAG", "SECONDS", "STATUS", "TREND"]).bold())
        .block(Block::bordered().title(title)),
        area,
    );
}

fn draw_interceptors(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow) {
    let count = |v: Option<f64>| opt(v, count_text);
    let rows: Vec<Row> = r
        .interceptors
        .iter()
        .map(|t| {
            let failed = match t.failed.iter().next() {
                None => count(t.sent.map(|_| 0.0)),
                Some((class, _)) => format!(
                    "{} {}",
                    count_text(t.failed_total()),
                    class.rsplit('.').next().unwrap_or(class)
                ),
            };
            Row::new(vec![
                t.topic.clone(),
                count(t.sent),
                count(t.acked),
                failed,
                percentiles_text(t.send_ack_latency.as_ref()),
                count(t.consumed),
                percentiles_text(t.record_age.as_ref()),
                count(t.commits),
                if t.committed.is_empty() {
                    "-".into()
                } else {
                    t.committed.values().sum::<i64>().to_string()
                },
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(20),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(16),
                Constraint::Length(13),
                Constraint::Length(9),
                Constraint::Length(13),
                Constraint::Length(8),
                Constraint::Length(10),
            ],
        )
        .header(
            Row::new([
                "TOPIC",
                "SENT",
                "ACKED",
                "FAILED",
                "SEND-ACK",
                "CONSUMED",
                "RECORD AGE",
                "COMMITS",
                "COMMITTED",
            ])
            .bold(),
        )
        .block(Block::bordered().title(
            " interceptors (SEND-ACK, RECORD AGE: p50/p99; COMMITTED: sum of partition offsets) ",
        )),
        area,
    );
}
