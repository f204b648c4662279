//! The `/apps/<application_id>` page of `serve`: the `status` screen and the
//! topology tree of one application, joined over every JVM serve reads, as
//! a self-contained HTML page (no scripts). Input: `(target, Snapshot)` pairs
//! read by the JMX sources and the restore histories of the state pollers;
//! output: HTML, or `None` when no source has seen the application.

use std::fmt::Write;
use std::sync::Arc;

use crate::jmx::Snapshot;
use crate::topology;

use super::health::{self, Expect, Status};
use super::restore::History;
use super::screen::{self, RestoreTotals};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page of `application_id`, or `None` if no snapshot runs it.
/// `restores`: what the state pollers followed (the last restore's start,
/// end and duration per client and task).
pub fn render(
    application_id: &str,
    reads: &[(String, Snapshot)],
    restores: &[Arc<History>],
) -> Option<String> {
    let mut app = super::apps(reads)
        .into_iter()
        .find(|a| a.application_id == application_id)?;
    for i in &mut app.instances {
        let Some(h) = restores.iter().find(|h| !h.phases(&i.client_id).is_empty()) else {
            continue;
        };
        i.last_restores = h.phases(&i.client_id);
        h.fill_rates(&i.client_id, &mut i.restoring);
    }
    let h = health::judge(&app, &Expect::default());
    let color = match h.status {
        Status::Healthy => "#2e7d32",
        Status::Degraded => "#ef6c00",
        Status::Failed => "#c62828",
    };
    let screen = screen::render(&app, &h, None, &RestoreTotals::new());
    let mut topo = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for (_, snap) in reads {
        for b in snap.of_type("kafka.streams", "stream-metrics") {
            let Some(text) = b.text("topology-description") else {
                continue;
            };
            let client = b.name.get("client-id").unwrap_or_default();
            if !app.instances.iter().any(|i| i.client_id == client) || seen.contains(&text) {
                continue;
            }
            seen.push(text);
            topo.push_str(&topology::render::text(
                &topology::parse(text),
                application_id,
            ));
        }
    }
    let mut out = String::new();
    let id = escape(application_id);
    let _ = writeln!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{id} — ksbridge</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}\
         .status{{color:#fff;background:{color};padding:.2em .6em;border-radius:.3em}}</style></head><body>\
         <p><a href=\"/\">ksbridge</a> / apps / {id}</p>\
         <h1>{id} <span class=\"status\" id=\"status\">{}</span></h1>\
         <p id=\"state\">state {}</p>\
         <h2>Status</h2><pre id=\"screen\">{}</pre>\
         <h2>Topology</h2><pre id=\"topology\">{}</pre>\
         <p>JSON and exit codes: <code>ksbridge status {id} --json</code>; diagrams: <code>ksbridge topology {id} --format mermaid|dot</code>.</p>\
         </body></html>",
        h.status.as_str().to_uppercase(),
        escape(&app.state_summary()),
        escape(&screen),
        escape(if topo.is_empty() { "(no topology-description metric)" } else { &topo }),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_escaped_and_unknown_apps_have_no_page() {
        let snap = Snapshot::from_capture_json(
            r#"[{"name":"kafka.streams:type=stream-metrics,client-id=c","attributes":{
              "application-id":{"type":"java.lang.String","value":"<b>x</b>"},
              "state":{"type":"java.lang.String","value":"RUNNING"},
              "topology-description":{"type":"java.lang.String","value":"Topologies:\n Sub-topology: 0\n Source: <s> (topics: [t])\n --> none\n"}}}]"#,
        )
        .unwrap();
        let reads = vec![("pid:1".to_string(), snap)];
        let page = render("<b>x</b>", &reads, &[]).unwrap();
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!page.contains("<b>x</b>"));
        assert!(page.contains("source &lt;s&gt; &lt;- t"));
        assert!(render("other", &reads, &[]).is_none());
    }
}
