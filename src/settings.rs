//! One settings path for every command. A command's settings are one clap
//! struct: its flags, its defaults (stated once, shown by `--help`) and the
//! keys of its config file, which is read as arguments placed before the
//! command line's own (ripgrep's way), so flags win and repeatable settings
//! add up. Also the one duration syntax. Input: a TOML file and the command's
//! clap `Command`; output: arguments to parse, or a [`SettingsError`].
//!
//! A file key is the argument's id in kebab case (`listen-address` for
//! `--web.listen-address`); a boolean flag takes `true` (`false` is the
//! default); a repeatable setting takes a list; a table becomes one
//! `KEY=VALUE` argument per entry; the `[groups]` table turns metric groups
//! on and off (`--group.<name>` / `--no-group.<name>`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgAction;

/// What `--help` says of every duration setting.
pub const DURATION_SYNTAX: &str =
    "a number with a unit: 500ms, 10s, 2m, 1h (a bare number is seconds)";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("config file {path}: unknown key {key:?} (known: {known})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("config file {path}: key {key:?}: {reason}")]
    Value {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

/// `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration ({DURATION_SYNTAX})"))?;
    let secs = match unit.trim() {
        "ms" => n / 1e3,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {s:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration above zero.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

/// The arguments a config file stands for, to be placed before the command
/// line's own. `cmd` is the subcommand whose arguments the keys name.
pub fn file_args(cmd: &clap::Command, path: &Path) -> Result<Vec<OsString>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text_args(cmd, &text, path)
}

/// [`file_args`] for a config file's text (`path` names it in errors).
pub fn text_args(
    cmd: &clap::Command,
    text: &str,
    path: &Path,
) -> Result<Vec<OsString>, SettingsError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| SettingsError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let value_err = |reason: String| SettingsError::Value {
            path: path.to_path_buf(),
            key: key.clone(),
            reason,
        };
        if key == "groups" {
            groups_args(cmd, value, &mut out).map_err(value_err)?;
            continue;
        }
        let id = key.replace('-', "_");
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == id.as_str() && a.get_long().is_some() && id != "config_file")
            .ok_or_else(|| SettingsError::UnknownKey {
                path: path.to_path_buf(),
                key: key.clone(),
                known: known_keys(cmd),
            })?;
        arg_args(arg, value, &mut out).map_err(value_err)?;
    }
    Ok(out)
}

/// The keys a command's config file accepts.
fn known_keys(cmd: &clap::Command) -> String {
    let mut keys: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !a.is_hide_set())
        .map(|a| a.get_id().as_str())
        .filter(|id| {
            *id != "config_file" && !id.starts_with("group.") && !id.starts_with("no-group.")
        })
        .map(|id| id.replace('_', "-"))
        .collect();
    keys.push("groups".into());
    keys.join(", ")
}

/// `--long[=value]` arguments for one key.
fn arg_args(arg: &clap::Arg, value: &toml::Value, out: &mut Vec<OsString>) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default();
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => {
            if *b {
                out.push(format!("--{long}").into());
            }
        }
        (ArgAction::SetTrue, _) => return Err("expected true or false".into()),
        (ArgAction::Append, toml::Value::Array(items)) => {
            for v in items {
                out.push(format!("--{long}={}", scalar(v)?).into());
            }
        }
        (ArgAction::Append, toml::Value::Table(t)) => {
            for (k, v) in t {
                out.push(format!("--{long}={k}={}", scalar(v)?).into());
            }
        }
        (_, v) => out.push(format!("--{long}={}", scalar(v)?).into()),
    }
    Ok(())
}

/// `[groups] name = bool` as `--group.<name>` / `--no-group.<name>`.
fn groups_args(
    cmd: &clap::Command,
    value: &toml::Value,
    out: &mut Vec<OsString>,
) -> Result<(), String> {
    let toml::Value::Table(t) = value else {
        return Err("expected a table of group = true|false".into());
    };
    for (name, on) in t {
        let toml::Value::Boolean(on) = on else {
            return Err(format!("group {name}: expected true or false"));
        };
        let flag = format!("{}group.{name}", if *on { "" } else { "no-" });
        if !cmd
            .get_arguments()
            .any(|a| a.get_long() == Some(flag.as_str()))
        {
            let known: Vec<&str> = cmd
                .get_arguments()
                .filter_map(|a| a.get_long()?.strip_prefix("group."))
                .collect();
            return Err(format!(
                "unknown metric group {name:?} (known: {})",
                known.join(", ")
            ));
        }
        out.push(format!("--{flag}").into());
    }
    Ok(())
}

fn scalar(v: &toml::Value) -> Result<String, String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err("expected a single value".into())
        }
    })
}

/// `argv` with `extra` inserted right after the subcommand name (the first
/// argument that is neither an option nor the value of the global
/// `--log.level`), where they count as given before every flag of the command.
pub fn insert_after_subcommand(argv: &[OsString], extra: Vec<OsString>) -> Vec<OsString> {
    let mut at = argv.len();
    let mut skip_value = false;
    for (i, a) in argv.iter().enumerate().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        let s = a.to_string_lossy();
        if s == "--log.level" {
            skip_value = true;
        } else if !s.starts_with('-') {
            at = i + 1;
            break;
        }
    }
    let mut out = argv[..at.min(argv.len())].to_vec();
    out.extend(extra);
    out.extend_from_slice(&argv[at.min(argv.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_positive_duration("0s").is_err());
    }

    #[test]
    fn file_args_go_after_the_subcommand() {
        let argv: Vec<OsString> = ["ksbridge", "--log.level", "serve", "serve", "--x"]
            .iter()
            .map(OsString::from)
            .collect();
        let got = insert_after_subcommand(&argv, vec!["--f".into()]);
        assert_eq!(
            got,
            ["ksbridge", "--log.level", "serve", "serve", "--f", "--x"]
        );
    }
}
