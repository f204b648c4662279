//! Encoders from `&[Family]` to exposition text: OpenMetrics 1.0 through
//! `prometheus-client` (a `Collector` of const metrics), and the classic
//! Prometheus text format 0.0.4 (what `promtool check metrics` parses), plus
//! content negotiation from `Accept` and optional gzip.
//!
//! OpenMetrics needs two small adaptations of `prometheus-client` 0.23:
//! label values and help text are escaped here (the crate writes them
//! verbatim), and StateSet families, which its `MetricType` lacks, are
//! encoded as gauges and their one `# TYPE <name> gauge` line is rewritten to
//! `stateset`. Histograms go through the crate's `encode_histogram` (which
//! takes per-bucket counts, `f64::MAX` as `+Inf`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
    LabelSetEncoder, LabelValueEncoder, MetricEncoder,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::{Family, HistogramValue, Kind, Sample};

/// The two text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text004,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// Like Prometheus's client libraries: OpenMetrics when `Accept` lists
    /// `application/openmetrics-text` with a non-zero q, else 0.0.4.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text004;
        };
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            if !media.eq_ignore_ascii_case("application/openmetrics-text") {
                continue;
            }
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            if q > 0.0 {
                return Format::OpenMetrics;
            }
        }
        Format::Text004
    }
}

/// Encodes in the given format.
pub fn encode(families: &[Family], format: Format) -> String {
    match format {
        Format::OpenMetrics => encode_openmetrics(families),
        Format::Text004 => encode_text(families),
    }
}

/// True when `Accept-Encoding` asks for gzip (q > 0).
pub fn wants_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|v| {
        v.split(',').any(|e| {
            let mut p = e.split(';').map(str::trim);
            let coding = p.next().unwrap_or_default();
            let q = p
                .filter_map(|x| x.strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            coding.eq_ignore_ascii_case("gzip") && q > 0.0
        })
    })
}

/// Gzips a body (fast level: scrapes are latency-bound).
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    e.write_all(body)?;
    e.finish()
}

// ---------------------------------------------------------------- OpenMetrics

/// A label value escaped for the text formats (`\\`, `\"`, `\n`).
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&escape_label(self.0))
    }
}

struct Labels<'a>(&'a [(String, String)]);

