//! HTTP server: the telemetry path (`/metrics`), `/healthz` and the index page
//! at `/`, as a function returning the axum router. Input: a [`Scraper`];
//! output: HTTP responses (exposition text negotiated from `Accept`, gzip on
//! request; 503 only when every target failed).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

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
        .with_state(state)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let timeout = header_str(&headers, "x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.trim().parse::<f64>().ok());
    let format = Format::negotiate(header_str(&headers, "accept"));
    let gzip = encode::wants_gzip(header_str(&headers, "accept-encoding"));
    let result = state.scraper.scrape(timeout).await;
    let body = match tokio::task::spawn_blocking(move || {
        let text = encode::encode(&result.families, format);
        let body = if gzip {
            encode::gzip(text.as_bytes()).ok()
        } else {
            None
        };
        (text, body, result.all_failed)
    })
    .await
    {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response();
        }
    };
    let (text, gz, all_failed) = body;
    let status = if all_failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut resp = match gz {
        Some(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => (status, text).into_response(),
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    resp
}

async fn index(State(state): State<AppState>) -> Html<String> {
    let mut h = String::new();
    let path = html_escape(&state.telemetry_path);
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><title>ksbridge</title></head><body>\
         <h1>ksbridge {}</h1><p><a href=\"{path}\">{path}</a> · <a href=\"/healthz\">/healthz</a></p>\
         <h2>Targets</h2><table border=\"1\" cellpadding=\"4\"><tr><th>target</th><th>what</th>\
         <th>application ids</th><th>last refresh</th><th>snapshot age</th><th>beans</th><th>last error</th></tr>",
        env!("CARGO_PKG_VERSION")
    );
    let targets = state.scraper.targets();
    for t in &targets {
        let s = t.status();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&s.name),
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
    if targets.is_empty() {
        h.push_str("<tr><td colspan=\"7\">no targets yet (discovering local JVMs with kafka.streams beans)</td></tr>");
    }
    h.push_str("</table></body></html>\n");
    Html(h)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
