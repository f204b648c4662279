//! What the JVM console commands share: opening a [`Session`] for a TARGET
//! on a one-shot runtime, and mapping [`ConsoleError`]s to exit codes.

use std::process::ExitCode;

use crate::console::{ConsoleError, Session};

use super::target::{embedded_jvm, exit_code, runtime, TargetArgs};

/// Connects to the TARGET. `Ok(Err(code))`: could not connect (printed).
pub fn open(
    args: &TargetArgs,
) -> anyhow::Result<Result<(tokio::runtime::Runtime, Session), ExitCode>> {
    let target = args.resolve()?;
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

/// A duration flag: `500ms`, `10s`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 10s, 2m, 1h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {s:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
