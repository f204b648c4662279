//! Local Java processes from `/proc` (JVMs started with `-XX:-UsePerfData`
//! are missing from the attach API's list). Input: none; output: pids and
//! main classes.

use std::path::Path;

/// Pids whose executable is a `java` launcher.
pub fn java_pids() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n == "java"))
                .unwrap_or(false)
        })
        .collect()
}

/// Seconds since the process started (`/proc/<pid>/stat` field 22, in
/// USER_HZ = 100 ticks, against `/proc/uptime`).
pub fn age_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: split after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = rest.split(' ').nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(uptime - start_ticks / 100.0)
}

/// False for a JVM whose command line turns attaching off or makes it
/// dangerous: `-Xrs` (no SIGQUIT handler: the attach signal would kill it)
/// and `-XX:+DisableAttachMechanism`.
pub fn attach_safe(pid: u32) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    !raw.split(|b| *b == 0)
        .any(|a| a == b"-Xrs" || a == b"-XX:+DisableAttachMechanism")
}

/// The owner of a process: its real uid from `/proc/<pid>/status`, named
/// through `/etc/passwd` when listed there.
pub fn user(pid: u32) -> String {
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or(uid)
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The main class (or `-jar` file) from the command line, with its arguments.
pub fn main_class(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    main_from_args(&args)
}

fn main_from_args(args: &[String]) -> Option<String> {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-cp" | "-classpath" | "--class-path" | "-p" | "--module-path" | "--add-modules"
            | "--add-opens" | "--add-exports" => i += 2,
            "-jar" => return args.get(i + 1).map(|_| args[i + 1..].join(" ")),
            "-m" | "--module" => return Some(args[i + 1..].join(" ")),
            _ if a.starts_with('-') => i += 1,
            _ => return Some(args[i..].join(" ")),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_class_from_a_command_line() {
        let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            main_from_args(&a(
                "java -Xmx1g -cp a:b ksbridge.lab.Guard ksbridge.lab.ZMart x"
            )),
            Some("ksbridge.lab.Guard ksbridge.lab.ZMart x".into())
        );
        assert_eq!(
            main_from_args(&a("java -jar app.jar --x")),
            Some("app.jar --x".into())
        );
        assert_eq!(main_from_args(&a("java -version")), None);
        assert!(alive(std::process::id()));
        assert!(attach_safe(std::process::id()));
        let age = age_seconds(std::process::id()).unwrap();
        assert!((0.0..3600.0).contains(&age), "{age}");
    }
}
