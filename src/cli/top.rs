//! `ksbridge top`: a live full-screen view of every Kafka Streams app on the
//! host (or the targets given), one row per app, Enter to drill into one.
//! Reads go through the same single-flight JMX sources (`source::jmx` in
//! `scrape::Slot`s) as `serve`; the terminal (ratatui + crossterm) is
//! restored on every exit path: q, Ctrl-C, SIGTERM, a panic.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::console::top::{AppRow, SortBy, Top};
use crate::console::{bytes, duration_text};
use crate::discovery::procfs;
use crate::jvm::{Jvm, Target};
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
}

impl Refresher {
    fn add(&mut self, source: JmxSource, explicit: bool, pid: Option<u32>) {
        let slot = Arc::new(Slot::new(Arc::new(source)));
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
    fn discover(&mut self) {
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
            self.add(source, false, Some(pid));
        }
    }

    /// Refreshes every watched JVM in parallel and updates the model.
    async fn cycle(&mut self, shared: &Shared) {
        self.discover();
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
        *crate::sync::lock(&shared.refreshed, "top refreshed") = Some(Instant::now());
    }
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
    let mut refresher = Refresher {
        jvm: jvm.clone(),
        options: options.clone(),
        matcher: args.target_match.clone(),
        discover: args.targets.is_empty(),
        watched: HashMap::new(),
        rejected: HashMap::new(),
        timeout: args.timeout,
    };
    for id in &args.targets {
        match (Target::for_id(id, creds.clone())?, &jvm) {
            (Some(t), Some(jvm)) => {
                let pid = id.pid();
                let desc = pid.and_then(procfs::main_class).unwrap_or_default();
                refresher.add(
                    JmxSource::live(jvm.clone(), t, desc, options.clone(), None),
                    true,
                    pid,
                );
            }
            (None, _) => {
                if let TargetId::File(p) = id {
                    refresher.add(JmxSource::file(p.clone(), options.clone()), true, None);
                }
            }
            (Some(_), None) => {}
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let shared = Arc::new(Shared {
        top: Mutex::new(Top::new()),
        refreshed: Mutex::new(None),
        quit: AtomicBool::new(false),
    });
    let interval = args.interval.max(Duration::from_millis(200));
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
        let rows = crate::sync::lock(&shared.top, "top model").rows(sort, &view.filter);
        let refreshed = *crate::sync::lock(&shared.refreshed, "top refreshed");
        view.selected = view.selected.min(rows.len().saturating_sub(1));
        table.select((!rows.is_empty()).then_some(view.selected));
        terminal.draw(|f| draw(f, &view, &rows, &mut table, refreshed, interval))?;
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

fn draw(
    f: &mut Frame,
    view: &View,
    rows: &[AppRow],
    table: &mut TableState,
    refreshed: Option<Instant>,
    interval: Duration,
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
        "Esc back  q quit"
    } else {
        "Up/Down select  Enter details  s sort  / filter  q quit"
    };
    f.render_widget(Paragraph::new(help).dim(), foot);
    match &view.detail {
        Some((target, client)) => {
            match rows
                .iter()
                .find(|r| &r.target == target && &r.client_id == client)
            {
                Some(r) => draw_detail(f, body, r),
                None => f.render_widget(
                    Paragraph::new(format!(
                        "{client} on {target} is not in the list any more (Esc)"
                    ))
                    .block(Block::bordered()),
                    body,
                ),
            }
        }
        None => draw_list(f, body, rows, table),
    }
}

fn draw_list(f: &mut Frame, area: ratatui::layout::Rect, rows: &[AppRow], table: &mut TableState) {
    let header = Row::new([
        "APP", "STATE", "FOR", "THREADS", "REC/S", "E2E MS", "RESTORE", "HEAP", "GC", "CPU",
        "TARGET",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED));
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            let state_style = match r.state.as_str() {
                "RUNNING" => Style::new().green(),
                "REBALANCING" => Style::new().yellow(),
                _ => Style::new().red(),
            };
            Row::new(vec![
                ratatui::text::Text::from(if r.application_id.is_empty() {
                    "?".into()
                } else {
                    r.application_id.clone()
                }),
                ratatui::text::Text::from(r.state.clone()).style(state_style),
                duration_text(r.state_for.as_millis() as i64).into(),
                format!(
                    "{}{}",
                    opt(r.threads_alive, |v| format!("{v:.0}")),
                    r.threads_failed
                        .filter(|x| *x > 0.0)
                        .map(|v| format!(" ({v:.0} failed)"))
                        .unwrap_or_default()
                )
                .into(),
                opt(r.process_rate, |v| format!("{v:.1}")).into(),
                opt(r.e2e_latency_ms, |v| format!("{v:.1}")).into(),
                opt(r.restore_remaining, |v| format!("{v:.0}")).into(),
                format!(
                    "{}/{}",
                    opt(r.heap_used, |v| bytes(v as i64)),
                    opt(r.heap_max, |v| bytes(v as i64))
                )
                .into(),
                opt(r.gc_share, |v| format!("{:.1}%", v * 100.0)).into(),
                opt(r.cpu, |v| format!("{:.0}%", v * 100.0)).into(),
                r.target.clone().into(),
            ])
        })
        .collect();
    let widths = [
        Constraint::Min(14),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(20),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(14),
    ];
    let t = Table::new(body, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(" Kafka Streams apps "));
    f.render_stateful_widget(t, area, table);
}

fn draw_detail(f: &mut Frame, area: ratatui::layout::Rect, r: &AppRow) {
    let [info, threads, stores, warnings] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(4),
        Constraint::Min(3),
        Constraint::Length(4),
    ])
    .areas(area);
    let lines = vec![
        Line::from(format!(
            "{}  client {}  on {}",
            r.application_id, r.client_id, r.target
        )),
        Line::from(format!(
            "state {} for {}  threads {}  rec/s {}  e2e {} ms  restore remaining {}",
            r.state,
            duration_text(r.state_for.as_millis() as i64),
            opt(r.threads_alive, |v| format!("{v:.0}")),
            opt(r.process_rate, |v| format!("{v:.1}")),
            opt(r.e2e_latency_ms, |v| format!("{v:.1}")),
            opt(r.restore_remaining, |v| format!("{v:.0}"))
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
