//! The `--limits.*` settings of `serve` (flags, config-file keys, defaults):
//! what one target may cost per read. Input: flags; output: a
//! [`jmx::limits::Limits`](crate::jmx::limits::Limits).

use crate::jmx::limits::Limits;

/// Caps on what one target (a JVM or a capture file) may cost per read. What
/// they cut is counted in `ksbridge_scrape_truncated_total{target,reason}`.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Most beans read from one target per scrape (in name order).
    #[arg(long = "limits.beans", value_name = "N", default_value_t = Limits::DEFAULT_BEANS, value_parser = at_least::<1>)]
    pub limits_beans: usize,

    /// Most attributes read from one bean.
    #[arg(long = "limits.attributes", value_name = "N", default_value_t = Limits::DEFAULT_ATTRIBUTES, value_parser = at_least::<1>)]
    pub limits_attributes: usize,

    /// Longest string attribute value kept, in bytes (longer ones are cut short).
    #[arg(long = "limits.value-length", value_name = "BYTES", default_value_t = Limits::DEFAULT_VALUE_LENGTH, value_parser = at_least::<16>)]
    pub limits_value_length: usize,

    /// Longest label value, in bytes (ObjectName keys such as client ids, and
    /// strings that become labels, are cut to it).
    #[arg(long = "limits.label-length", value_name = "BYTES", default_value_t = Limits::DEFAULT_LABEL_LENGTH, value_parser = at_least::<16>)]
    pub limits_label_length: usize,

    /// Largest read of one target, in bytes: the shim's answer for a JVM
    /// (beans past it are left out), the whole file for a capture (a larger
    /// one is not read).
    #[arg(long = "limits.bytes", value_name = "BYTES", default_value_t = Limits::DEFAULT_BYTES, value_parser = at_least::<1024>)]
    pub limits_bytes: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            beans: self.limits_beans,
            attributes: self.limits_attributes,
            value_length: self.limits_value_length,
            label_length: self.limits_label_length,
            bytes: self.limits_bytes,
        }
    }
}

/// A count of at least `MIN`.
fn at_least<const MIN: usize>(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|e| format!("{e}"))?;
    if n < MIN {
        return Err(format!("must be at least {MIN}"));
    }
    Ok(n)
}