impl EncodeLabelSet for Labels<'_> {
    fn encode(&self, mut encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for (k, v) in self.0 {
            (k.as_str(), Escaped(v)).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Families(Arc<Vec<Family>>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in self.0.iter() {
            if f.samples.is_empty() {
                continue;
            }
            let ty = match f.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge | Kind::StateSet => MetricType::Gauge,
                Kind::Info => MetricType::Info,
                Kind::Histogram => MetricType::Histogram,
            };
            let help = escape_help(&f.help);
            let mut metric = encoder.encode_descriptor(&f.name, &help, None, ty)?;
            // A lone unlabelled sample is encoded without a label set (the
            // crate writes `{}` for an empty family label set, valid but noisy).
            if let [s] = f.samples.as_slice() {
                if s.labels.is_empty() && f.kind != Kind::Info {
                    encode_value(f.kind, s, metric)?;
                    continue;
                }
            }
            for s in &f.samples {
                let labels = Labels(&s.labels);
                // Info labels go in directly (through a family the crate writes `{,`).
                if f.kind == Kind::Info {
                    metric.encode_info(&labels)?;
                } else {
                    encode_value(f.kind, s, metric.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(kind: Kind, s: &Sample, mut m: MetricEncoder) -> Result<(), std::fmt::Error> {
    match kind {
        Kind::Counter => ConstCounter::new(s.value).encode(m),
        Kind::Histogram => {
            let empty = HistogramValue {
                buckets: Vec::new(),
                count: 0,
                sum: 0.0,
            };
            let h = s.histogram.as_deref().unwrap_or(&empty);
            m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(h.sum, h.count, &per_bucket(h), None)
        }
        _ => ConstGauge::new(s.value).encode(m),
    }
}

/// Per-bucket counts from cumulative ones, `+Inf` (as `f64::MAX`) last.
fn per_bucket(h: &HistogramValue) -> Vec<(f64, u64)> {
    let mut out = Vec::with_capacity(h.buckets.len() + 1);
    let mut prev = 0;
    for &(le, c) in &h.buckets {
        out.push((le, c.saturating_sub(prev)));
        prev = prev.max(c);
    }
    out.push((f64::MAX, h.count.saturating_sub(prev)));
    out
}

/// OpenMetrics 1.0 text, ending in `# EOF`.
pub fn encode_openmetrics(families: &[Family]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(Arc::new(families.to_vec()))));
    let mut out = String::with_capacity(estimate(families));
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        // Writing into a String cannot fail; keep the response well-formed anyway.
        out.clear();
        out.push_str("# EOF\n");
        return out;
    }
    for f in families.iter().filter(|f| f.kind == Kind::StateSet) {
        let from = format!("\n# TYPE {} gauge\n", f.name);
        let to = format!("\n# TYPE {} stateset\n", f.name);
        if let Some(i) = out.find(&from) {
            out.replace_range(i..i + from.len(), &to);
        }
    }
    out
}

// ---------------------------------------------------------------- 0.0.4

/// The classic text format 0.0.4: counters as `<name>_total` with
/// `# TYPE <name>_total counter`, StateSet as gauge, Info as a gauge
/// `<name>_info`; no `# UNIT`, no `# EOF`.
pub fn encode_text(families: &[Family]) -> String {
    let mut out = String::with_capacity(estimate(families));
    for f in families {
        if f.samples.is_empty() {
            continue;
        }
        let (name, ty) = match f.kind {
            Kind::Counter => (format!("{}_total", f.name), "counter"),
            Kind::Gauge | Kind::StateSet => (f.name.clone(), "gauge"),
            Kind::Info => (format!("{}_info", f.name), "gauge"),
            Kind::Histogram => (f.name.clone(), "histogram"),
        };
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
        let _ = writeln!(out, "# TYPE {name} {ty}");
        for s in &f.samples {
            if f.kind == Kind::Histogram {
                text_histogram(&mut out, &name, s);
                continue;
            }
            out.push_str(&name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_value(s.value));
            out.push('\n');
        }
    }
    out
}

/// One histogram sample in 0.0.4: `_bucket` lines with `le` (ending in
/// `+Inf`), then `_sum` and `_count`.
fn text_histogram(out: &mut String, name: &str, s: &Sample) {
    let Some(h) = s.histogram.as_deref() else {
        return;
    };
    let line = |out: &mut String, suffix: &str, le: Option<&str>, v: &str| {
        out.push_str(name);
        out.push_str(suffix);
        let mut first = true;
        for (k, v) in s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), escape_label(v)))
            .chain(le.map(|le| ("le", le.to_string())))
        {
            out.push(if first { '{' } else { ',' });
            first = false;
            let _ = write!(out, "{k}=\"{v}\"");
        }
        if !first {
            out.push('}');
        }
        out.push(' ');
        out.push_str(v);
        out.push('\n');
    };
    for &(le, c) in &h.buckets {
        line(out, "_bucket", Some(&format_value(le)), &c.to_string());
    }
    line(out, "_bucket", Some("+Inf"), &h.count.to_string());
    line(out, "_sum", None, &format_value(h.sum));
    line(out, "_count", None, &h.count.to_string());
}

/// Go-parsable float: `NaN`, `+Inf`, `-Inf`, shortest round-trip otherwise.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

