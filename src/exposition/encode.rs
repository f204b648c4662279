//! Encoders from `&[Family]` to exposition text, one per format, both from
//! the project's own family model: OpenMetrics 1.0 (with StateSets and
//! `# EOF`) and the classic Prometheus text format 0.0.4 (what `promtool
//! check metrics` parses), histograms as `_bucket{le}`/`_sum`/`_count` in
//! both, plus the choice of format from `Accept`.
//! Compression is the HTTP layer's (`server.rs`).

use std::fmt::Write as _;

use super::{Family, Kind, Label, Sample};

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
    /// `application/openmetrics-text` with a non-zero q, else 0.0.4. (Media
    /// type negotiation for exposition formats is this small rule in every
    /// client library; no HTTP layer offers it.)
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

// ---------------------------------------------------------------- both formats

/// One family's lines: the name on `# HELP`/`# TYPE`, the type word, the
/// name on samples, and whether samples print a constant 1 (OpenMetrics info).
struct Lines {
    described: String,
    ty: &'static str,
    sample: String,
    constant_one: bool,
}

/// How a family of `kind` is written in `format`.
fn lines(name: &str, kind: Kind, format: Format) -> Lines {
    let with = |suffix: &str| format!("{name}{suffix}");
    let (described, ty, sample) = match (format, kind) {
        (Format::OpenMetrics, Kind::Counter) => (name.to_string(), "counter", with("_total")),
        (Format::OpenMetrics, Kind::Gauge) => (name.to_string(), "gauge", name.to_string()),
        (Format::OpenMetrics, Kind::StateSet) => (name.to_string(), "stateset", name.to_string()),
        (Format::OpenMetrics, Kind::Info) => (name.to_string(), "info", with("_info")),
        (_, Kind::Histogram) => (name.to_string(), "histogram", name.to_string()),
        (Format::Text004, Kind::Counter) => (with("_total"), "counter", with("_total")),
        (Format::Text004, Kind::Gauge | Kind::StateSet) => {
            (name.to_string(), "gauge", name.to_string())
        }
        (Format::Text004, Kind::Info) => (with("_info"), "gauge", with("_info")),
    };
    Lines {
        described,
        ty,
        sample,
        constant_one: format == Format::OpenMetrics && kind == Kind::Info,
    }
}

fn encode_in(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(estimate(families));
    let value: fn(&mut String, f64) = match format {
        Format::OpenMetrics => write_openmetrics_value,
        Format::Text004 => write_value,
    };
    let mut blocks = LabelBlocks::default();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let l = lines(&f.name, f.kind, format);
        for (word, text) in [
            ("# HELP ", escape_help(&f.help).as_ref()),
            ("# TYPE ", l.ty),
        ] {
            out.push_str(word);
            out.push_str(&l.described);
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        for s in &f.samples {
            if f.kind == Kind::Histogram {
                write_histogram(&mut out, &l.sample, s, value);
                continue;
            }
            out.push_str(&l.sample);
            blocks.write(&mut out, &s.labels);
            out.push(' ');
            if l.constant_one {
                out.push('1');
            } else {
                value(&mut out, s.value);
            }
            out.push('\n');
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// OpenMetrics 1.0 text: counters as `<name>_total`, info as `<name>_info`,
/// StateSets typed `stateset`, floats in shortest round-trip form with a
/// decimal point (`5.0`), ending in `# EOF`.
pub fn encode_openmetrics(families: &[Family]) -> String {
    encode_in(families, Format::OpenMetrics)
}

/// The classic text format 0.0.4: counters as `<name>_total` with
/// `# TYPE <name>_total counter`, StateSet as gauge, Info as a gauge
/// `<name>_info`; no `# UNIT`, no `# EOF`.
pub fn encode_text(families: &[Family]) -> String {
    encode_in(families, Format::Text004)
}

/// OpenMetrics float: `NaN`, `+Inf`, `-Inf`, else shortest round-trip with a
/// decimal point or exponent (`5.0`, `0.25`, `1e-9`).
pub fn format_openmetrics_value(v: f64) -> String {
    let mut s = String::new();
    write_openmetrics_value(&mut s, v);
    s
}

fn write_openmetrics_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        out.push_str(dtoa::Buffer::new().format_finite(v));
    }
}

/// Label sets rendered once per encoding: samples share sets (every sample of
/// one bean holds the same [`super::Labels`], across families), so each set
/// is escaped once and copied for the others. Keyed by the set's identity,
/// which is stable while the families are borrowed.
#[derive(Default)]
struct LabelBlocks {
    text: String,
    at: std::collections::HashMap<usize, (usize, usize), foldhash::fast::FixedState>,
}

impl LabelBlocks {
    fn write(&mut self, out: &mut String, labels: &super::Labels) {
        let (start, end) = *self.at.entry(labels.id()).or_insert_with(|| {
            let start = self.text.len();
            write_labels(&mut self.text, labels, None);
            (start, self.text.len())
        });
        out.push_str(&self.text[start..end]);
    }
}

/// `{k="v",...}` (nothing for no labels), with `extra` (the `le` of a bucket) last.
fn write_labels(out: &mut String, labels: &[Label], extra: Option<(&str, &str)>) {
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let all = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra);
    for (i, (k, v)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label_into(out, v);
        out.push('"');
    }
    out.push('}');
}

