//! Recording levels: which Kafka metrics an app records. Input: a snapshot;
//! output: the app's [`Level`] and where it came from ([`LevelSource`]).
//!
//! Kafka registers DEBUG and TRACE beans at INFO too, where they read NaN or 0
//! forever; groups drop attributes above the app's level.

use crate::jmx::{Snapshot, Value};

/// `metrics.recording.level`, ordered INFO < DEBUG < TRACE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Info,
    Debug,
    Trace,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }

    /// Kafka's `Sensor.RecordingLevel` id (0, 1, 2) or name.
    pub fn from_value(v: &Value) -> Option<Level> {
        if let Some(s) = v.as_str() {
            return match s.trim().to_ascii_uppercase().as_str() {
                "INFO" | "0" => Some(Level::Info),
                "DEBUG" | "1" => Some(Level::Debug),
                "TRACE" | "2" => Some(Level::Trace),
                _ => None,
            };
        }
        let x = v.as_f64()?;
        if x == 0.0 {
            Some(Level::Info)
        } else if x == 1.0 {
            Some(Level::Debug)
        } else if x == 2.0 {
            Some(Level::Trace)
        } else {
            None
        }
    }
}

/// Where the level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelSource {
    /// Kafka 4.0+ `recording-level` attribute of `stream-metrics`.
    Attribute,
    /// Inferred: the highest level whose metrics carry values.
    Inferred,
    /// No Kafka Streams client and nothing recorded: INFO.
    Default,
}

impl LevelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LevelSource::Attribute => "attribute",
            LevelSource::Inferred => "inferred",
            LevelSource::Default => "default",
        }
    }
}

/// The app's recording level: Kafka's `recording-level` where exposed (the
/// highest over clients), else inferred from which DEBUG/TRACE metrics carry
/// values (an idle DEBUG app infers as INFO until it records something).
pub fn recording_level(snapshot: &Snapshot) -> (Level, LevelSource) {
    let declared = snapshot
        .of_type("kafka.streams", "stream-metrics")
        .filter_map(|b| b.get("recording-level").and_then(Level::from_value))
        .max();
    if let Some(l) = declared {
        return (l, LevelSource::Attribute);
    }
    let inferred = super::GROUPS
        .iter()
        .map(|g| super::observed_level(snapshot, g))
        .max()
        .unwrap_or(Level::Info);
    if inferred > Level::Info
        || snapshot
            .of_type("kafka.streams", "stream-metrics")
            .next()
            .is_some()
    {
        (inferred, LevelSource::Inferred)
    } else {
        (Level::Info, LevelSource::Default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_map_to_levels() {
        assert_eq!(Level::from_value(&Value::Integer(1)), Some(Level::Debug));
        assert_eq!(Level::from_value(&Value::Double(2.0)), Some(Level::Trace));
        assert_eq!(
            Level::from_value(&Value::String("info".into())),
            Some(Level::Info)
        );
        assert_eq!(Level::from_value(&Value::Integer(7)), None);
        assert!(Level::Info < Level::Debug && Level::Debug < Level::Trace);
    }
}