fn escape_label(v: &str) -> String {
    if !v.contains(['\\', '"', '\n']) {
        return v.to_string();
    }
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn estimate(families: &[Family]) -> usize {
    families
        .iter()
        .map(|f| 200 + f.samples.len() * (f.name.len() + 120))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Family> {
        let mut c = Family::new("app_process", Kind::Counter, "Processed records.");
        c.push(vec![("thread".into(), "a\"b\\c\nd".into())], 5.0);
        let mut g = Family::new("app_latency_seconds", Kind::Gauge, "Latency.");
        g.push(vec![("x".into(), "1".into())], 0.25);
        let mut u = Family::new("app_up", Kind::Gauge, "Up.");
        u.push(vec![], f64::NAN);
        let mut s = Family::new("app_state", Kind::StateSet, "State.");
        s.push(vec![("state".into(), "RUNNING".into())], 1.0);
        s.push(vec![("state".into(), "ERROR".into())], 0.0);
        let mut i = Family::new("app_build", Kind::Info, "Build.");
        i.push(vec![("version".into(), "4.4.0".into())], 1.0);
        vec![c, g, u, s, i]
    }

    #[test]
    fn openmetrics_whole_exposition() {
        let got = encode_openmetrics(&sample());
        let want = "# HELP app_process Processed records.\n\
# TYPE app_process counter\n\
app_process_total{thread=\"a\\\"b\\\\c\\nd\"} 5.0\n\
# HELP app_latency_seconds Latency.\n\
# TYPE app_latency_seconds gauge\n\
app_latency_seconds{x=\"1\"} 0.25\n\
# HELP app_up Up.\n\
# TYPE app_up gauge\n\
app_up NaN\n\
# HELP app_state State.\n\
# TYPE app_state stateset\n\
app_state{state=\"RUNNING\"} 1.0\n\
app_state{state=\"ERROR\"} 0.0\n\
# HELP app_build Build.\n\
# TYPE app_build info\n\
app_build_info{version=\"4.4.0\"} 1\n\
# EOF\n";
        assert_eq!(got, want);
    }

    #[test]
    fn text_004_whole_exposition() {
        let got = encode_text(&sample());
        let want = "# HELP app_process_total Processed records.\n\
# TYPE app_process_total counter\n\
app_process_total{thread=\"a\\\"b\\\\c\\nd\"} 5\n\
# HELP app_latency_seconds Latency.\n\
# TYPE app_latency_seconds gauge\n\
app_latency_seconds{x=\"1\"} 0.25\n\
# HELP app_up Up.\n\
# TYPE app_up gauge\n\
app_up NaN\n\
# HELP app_state State.\n\
# TYPE app_state gauge\n\
app_state{state=\"RUNNING\"} 1\n\
app_state{state=\"ERROR\"} 0\n\
# HELP app_build_info Build.\n\
# TYPE app_build_info gauge\n\
app_build_info{version=\"4.4.0\"} 1\n";
        assert_eq!(got, want);
    }

    fn histogram() -> Vec<Family> {
        let mut h = Family::new("app_age_seconds", Kind::Histogram, "Age.");
        h.push_histogram(
            vec![("topic".into(), "t\"x".into())],
            HistogramValue {
                buckets: vec![(0.1, 1), (1.0, 3)],
                count: 4,
                sum: 7.5,
            },
        );
        vec![h]
    }

    #[test]
    fn histogram_openmetrics() {
        let got = encode_openmetrics(&histogram());
        let want = "# HELP app_age_seconds Age.\n\
# TYPE app_age_seconds histogram\n\
app_age_seconds_sum{topic=\"t\\\"x\"} 7.5\n\
app_age_seconds_count{topic=\"t\\\"x\"} 4\n\
app_age_seconds_bucket{le=\"0.1\",topic=\"t\\\"x\"} 1\n\
app_age_seconds_bucket{le=\"1.0\",topic=\"t\\\"x\"} 3\n\
app_age_seconds_bucket{le=\"+Inf\",topic=\"t\\\"x\"} 4\n\
# EOF\n";
        assert_eq!(got, want);
    }

    #[test]
    fn histogram_text_004() {
        let got = encode_text(&histogram());
        let want = "# HELP app_age_seconds Age.\n\
# TYPE app_age_seconds histogram\n\
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"0.1\"} 1\n\
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"1\"} 3\n\
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"+Inf\"} 4\n\
app_age_seconds_sum{topic=\"t\\\"x\"} 7.5\n\
app_age_seconds_count{topic=\"t\\\"x\"} 4\n";
        assert_eq!(got, want);
    }

    #[test]
    fn negotiation_like_client_libraries() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text004);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text004);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text004
        );
        assert!(wants_gzip(Some("gzip, deflate")));
        assert!(!wants_gzip(Some("gzip;q=0")));
        assert!(!wants_gzip(None));
    }

    #[test]
    fn values_parse_in_go() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.001), "0.001");
        assert_eq!(format_value(1e-9), "1e-9");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(-3.0), "-3");
    }
}
