//! The web configuration file in the Prometheus exporter-toolkit format
//! (`tls_server_config`, `http_server_config`, `basic_auth_users`), and what
//! it becomes: a rustls `ServerConfig`, response headers and the user table.
//! Input: the file's YAML text and the files it names; output: [`Loaded`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::WebError;

/// Largest web configuration, certificate or key file read.
const MAX_FILE: u64 = 1 << 20;

/// The file as written (unknown keys are an error, as in the toolkit).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfigFile {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub http_server_config: Option<HttpServerConfig>,
    /// User name -> bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_auth_type: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Accepted for compatibility; rustls always prefers the server's order.
    pub prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Accepted for compatibility; ksbridge serves HTTP/1.1.
    pub http2: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Response headers the toolkit lets a web config set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// A web configuration ready to serve with.
#[derive(Debug)]
pub struct Loaded {
    /// `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// User name -> bcrypt hash; empty: no authentication.
    pub users: BTreeMap<String, String>,
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, WebError> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE).read_to_end(&mut buf))
        .map_err(|source| WebError::ReadFile {
            what,
            path: path.to_path_buf(),
            source,
        })?;
    Ok(buf)
}

/// Parses the YAML text (`origin` names it in errors).
pub fn parse(text: &str, origin: &Path) -> Result<WebConfigFile, WebError> {
    if text.trim().is_empty() {
        return Ok(WebConfigFile::default());
    }
    serde_yaml_ng::from_str(text).map_err(|e| WebError::Parse {
        path: origin.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads and checks the file; paths in it are relative to its directory.
pub fn load(path: &Path) -> Result<Loaded, WebError> {
    let raw = read_file(path, "web configuration")?;
    let file = parse(&String::from_utf8_lossy(&raw), path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    build(&file, base, path)
}

/// Turns a parsed file into a [`Loaded`] (reads the certificate files).
pub fn build(file: &WebConfigFile, base: &Path, origin: &Path) -> Result<Loaded, WebError> {
    let invalid = |reason: String| WebError::Invalid {
        path: origin.to_path_buf(),
        reason,
    };
    let mut headers = Vec::new();
    for (name, value) in file.http_server_config.iter().flat_map(|h| &h.headers) {
        let Some(allowed) = ALLOWED_HEADERS
            .iter()
            .find(|a| a.eq_ignore_ascii_case(name))
        else {
            return Err(invalid(format!(
                "header {name:?} may not be set (allowed: {})",
                ALLOWED_HEADERS.join(", ")
            )));
        };
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("header {name}: value is not a valid header value")))?;
        let name = HeaderName::from_bytes(allowed.as_bytes())
            .map_err(|_| invalid(format!("header {name}: not a valid header name")))?;
        headers.push((name, value));
    }
    for (user, hash) in &file.basic_auth_users {
        if user.contains(':') || user.is_empty() {
            return Err(invalid(format!("basic_auth_users: bad user name {user:?}")));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(invalid(format!(
                "basic_auth_users: the hash of {user:?} is not a bcrypt hash (htpasswd -nBC 10 {user})"
            )));
        }
    }
    let tls = match &file.tls_server_config {
        None => None,
        Some(t) => Some(Arc::new(tls_config(t, base, origin)?)),
    };
    Ok(Loaded {
        tls,
        headers,
        users: file.basic_auth_users.clone(),
    })
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// TLS 1.2 cipher suites by their Go names (as the toolkit spells them).
fn tls12_suite(name: &str) -> Option<rustls::SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

fn tls_version(v: &str) -> Option<u8> {
    match v {
        "TLS12" => Some(12),
        "TLS13" => Some(13),
        _ => None,
    }
}

/// The rustls server configuration for `t`. Long because it walks every
/// key of `tls_server_config` in the toolkit's order, each with its error.
fn tls_config(
    t: &TlsServerConfig,
    base: &Path,
    origin: &Path,
) -> Result<rustls::ServerConfig, WebError> {
    let invalid = |reason: String| WebError::Invalid {
        path: origin.to_path_buf(),
        reason,
    };
    let (Some(cert_file), Some(key_file)) = (&t.cert_file, &t.key_file) else {
        return Err(invalid(
            "tls_server_config needs cert_file and key_file".into(),
        ));
    };
    let cert_path = resolve(base, cert_file);
    let key_path = resolve(base, key_file);
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read_file(&cert_path, "certificate")?)
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("{}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{}: no PEM certificate",
            cert_path.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read_file(&key_path, "private key")?)
        .map_err(|e| invalid(format!("{}: {e}", key_path.display())))?;

    let min = match &t.min_version {
        None => 12,
        Some(v) => tls_version(v).ok_or_else(|| {
            invalid(format!(
                "min_version {v}: ksbridge supports TLS12 and TLS13"
            ))
        })?,
    };
    let max = match &t.max_version {
        None => 13,
        Some(v) => tls_version(v).ok_or_else(|| {
            invalid(format!(
                "max_version {v}: ksbridge supports TLS12 and TLS13"
            ))
        })?,
    };
    if min > max {
        return Err(invalid("min_version is above max_version".into()));
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 && max >= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    let mut provider = rustls::crypto::ring::default_provider();
    if !t.cipher_suites.is_empty() {
        // As in Go: the list picks TLS 1.2 suites; TLS 1.3 suites are always on.
        let mut suites: Vec<rustls::SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for name in &t.cipher_suites {
            suites.push(tls12_suite(name).ok_or_else(|| {
                invalid(format!(
                    "cipher suite {name} is not supported (ECDHE with AES-GCM or ChaCha20-Poly1305 only)"
                ))
            })?);
        }
        provider.cipher_suites = suites;
    }
    let provider = Arc::new(provider);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("TLS versions: {e}")))?;
    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth {
        "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let ca = t.client_ca_file.as_ref().ok_or_else(|| {
                invalid(format!("client_auth_type {auth} needs client_ca_file"))
            })?;
            let ca_path = resolve(base, ca);
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&read_file(&ca_path, "client CA")?) {
                let c = c.map_err(|e| invalid(format!("{}: {e}", ca_path.display())))?;
                roots
                    .add(c)
                    .map_err(|e| invalid(format!("{}: {e}", ca_path.display())))?;
            }
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if auth == "VerifyClientCertIfGiven" {
                v = v.allow_unauthenticated();
            }
            let verifier = v
                .build()
                .map_err(|e| invalid(format!("client CA {}: {e}", ca_path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(invalid(format!(
                "client_auth_type {auth} (unverified client certificates) is not supported: use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            )))
        }
        other => {
            return Err(invalid(format!(
                "client_auth_type {other}: expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            )))
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The files whose change means "load again": the config and the files it names.
pub fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    let Ok(raw) = read_file(path, "web configuration") else {
        return out;
    };
    let Ok(file) = parse(&String::from_utf8_lossy(&raw), path) else {
        return out;
    };
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(t) = &file.tls_server_config {
        for p in [&t.cert_file, &t.key_file, &t.client_ca_file]
            .into_iter()
            .flatten()
        {
            out.push(resolve(base, p));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolkit_examples_parse_and_bad_ones_say_why() {
        let f = parse(
            "basic_auth_users:\n  alice: $2y$10$1kbA6d4e0ZWnE8Xj0Q6a3.9p3rQ0pXr1m6m8fJz3Y2l0uQw1bKq4e\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            Path::new("web.yml"),
        )
        .unwrap();
        assert_eq!(f.basic_auth_users.len(), 1);
        let loaded = build(&f, Path::new("."), Path::new("web.yml")).unwrap();
        assert!(loaded.tls.is_none());
        assert_eq!(loaded.headers[0].0.as_str(), "x-frame-options");

        let unknown = parse("tls_server_config:\n  cert_fil: x\n", Path::new("w")).unwrap_err();
        assert!(unknown.to_string().contains("cert_fil"), "{unknown}");
        let f = parse(
            "http_server_config:\n  headers:\n    Set-Cookie: a\n",
            Path::new("w"),
        )
        .unwrap();
        assert!(build(&f, Path::new("."), Path::new("w"))
            .unwrap_err()
            .to_string()
            .contains("Set-Cookie"));
        let f = parse("basic_auth_users:\n  bob: plaintext\n", Path::new("w")).unwrap();
        assert!(build(&f, Path::new("."), Path::new("w"))
            .unwrap_err()
            .to_string()
            .contains("not a bcrypt hash"));
        let f = parse(
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
            Path::new("w"),
        )
        .unwrap();
        assert!(build(&f, Path::new("."), Path::new("w"))
            .unwrap_err()
            .to_string()
            .contains("/nonexistent.crt"));
        assert!(parse("", Path::new("w")).is_ok());
        assert!(parse("- a\n- b\n", Path::new("w")).is_err());
    }
}
