//! What a target is, named once: [`TargetId`] (a local pid, a remote JMX URL
//! or a capture file), its one parser and its one display (the `target`
//! label), and remote JMX [`Credentials`] loaded from a file or the
//! environment, never from argv. Input: strings and paths; output: typed
//! targets or a [`TargetError`]. Pure apart from reading a credentials file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Environment variable holding the password for `--jmx.user`.
pub const PASSWORD_ENV: &str = "KSBRIDGE_JMX_PASSWORD";

/// A target's identity: what the user named and what labels its series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetId {
    /// A local JVM by pid (attach).
    Pid(u32),
    /// A remote JVM by `service:jmx:` URL.
    Url(String),
    /// A capture file (`file:<path>`), re-read on every refresh.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target {given:?}: {reason}")]
    Parse { given: String, reason: &'static str },
    #[error("cannot read JMX credentials from {path}: {reason}")]
    CredentialsFile { path: PathBuf, reason: String },
    #[error("--jmx.user {user} needs the password in {PASSWORD_ENV}")]
    NoPassword { user: String },
    #[error("credentials apply to remote JMX URLs, not to {target}")]
    CredentialsForLocal { target: TargetId },
}

impl FromStr for TargetId {
    type Err = TargetError;

    /// A pid, a `service:jmx:` URL, or `file:<path>`.
    fn from_str(s: &str) -> Result<Self, TargetError> {
        let t = s.trim();
        let err = |reason| TargetError::Parse {
            given: s.to_string(),
            reason,
        };
        if let Ok(pid) = t.parse::<u32>() {
            return Ok(TargetId::Pid(pid));
        }
        if t.starts_with("service:jmx:") {
            return Ok(TargetId::Url(t.to_string()));
        }
        if let Some(p) = t.strip_prefix("file:") {
            if p.is_empty() {
                return Err(err("empty path after file:"));
            }
            return Ok(TargetId::File(PathBuf::from(p)));
        }
        Err(err(
            "expected a pid, a service:jmx: URL or file:<capture.json>",
        ))
    }
}

impl fmt::Display for TargetId {
    /// The `target` label: `pid:<pid>`, the URL, or `file:<path>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetId::Pid(p) => write!(f, "pid:{p}"),
            TargetId::Url(u) => f.write_str(u),
            TargetId::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

impl TargetId {
    /// The pid of a local target.
    pub fn pid(&self) -> Option<u32> {
        match self {
            TargetId::Pid(p) => Some(*p),
            _ => None,
        }
    }
}

/// JMX credentials for a remote URL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

impl Credentials {
    /// The first line of `path`: `user password` or `user:password`.
    pub fn from_file(path: &Path) -> Result<Credentials, TargetError> {
        let fail = |reason: String| TargetError::CredentialsFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let line = text.lines().next().unwrap_or_default().trim();
        let (u, p) = line
            .split_once(':')
            .or_else(|| line.split_once(char::is_whitespace))
            .ok_or_else(|| fail("expected `user password` on the first line".into()))?;
        Ok(Credentials {
            user: u.trim().to_string(),
            password: p.trim().to_string(),
        })
    }

    /// `user` with the password from [`PASSWORD_ENV`].
    pub fn from_env(user: &str) -> Result<Credentials, TargetError> {
        let password = std::env::var(PASSWORD_ENV).map_err(|_| TargetError::NoPassword {
            user: user.to_string(),
        })?;
        Ok(Credentials {
            user: user.to_string(),
            password,
        })
    }

    /// From a file if given, else from a user plus the environment, else none.
    pub fn load(
        file: Option<&Path>,
        user: Option<&str>,
    ) -> Result<Option<Credentials>, TargetError> {
        match (file, user) {
            (Some(f), _) => Credentials::from_file(f).map(Some),
            (None, Some(u)) => Credentials::from_env(u).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// `URL=FILE`: the credentials file of one remote target
/// (`--target.credentials-file`, or a `[target-credentials]` table in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCredentials {
    pub url: String,
    pub file: PathBuf,
}

impl FromStr for TargetCredentials {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // The URL itself contains no '=' in practice; split at the last one.
        let (url, file) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("{s:?}: expected URL=FILE"))?;
        if !url.trim().starts_with("service:jmx:") || file.trim().is_empty() {
            return Err(format!("{s:?}: expected service:jmx:...=FILE"));
        }
        Ok(TargetCredentials {
            url: url.trim().to_string(),
            file: PathBuf::from(file.trim()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parser_one_display() {
        for (given, want) in [
            ("123", "pid:123"),
            (
                " service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi",
                "service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi",
            ),
            ("file:/x.json", "file:/x.json"),
        ] {
            assert_eq!(given.parse::<TargetId>().unwrap().to_string(), want);
        }
        for bad in ["abc", "-1", "file:", ""] {
            assert!(bad.parse::<TargetId>().is_err(), "{bad}");
        }
        assert_eq!(TargetId::Pid(7).pid(), Some(7));
    }

    #[test]
    fn credentials_file_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(&p, "monitor s3cret\n").unwrap();
        let c = Credentials::from_file(&p).unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("monitor", "s3cret")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        std::fs::write(&p, "monitor:s3 cret\n").unwrap();
        assert_eq!(Credentials::from_file(&p).unwrap().password, "s3 cret");
        std::fs::write(&p, "nopassword\n").unwrap();
        assert!(Credentials::from_file(&p).is_err());
    }

    #[test]
    fn per_target_credentials() {
        let t: TargetCredentials = "service:jmx:rmi:///jndi/rmi://h:1/jmxrmi=/etc/c"
            .parse()
            .unwrap();
        assert_eq!(t.file, PathBuf::from("/etc/c"));
        assert!("nope".parse::<TargetCredentials>().is_err());
    }
}
