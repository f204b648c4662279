//! Every HTTP endpoint behind one security layer, the Prometheus way: the
//! exporter-toolkit web configuration file (`--web.config.file`: TLS with
//! rustls, client certificates, bcrypt basic auth, response headers),
//! re-read when it or the files it names change, and the request limits of
//! `limits` in front of it; shutdown drains in-flight requests for at most
//! the request timeout. Input: a listener, an axum `Router`, the file's path
//! and the limits; output: the served router until shutdown.

pub mod config;
pub mod limits;
pub mod redact;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use config::Loaded;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("reading the {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("web configuration {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("web configuration {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
}

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The files are looked at (stat) at most this often.
const RECHECK: Duration = Duration::from_secs(1);
/// Bcrypt results kept (per user, hash and password) before the cache starts over.
const AUTH_CACHE: usize = 1024;

type Stamp = Vec<Option<(SystemTime, u64)>>;

/// The web configuration file, loaded again when it or a file it names changes.
/// A change that does not load keeps the last good configuration (and says so).
pub struct WebConfig {
    path: PathBuf,
    state: Mutex<Watch>,
    /// `(user, hash, password)` -> bcrypt verdict, as the toolkit caches it.
    auth_cache: Mutex<HashMap<(String, String, String), bool>>,
}

struct Watch {
    checked: Instant,
    stamp: Stamp,
    current: Arc<Loaded>,
}

fn stamp_of(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

impl WebConfig {
    /// Loads the file; an error here stops `serve` from starting.
    pub fn load(path: &Path) -> Result<WebConfig, WebError> {
        let current = Arc::new(config::load(path)?);
        Ok(WebConfig {
            path: path.to_path_buf(),
            state: Mutex::new(Watch {
                checked: Instant::now(),
                stamp: stamp_of(&config::watched_files(path)),
                current,
            }),
            auth_cache: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in force (re-read first when a file changed).
    pub fn current(&self) -> Arc<Loaded> {
        let Ok(mut w) = self.state.lock() else {
            // A panic while holding the lock: serve nothing rather than something unchecked.
            return Arc::new(Loaded {
                tls: None,
                headers: Vec::new(),
                users: [(String::new(), String::new())].into_iter().collect(),
            });
        };
        if w.checked.elapsed() >= RECHECK {
            w.checked = Instant::now();
            let stamp = stamp_of(&config::watched_files(&self.path));
            if stamp != w.stamp {
                w.stamp = stamp;
                match config::load(&self.path) {
                    Ok(new) => {
                        if new.tls.is_some() != w.current.tls.is_some() {
                            tracing::warn!(path = %self.path.display(), "web configuration: turning TLS on or off needs a restart; keeping the previous configuration");
                        } else {
                            tracing::info!(path = %self.path.display(), "web configuration reloaded");
                            w.current = Arc::new(new);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "web configuration not reloaded; keeping the previous one");
                    }
                }
            }
        }
        w.current.clone()
    }

    /// Whether `user:password` is allowed by `users` (bcrypt, cached). An
    /// unknown user still costs one bcrypt run, so timing does not tell
    /// which users exist.
    fn check(
        &self,
        users: &std::collections::BTreeMap<String, String>,
        user: &str,
        password: &str,
    ) -> bool {
        /// A bcrypt hash (cost 10) compared against for unknown users.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let (hash, known) = match users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (
                DUMMY
                    .get_or_init(|| bcrypt::hash("", 10).unwrap_or_default())
                    .as_str(),
                false,
            ),
        };
        let key = (user.to_string(), hash.to_string(), password.to_string());
        if let Some(ok) = self
            .auth_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
        {
            return ok && known;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if let Ok(mut c) = self.auth_cache.lock() {
            if c.len() >= AUTH_CACHE {
                c.clear();
            }
            c.insert(key, ok);
        }
        ok && known
    }
}

/// The user and password of a `Basic` authorization header.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The layer every request passes: basic auth when users are configured,
/// then the configured response headers.
async fn guard(State(web): State<Arc<WebConfig>>, req: Request, next: Next) -> Response {
    let cfg = web.current();
    if !cfg.users.is_empty() {
        let allowed = match basic_credentials(&req) {
            Some((u, p)) => {
                let web = web.clone();
                let cfg = cfg.clone();
                // bcrypt is deliberately slow: off the async workers.
                tokio::task::spawn_blocking(move || web.check(&cfg.users, &u, &p))
                    .await
                    .unwrap_or(false)
            }
            None => false,
        };
        if !allowed {
            let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ksbridge\""),
            );
            add_headers(&cfg, &mut resp);
            return resp;
        }
    }
    let mut resp = next.run(req).await;
    add_headers(&cfg, &mut resp);
    resp
}

fn add_headers(cfg: &Loaded, resp: &mut Response) {
    for (k, v) in &cfg.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, through the
/// limits and the web configuration when one is given (TLS when it has
/// `tls_server_config`). After `shutdown`, requests in flight get up to the
/// request timeout to finish; connections still open then are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    web: Option<Arc<WebConfig>>,
    limits: limits::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let drain = limits.request_timeout;
    let router = match &web {
        Some(web) => router.layer(axum::middleware::from_fn_with_state(web.clone(), guard)),
        None => router,
    };
    // The limits run before authentication: an unauthenticated flood is shed too.
    let router = limits::apply(router, limits);
    match web {
        Some(web) if web.current().tls.is_some() => {
            serve_tls(listener, router, web, shutdown, drain).await
        }
        _ => serve_plain(listener, router, shutdown, drain).await,
    }
}

/// Plain HTTP: axum's server with a bound on its graceful drain.
async fn serve_plain(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), WebError> {
    use std::future::IntoFuture;
    let (requested, stopping) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = requested.send(());
        })
        .into_future();
    let bound = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(drain).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server => r.map_err(WebError::Serve),
        () = bound => {
            tracing::info!(after = ?drain, "requests still open after the drain time: dropped");
            Ok(())
        }
    }
}

/// The TLS accept loop: each handshake uses the configuration in force
/// (certificates rotate without a restart); connections drain on shutdown.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    web: Arc<WebConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), WebError> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(tls) = web.current().tls.clone() else {
            continue;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                    return;
                }
            };
            let builder = Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("connections still open after the drain time: dropped");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_checks_are_cached_and_unknown_users_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let web = WebConfig::load(&path).unwrap();
        let cfg = web.current();
        assert!(web.check(&cfg.users, "alice", "s3cret"));
        assert!(web.check(&cfg.users, "alice", "s3cret"));
        assert!(!web.check(&cfg.users, "alice", "wrong"));
        assert!(!web.check(&cfg.users, "mallory", ""));
        assert_eq!(web.auth_cache.lock().unwrap().len(), 3);
    }
}
