//! HTTP server: the telemetry path (`/metrics`), `/healthz` and the index page
//! at `/`, as a function returning the axum router. Input: a [`Scraper`];
//! output: HTTP responses (exposition text negotiated from `Accept`, gzip on
//! request through tower-http). A scrape ksbridge could answer is a 200
//! whatever its targets did (each target's `ksbridge_scrape_success` says
//! what failed; Prometheus drops the body of a non-2xx answer, and with it
//! the last good snapshot and those very series); 5xx only when ksbridge
//! itself cannot answer (see `web::limits` and `docs/metrics.md`).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;

use crate::exposition::encode::{self, Format};
use crate::scrape::Scraper;

#[derive(Clone)]
struct AppState {
    scraper: Arc<Scraper>,
    telemetry_path: Arc<str>,
}

/// The router: `telemetry_path`, `/healthz`, `/`.
pub fn router(scraper: Arc<Scraper>, telemetry_path: &str) -> Router {
    let state = AppState {
        scraper,
        telemetry_path: telemetry_path.into(),
    };
    Router::new()
        .route(telemetry_path, get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(index))
        .route("/apps/{application_id}", get(app_page))
        .with_state(state.clone())
        .layer(CompressionLayer::new().gzip(true))
        // Outside the compression: times the whole answer.
        .layer(axum::middleware::from_fn_with_state(state, time_answer))
}

/// When a `/metrics` answer's reads were done (a response extension).
#[derive(Debug, Clone, Copy)]
struct ReadsDone(std::time::Instant);

/// Tells the scraper how long a `/metrics` answer took after its reads,
/// once its body is sent (or dropped): merging, encoding and compressing
/// included, which the next scrapes' deadlines leave room for.
async fn time_answer(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    let Some(ReadsDone(at)) = resp.extensions().get::<ReadsDone>().copied() else {
        return resp;
    };
    let scraper = state.scraper.clone();
    resp.map(|inner| {
        axum::body::Body::new(Timed {
            inner,
            done: Some(Box::new(move || {
                scraper.answered(at);
                // The answer's snapshot, families and text are freed by now
                // or within moments: give their pages back.
                crate::jvm::release_free_memory_soon();
            })),
        })
    })
}

/// A response body that runs `done` when it is dropped: hyper drops it
/// once it is sent whole, or when the client went away.
struct Timed {
    inner: axum::body::Body,
    done: Option<Box<dyn FnOnce() + Send>>,
}

impl axum::body::HttpBody for Timed {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done();
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let timeout = header_str(&headers, "x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.trim().parse::<f64>().ok());
    let format = Format::negotiate(header_str(&headers, "accept"));
    let result = state.scraper.scrape(timeout).await;
    let reads_done = ReadsDone(result.reads_done);
    let Ok(text) =
        tokio::task::spawn_blocking(move || encode::encode(&result.families, format)).await
    else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response();
    };
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    // The next reads leave what this answer needs after them (`time_answer`).
    resp.extensions_mut().insert(reads_done);
    resp
}

async fn index(State(state): State<AppState>) -> Html<String> {
    let mut h = String::new();
    let path = html_escape(&state.telemetry_path);
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><title>ksbridge</title></head><body>\
         <h1>ksbridge {}</h1><p><a href=\"{path}\">{path}</a> · <a href=\"/healthz\">/healthz</a></p>\
         <h2>Sources</h2><table border=\"1\" cellpadding=\"4\"><tr><th>source</th><th>target</th><th>what</th>\
         <th>application ids</th><th>last refresh</th><th>snapshot age</th><th>beans</th><th>last error</th></tr>",
        env!("CARGO_PKG_VERSION")
    );
    let slots = state.scraper.slots();
    for t in &slots {
        let s = t.status();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.kind,
            html_escape(&s.target),
            html_escape(&crate::web::redact::command_line(&s.description)),
            html_escape(&s.application_ids.join(", ")),
            match s.success {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "not yet",
            },
            s.snapshot_age
                .map(|a| format!("{:.1}s", a.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            s.beans,
            html_escape(&crate::web::redact::command_line(
                s.last_error.as_deref().unwrap_or("")
            )),
        );
    }
    if slots.is_empty() {
        h.push_str("<tr><td colspan=\"8\">no targets yet (discovering local JVMs with kafka.streams beans)</td></tr>");
    }
    h.push_str("</table></body></html>\n");
    Html(h)
}

/// `/apps/<application_id>`: the status screen and topology of one app,
/// from a fresh scrape of every source (see `insight::page`).
async fn app_page(State(state): State<AppState>, Path(application_id): Path<String>) -> Response {
    state.scraper.scrape_with_snapshots().await;
    let reads: Vec<(String, crate::jmx::Snapshot)> = state
        .scraper
        .slots()
        .iter()
        .filter(|s| s.kind() == "jmx")
        .filter_map(|s| {
            let (out, _) = s.served(std::time::Duration::MAX)?;
            let snap = out.snapshot.as_ref()?;
            Some((s.target().to_string(), (**snap).clone()))
        })
        .collect();
    // The restores the state pollers followed (start, end, duration).
    let restores: Vec<_> = state
        .scraper
        .slots()
        .iter()
        .filter(|s| s.kind() == "state")
        .filter_map(|s| s.served(std::time::Duration::MAX)?.0.restores.clone())
        .collect();
    match crate::insight::page::render(&application_id, &reads, &restores) {
        Some(h) => Html(h).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(format!(
                "<!DOCTYPE html><html><body><p>No JVM read by ksbridge runs application {}.</p></body></html>\n",
                html_escape(&application_id)
            )),
        )
            .into_response(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
