//! Command-line front end: one file per subcommand, each thin. Input: parsed
//! flags; output: text or JSON on stdout and a process exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub mod app_target;
pub mod console;
pub mod dcmd;
pub mod get;
pub mod heap;
pub mod heapdump;
pub mod invoke;
pub mod jfr;
pub mod jvm;
pub mod jvms;
pub mod lag;
pub mod limits;
pub mod mbeans;
pub mod serve;
pub mod status;
pub mod target;
pub mod threads;
pub mod top;
pub mod topology;

/// Generic failure (bad flags, I/O, anything not listed below).
pub const EXIT_FAILURE: u8 = 1;
/// The target (pid, bean, group) does not exist.
pub const EXIT_NOT_FOUND: u8 = 3;
/// The target exists but ksbridge cannot attach or connect to it.
pub const EXIT_CANNOT_ATTACH: u8 = 4;
/// Connected, but reading failed (JVM died mid-read, timeout, remote error).
pub const EXIT_READ_FAILED: u8 = 5;
/// `--check` found something that is not OK.
pub const EXIT_CHECK_FAILED: u8 = 6;

#[derive(Debug, Parser)]
#[command(
    name = "ksbridge",
    version,
    about = "Watch running Kafka Streams apps from outside: JMX MBeans, consumer lag, Prometheus metrics"
)]
pub struct Cli {
    /// Log filter (tracing-subscriber syntax), e.g. `info` or `ksbridge=debug`.
    #[arg(long = "log.level", global = true, env = "KSBRIDGE_LOG")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List local JVMs, whether ksbridge can attach, and their Kafka Streams apps.
    Jvms(jvms::Args),
    /// Print the MBeans of a JVM (the JConsole MBeans tab as text or JSON).
    Mbeans(mbeans::Args),
    /// Print one bean's attributes.
    Get(get::Args),
    /// Serve Kafka Streams metrics and consumer lag to Prometheus.
    #[command(args_override_self = true)]
    Serve(serve::Args),
    /// Consumer-group lag like `kafka-consumer-groups --describe`, plus seconds, status and trend.
    Lag(lag::Args),
    /// One JVM at a glance: versions, flags, memory, GC, CPU, threads, classes, Streams apps.
    Jvm(jvm::Args),
    /// Thread dump with deadlocks first, or the busiest threads (`--top N`).
    Threads(threads::Args),
    /// Class histogram, top N by bytes, or what grew (`--diff 10s`).
    Heap(heap::Args),
    /// Have the target write a heap dump (.hprof) on its own host.
    Heapdump(heapdump::Args),
    /// Invoke an MBean operation (list them with `mbeans --ops`).
    Invoke(invoke::Args),
    /// Run a diagnostic command (`jcmd` over JMX); lists them when none is given.
    Dcmd(dcmd::Args),
    /// Flight recordings: start, dump, stop, status; summary of a recording file.
    Jfr(jfr::Args),
    /// Live full-screen view of every Kafka Streams app on the host; Enter drills in.
    Top(top::Args),
    /// Draw an app's topology (describe()) as a tree, Mermaid, Graphviz DOT or JSON.
    Topology(topology::Args),
    /// Is this app healthy, and if not, why: state, threads, tasks, restore, failures (exit 0/1/2).
    Status(status::Args),
}

/// Parses the command line; a command given `--config.file` is parsed again
/// with the file's settings placed before its own flags (flags win).
pub fn parse(argv: Vec<OsString>) -> Result<Cli, clap::Error> {
    let cli = Cli::try_parse_from(&argv)?;
    let (name, file) = match &cli.command {
        Command::Serve(a) => ("serve", a.settings.config_file.clone()),
        _ => return Ok(cli),
    };
    let Some(file) = file else {
        return Ok(cli);
    };
    let mut top = Cli::command();
    let sub = top
        .find_subcommand_mut(name)
        .expect("the subcommand that was just parsed exists");
    let extra = crate::settings::file_args(sub, &file)
        .map_err(|e| Cli::command().error(clap::error::ErrorKind::InvalidValue, e))?;
    let matches = Cli::command()
        .try_get_matches_from(crate::settings::insert_after_subcommand(&argv, extra))?;
    Cli::from_arg_matches(&matches)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Jvms(a) => jvms::run(a),
        Command::Mbeans(a) => mbeans::run(a),
        Command::Get(a) => get::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Lag(a) => lag::run(a),
        Command::Jvm(a) => jvm::run(a),
        Command::Threads(a) => threads::run(a),
        Command::Heap(a) => heap::run(a),
        Command::Heapdump(a) => heapdump::run(a),
        Command::Invoke(a) => invoke::run(a),
        Command::Dcmd(a) => dcmd::run(a),
        Command::Jfr(a) => jfr::run(a),
        Command::Top(a) => top::run(a),
        Command::Topology(a) => topology::run(a),
        Command::Status(a) => status::run(a),
    }
}

impl Command {
    /// Whether the command draws a full-screen UI (log lines would corrupt it).
    pub fn owns_terminal(&self) -> bool {
        matches!(self, Command::Top(_))
    }
}

/// Logs go to stderr so stdout stays clean for tables and JSON.
pub fn init_tracing(filter: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or("warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
