//! Request limits in front of every endpoint: `GET` and `HEAD` only (405
//! with `Allow` otherwise), at most `max_requests` requests at once (more are
//! answered 503 at once, as Prometheus's own exporters answer
//! `--web.max-requests`), and a time cap per request (503). Input: an axum
//! `Router` and [`Limits`]; output: the router with the limits applied.

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

/// The limits, from `cli::serve::Settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests served at once (0: no limit).
    pub max_requests: usize,
    /// Longest time to produce one answer; also how long in-flight requests
    /// may take to finish on shutdown.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_requests: 40,
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// `router` with the limits, outermost first: method, concurrency, time.
/// Layers added last run first, so the order below is inside out.
pub fn apply(router: Router, limits: Limits) -> Router {
    let router = router.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ));
    let router = if limits.max_requests > 0 {
        let max = limits.max_requests;
        router.layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                    overloaded(&e, max)
                }))
                .load_shed()
                // One permit pool shared by every route (a plain
                // ConcurrencyLimitLayer would give each route its own).
                .layer(GlobalConcurrencyLimitLayer::new(max)),
        )
    } else {
        router
    };
    router.layer(axum::middleware::from_fn(only_get_and_head))
}

fn overloaded(e: &BoxError, max: usize) -> Response {
    if e.is::<Overloaded>() {
        tracing::debug!(max_requests = max, "request shed: too many at once");
        let mut r = (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many requests at once (--web.max-requests {max}); retry\n"),
        )
            .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else {
        tracing::warn!(error = %e, "request failed in the limits layer");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
    }
}

/// Every endpoint is read-only: anything but `GET` and `HEAD` is a 405.
async fn only_get_and_head(req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::METHOD_NOT_ALLOWED,
        "only GET and HEAD are served\n",
    )
        .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use std::sync::Arc;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    fn req(method: &str, path: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn only_get_and_head_pass() {
        let app = apply(
            Router::new().route("/metrics", get(|| async { "x\n" })),
            Limits::default(),
        );
        for (m, path, want) in [
            ("GET", "/metrics", 200),
            ("HEAD", "/metrics", 200),
            ("POST", "/metrics", 405),
            ("PUT", "/metrics", 405),
            ("DELETE", "/", 405),
            ("OPTIONS", "/nowhere", 405),
            ("GET", "/nowhere", 404),
        ] {
            let r = app.clone().oneshot(req(m, path)).await.unwrap();
            assert_eq!(r.status().as_u16(), want, "{m} {path}");
            if want == 405 {
                assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
            }
        }
    }

    #[tokio::test]
    async fn requests_beyond_the_cap_are_shed_and_slow_ones_time_out() {
        let release = Arc::new(Notify::new());
        let r2 = release.clone();
        let app = apply(
            Router::new()
                .route(
                    "/slow",
                    get(move || {
                        let r = r2.clone();
                        async move {
                            r.notified().await;
                            "done\n"
                        }
                    }),
                )
                .route("/fast", get(|| async { "fast\n" })),
            Limits {
                max_requests: 1,
                request_timeout: Duration::from_millis(300),
            },
        );
        let held = tokio::spawn(app.clone().oneshot(req("GET", "/slow")));
        // The first request holds the only permit (another route still counts).
        let shed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let r = app.clone().oneshot(req("GET", "/fast")).await.unwrap();
                if r.status() == StatusCode::SERVICE_UNAVAILABLE {
                    return r;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("a second request is shed while the first holds the permit");
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        // The held request is cut at the request timeout with a 503.
        let held = held.await.unwrap().unwrap();
        assert_eq!(held.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Its permit is back.
        let r = app.clone().oneshot(req("GET", "/fast")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        release.notify_waiters();
    }
}
