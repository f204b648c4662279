//! Secrets out of what ksbridge shows and logs: command lines and
//! properties with `password`, `secret`, `token`, `credentials`,
//! `sasl.jaas.config`-like keys, values after `--password`-like flags, and
//! passwords in URLs. Input: a command line or `key=value` text; output: the
//! same text with each secret value replaced by `<redacted>`.

const REDACTED: &str = "<redacted>";

/// Key fragments (lower case) whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "jaas",
    "apikey",
    "api-key",
    "api_key",
    "private-key",
    "private_key",
    "privatekey",
    "access-key",
    "access_key",
    "accesskey",
];

fn is_secret_key(key: &str) -> bool {
    let k = key.trim_start_matches('-').to_ascii_lowercase();
    // `-Dkey` / `-Xkey`: the property name after the option letter.
    let k = k
        .strip_prefix('d')
        .filter(|_| key.starts_with("-D"))
        .unwrap_or(&k);
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// A `scheme://user:password@host` URL with the password replaced.
fn redact_url(token: &str) -> Option<String> {
    let (scheme, rest) = token.split_once("://")?;
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if rest[..at].contains('/') {
        return None;
    }
    let (user, _) = userinfo.split_once(':')?;
    Some(format!("{scheme}://{user}:{REDACTED}{}", &rest[at..]))
}

/// Redacts one whitespace-separated command line (as `/` and the logs show it).
pub fn command_line(line: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut redact_next = false;
    let mut in_jaas = false;
    for token in line.split(' ') {
        if redact_next && !token.is_empty() {
            out.push(REDACTED.into());
            redact_next = false;
            continue;
        }
        if in_jaas {
            // A JAAS line runs to its ';': every part of it may hold secrets.
            out.push(REDACTED.into());
            in_jaas = !token.ends_with(';');
            continue;
        }
        if let Some((key, value)) = token.split_once('=') {
            if is_secret_key(key) {
                out.push(format!("{key}={REDACTED}"));
                in_jaas = key.to_ascii_lowercase().contains("jaas") && !value.ends_with(';');
                continue;
            }
        }
        if let Some(u) = redact_url(token) {
            out.push(u);
            continue;
        }
        if token.starts_with('-') && !token.contains('=') && is_secret_key(token) {
            redact_next = true;
        }
        out.push(token.to_string());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_command_lines() {
        assert_eq!(
            command_line("app.Main --password hunter2 --user bob"),
            "app.Main --password <redacted> --user bob"
        );
        assert_eq!(
            command_line("Main --db.password=hunter2 -Djavax.net.ssl.keyStorePassword=x -Dfoo=bar"),
            "Main --db.password=<redacted> -Djavax.net.ssl.keyStorePassword=<redacted> -Dfoo=bar"
        );
        assert_eq!(
            command_line(
                "Main -Dsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\"; --x 1"
            ),
            "Main -Dsasl.jaas.config=<redacted> <redacted> <redacted> <redacted> --x 1"
        );
        assert_eq!(
            command_line("Main --api-token abc --client-secret=s --oauth.credentials c"),
            "Main --api-token <redacted> --client-secret=<redacted> --oauth.credentials <redacted>"
        );
        assert_eq!(
            command_line("Main --url postgres://app:hunter2@db:5432/x"),
            "Main --url postgres://app:<redacted>@db:5432/x"
        );
        assert_eq!(
            command_line("ksbridge.lab.Guard ksbridge.lab.ZMartApp --app-id zmart"),
            "ksbridge.lab.Guard ksbridge.lab.ZMartApp --app-id zmart"
        );
    }
}
