//! What the JVM console commands share: opening a [`Session`] for a TARGET
//! on a one-shot runtime, and mapping [`ConsoleError`]s to exit codes.

use std::process::ExitCode;

use crate::console::{ConsoleError, Session};

use super::target::{embedded_jvm, exit_code, runtime, TargetArgs};

/// Connects to the TARGET. `Ok(Err(code))`: could not connect (printed).
pub fn open(
    args: &TargetArgs,
) -> anyhow::Result<Result<(tokio::runtime::Runtime, Session), ExitCode>> {
    let Some(target) = args.resolve()? else {
        anyhow::bail!(
            "{}: a capture file has no live JVM to ask; give a pid or a service:jmx: URL",
            args.target
        );
    };
    let jvm = match embedded_jvm() {
        Ok(j) => j,
        Err(code) => return Ok(Err(code)),
    };
    let rt = runtime()?;
    match rt.block_on(Session::open(jvm, target, args.timeout())) {
        Ok(s) => Ok(Ok((rt, s))),
        Err(e) => Ok(Err(super::target::fail(&e))),
    }
}

/// The exit code for a console failure (see README: 3 not found, 4 cannot
/// attach, 5 read failed, 1 bad argument).
pub fn console_exit_code(e: &ConsoleError) -> ExitCode {
    match e {
        ConsoleError::Jvm(j) => exit_code(j),
        ConsoleError::NotFound { .. } => ExitCode::from(super::EXIT_NOT_FOUND),
        ConsoleError::BadArgument { .. } => ExitCode::from(super::EXIT_FAILURE),
        ConsoleError::Failed { .. } | ConsoleError::Denied { .. } | ConsoleError::Decode { .. } => {
            ExitCode::from(super::EXIT_READ_FAILED)
        }
    }
}

/// Prints a console failure and returns its exit code.
pub fn fail(e: &ConsoleError) -> ExitCode {
    eprintln!("ksbridge: {e}");
    console_exit_code(e)
}

/// Runs `f` with an open session and closes it. `Ok(Err(code))`: connecting
/// or `f` failed (printed).
pub fn with_session<T, F, Fut>(args: &TargetArgs, f: F) -> anyhow::Result<Result<T, ExitCode>>
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = Result<T, ConsoleError>>,
{
    let (rt, session) = match open(args)? {
        Ok(x) => x,
        Err(code) => return Ok(Err(code)),
    };
    let r = rt.block_on(f(session.clone()));
    rt.block_on(session.close());
    Ok(r.map_err(|e| fail(&e)))
}

/// `mbeans --ops`: every matching bean's operations with their signatures.
pub fn run_ops(target: &TargetArgs, pattern: &str, json: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let p = pattern.to_string();
    let beans = match with_session(target, move |s| async move { s.operations(&p).await })? {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &beans)?;
        writeln!(out)?;
    } else {
        for b in beans.iter().filter(|b| !b.operations.is_empty()) {
            writeln!(out, "{}", b.name)?;
            for o in &b.operations {
                writeln!(out, "  {}  [{}]", o.signature(), o.impact)?;
            }
            writeln!(out)?;
        }
    }
    if beans.is_empty() {
        eprintln!("ksbridge: no MBean matches {pattern}");
        return Ok(ExitCode::from(super::EXIT_NOT_FOUND));
    }
    Ok(ExitCode::SUCCESS)
}
