//! The class histogram (`GC.class_histogram` through DiagnosticCommand):
//! parsing its text, the top N by bytes, and the diff between two samples.
//! Input: the command's text output; output: [`Histogram`] and [`Growth`] rows.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use super::{bytes, ConsoleError, Session};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClassRow {
    pub class: String,
    /// `java.base@17.0.15` and the like, when the JVM names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    pub instances: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Histogram {
    /// Biggest first, as the JVM prints them.
    pub rows: Vec<ClassRow>,
    pub total_instances: i64,
    pub total_bytes: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Growth {
    pub class: String,
    pub instances_before: i64,
    pub instances_after: i64,
    pub bytes_before: i64,
    pub bytes_after: i64,
    pub bytes_delta: i64,
    pub instances_delta: i64,
}

/// Parses `GC.class_histogram` output; lines that are not rows are skipped.
pub fn parse(text: &str) -> Histogram {
    let mut h = Histogram::default();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Total") {
            let nums: Vec<i64> = rest
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            if nums.len() >= 2 {
                h.total_instances = nums[0];
                h.total_bytes = nums[1];
            }
            continue;
        }
        let Some((num, rest)) = l.split_once(':') else {
            continue;
        };
        if num.parse::<u64>().is_err() {
            continue;
        }
        let mut parts = rest.split_whitespace();
        let (Some(inst), Some(b)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(instances), Ok(bytes)) = (inst.parse::<i64>(), b.parse::<i64>()) else {
            continue;
        };
        let name: Vec<&str> = parts.collect();
        let name = name.join(" ");
        let (class, module) = match name.rsplit_once(" (") {
            Some((c, m)) if m.ends_with(')') => {
                (c.to_string(), Some(m.trim_end_matches(')').to_string()))
            }
            _ => (name, None),
        };
        h.rows.push(ClassRow {
            class,
            module,
            instances,
            bytes,
        });
    }
    h
}

/// What grew from `a` to `b`, most bytes first (only classes that grew).
pub fn diff(a: &Histogram, b: &Histogram) -> Vec<Growth> {
    let before: HashMap<&str, &ClassRow> = a.rows.iter().map(|r| (r.class.as_str(), r)).collect();
    let mut out: Vec<Growth> = b
        .rows
        .iter()
        .map(|r| {
            let (bi, bb) = before
                .get(r.class.as_str())
                .map(|p| (p.instances, p.bytes))
                .unwrap_or((0, 0));
            Growth {
                class: r.class.clone(),
                instances_before: bi,
                instances_after: r.instances,
                bytes_before: bb,
                bytes_after: r.bytes,
                bytes_delta: r.bytes - bb,
                instances_delta: r.instances - bi,
            }
        })
        .filter(|g| g.bytes_delta > 0 || g.instances_delta > 0)
        .collect();
    out.sort_by(|x, y| {
        y.bytes_delta
            .cmp(&x.bytes_delta)
            .then_with(|| x.class.cmp(&y.class))
    });
    out
}

impl Session {
    /// A class histogram. `all` inspects every object without a full GC
    /// first (`-all`); otherwise the JVM collects and counts live objects.
    pub async fn histogram(&self, all: bool) -> Result<Histogram, ConsoleError> {
        let args = if all {
            vec!["-all".to_string()]
        } else {
            Vec::new()
        };
        let text = self.dcmd("GC.class_histogram", &args).await?;
        Ok(parse(&text))
    }
}

pub fn write_top(out: &mut impl Write, h: &Histogram, n: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>4}  {:>12}  {:>12}  CLASS",
        "#", "INSTANCES", "BYTES"
    )?;
    for (i, r) in h.rows.iter().take(n).enumerate() {
        writeln!(
            out,
            "{:>4}  {:>12}  {:>12}  {}",
            i + 1,
            r.instances,
            bytes(r.bytes),
            r.class
        )?;
    }
    writeln!(
        out,
        "total {} instances, {} in {} classes",
        h.total_instances,
        bytes(h.total_bytes),
        h.rows.len()
    )
}

pub fn write_diff(
    out: &mut impl Write,
    rows: &[Growth],
    n: usize,
    interval_s: f64,
) -> std::io::Result<()> {
    writeln!(out, "grew over {interval_s:.1}s (most bytes first):")?;
    writeln!(
        out,
        "{:>12}  {:>12}  {:>12}  {:>12}  CLASS",
        "+BYTES", "+INSTANCES", "BYTES NOW", "INST NOW"
    )?;
    for g in rows.iter().take(n) {
        writeln!(
            out,
            "{:>12}  {:>12}  {:>12}  {:>12}  {}",
            bytes(g.bytes_delta.max(0)),
            g.instances_delta,
            bytes(g.bytes_after),
            g.instances_after,
            g.class
        )?;
    }
    if rows.is_empty() {
        writeln!(out, "(nothing grew)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "12345:\n num     #instances         #bytes  class name (module)\n-------------------------------------------------------\n   1:          1000         160000  [B (java.base@17.0.15)\n   2:           500          12000  java.lang.String (java.base@17.0.15)\n   3:            10            240  com.example.Foo\nTotal          1510         172240\n";

    #[test]
    fn parses_and_diffs() {
        let a = parse(A);
        assert_eq!(a.rows.len(), 3);
        assert_eq!(a.rows[0].class, "[B");
        assert_eq!(a.rows[0].module.as_deref(), Some("java.base@17.0.15"));
        assert_eq!(a.rows[2].class, "com.example.Foo");
        assert_eq!(a.total_bytes, 172240);
        let b = parse(&A.replace("    10            240  com", "  9010        2160240  com"));
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].class, "com.example.Foo");
        assert_eq!(d[0].bytes_delta, 2_160_000);
    }
}