/// One histogram sample (both formats): `<name>_bucket` lines with `le`
/// (ascending, ending in `+Inf` = the count), then `<name>_sum` and
/// `<name>_count`; `float` writes bounds and the sum for the format.
fn write_histogram(out: &mut String, name: &str, s: &Sample, float: fn(&mut String, f64)) {
    let Some(h) = s.histogram.as_deref() else {
        return;
    };
    let mut le = String::new();
    let count_line = |out: &mut String, le: &str, count: u64| {
        out.push_str(name);
        out.push_str("_bucket");
        write_labels(out, &s.labels, Some(("le", le)));
        out.push(' ');
        out.push_str(itoa::Buffer::new().format(count));
        out.push('\n');
    };
    for &(bound, count) in &h.buckets {
        le.clear();
        float(&mut le, bound);
        count_line(out, &le, count);
    }
    count_line(out, "+Inf", h.count);
    out.push_str(name);
    out.push_str("_sum");
    write_labels(out, &s.labels, None);
    out.push(' ');
    float(out, h.sum);
    out.push('\n');
    out.push_str(name);
    out.push_str("_count");
    write_labels(out, &s.labels, None);
    out.push(' ');
    out.push_str(itoa::Buffer::new().format(h.count));
    out.push('\n');
}

/// Go-parsable float: `NaN`, `+Inf`, `-Inf`, shortest round-trip otherwise.
pub fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        write_debug_float(out, v);
    }
}

/// A finite `v` exactly as `format!("{v:?}")` writes it, from ryu (several
/// times cheaper than the standard formatter). Both write the shortest
/// round-trip digits, closest to `v`, and ryu's layout is the standard one
/// (`0.001`, `12.5`, `1e16`, `1.5e-7`) but for two cases left to the
/// standard formatter: between 1e-5 and 1e-4 ryu writes `0.0000x` (the
/// standard `x.e-5`), and where `v` lies exactly halfway between the two
/// closest shortest candidates ryu rounds to even, the standard formatter up.
fn write_debug_float(out: &mut String, v: f64) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    let mantissa = s.split('e').next().unwrap_or(s).as_bytes();
    let exponential = mantissa.len() < s.len();
    if (v.abs() < 1e-4 && !exponential) || (mantissa.len() >= 16 && is_tie(v, mantissa)) {
        let _ = write!(out, "{v:?}");
        return;
    }
    out.push_str(s);
}

/// Whether `v`'s exact value has one significant digit more than ryu's
/// `mantissa` (`-12.345`), that digit a 5: a tie between two candidates.
/// Only values with a short exact decimal can be one: `m * 2^e` (m odd)
/// has at most 18 significant digits only for -25 <= e <= 22.
fn is_tie(v: f64, mantissa: &[u8]) -> bool {
    let bits = v.abs().to_bits();
    let (biased, fraction) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    let (mut m, mut e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if m == 0 {
        return false;
    }
    e += m.trailing_zeros() as i32;
    m >>= m.trailing_zeros();
    let mut exact = match e {
        0..=22 => u128::from(m) << e,
        -25..=-1 => u128::from(m) * 5u128.pow(e.unsigned_abs()),
        _ => return false,
    };
    while exact % 10 == 0 {
        exact /= 10;
    }
    if exact % 10 != 5 {
        return false;
    }
    let mut exact_digits = 0;
    while exact > 0 {
        exact /= 10;
        exact_digits += 1;
    }
    let digits = || mantissa.iter().filter(|b| b.is_ascii_digit());
    let leading = digits().take_while(|&&b| b == b'0').count();
    let trailing = digits().rev().take_while(|&&b| b == b'0').count();
    let shown = digits().count().saturating_sub(leading + trailing);
    exact_digits == shown + 1
}

/// A label value escaped (`\\`, `\"`, `\n`) onto `out`.
fn escape_label_into(out: &mut String, v: &str) {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '\n']) {
        return v.into();
    }
    v.replace('\\', "\\\\").replace('\n', "\\n").into()
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
    }

    fn histogram() -> Vec<Family> {
        let mut h = Family::new("app_age_seconds", Kind::Histogram, "Age.");
        h.push_histogram(
            vec![("topic".into(), "t\"x".into())],
            super::super::HistogramValue {
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
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"0.1\"} 1\n\
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"1.0\"} 3\n\
app_age_seconds_bucket{topic=\"t\\\"x\",le=\"+Inf\"} 4\n\
app_age_seconds_sum{topic=\"t\\\"x\"} 7.5\n\
app_age_seconds_count{topic=\"t\\\"x\"} 4\n\
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

    /// The 0.0.4 encoder writes non-integral floats as `{:?}` does.
    #[test]
    fn floats_as_the_standard_formatter_writes_them() {
        let mut seed: u64 = 7;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cases = vec![
            0.1,
            0.25,
            1e-4,
            9.9999e-5,
            1e-5,
            1.5e-7,
            1e16,
            9.999999999999998e15,
            1e15 + 0.5,
            123456.789,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.3,
            2.0 / 3.0,
            1e300,
            1.0e22,
        ];
        for _ in 0..10_000 {
            let r = next();
            cases.push(f64::from_bits(r));
            cases.push((r >> 11) as f64 / (1u64 << 53) as f64 * 100.0);
            cases.push((r % 1_000_000) as f64 / 1000.0);
            cases.push((r % 10_000) as f64 * 1e-9);
            // Exact halves, quarters and eighths of large numbers: ties.
            let big = (r >> 12) as f64;
            cases.push(big + 0.25);
            cases.push((big + 0.5) * 2f64.powi((r % 8) as i32));
            cases.push(big / 8.0 + 0.125);
            cases.push((r >> 40) as f64 * 1e-17);
        }
        for v in cases.into_iter().flat_map(|v| [v, -v]) {
            if !v.is_finite() {
                continue;
            }
            let mut got = String::new();
            write_debug_float(&mut got, v);
            assert_eq!(got, format!("{v:?}"), "{v:e}");
        }
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
