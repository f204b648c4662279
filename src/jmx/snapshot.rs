//! Immutable snapshots of a JVM's MBeans (`Snapshot` of `Bean`s of
//! `Attribute`s) and the capture-format JSON they load from and save to.

use std::path::Path;

use serde_json::{Map, Value as Json};

use super::{ObjectName, Value};

/// One attribute of a bean with its runtime value.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: Value,
}

/// One MBean: its name, its MBeanInfo class name, and its attributes in
/// MBeanInfo order.
#[derive(Debug, Clone, PartialEq)]
pub struct Bean {
    pub name: ObjectName,
    pub class_name: String,
    pub attributes: Vec<Attribute>,
}

impl Bean {
    pub fn get(&self, attribute: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.name == attribute)
            .map(|a| &a.value)
    }

    /// The numeric value of an attribute (see [`Value::as_f64`]).
    pub fn f64(&self, attribute: &str) -> Option<f64> {
        self.get(attribute).and_then(Value::as_f64)
    }

    /// The text of a string or enum attribute.
    pub fn text(&self, attribute: &str) -> Option<&str> {
        self.get(attribute).and_then(Value::as_str)
    }

    /// This bean as a capture-format JSON object.
    pub fn to_json(&self) -> Json {
        let mut attrs = Map::new();
        for a in &self.attributes {
            attrs.insert(a.name.clone(), a.value.to_json());
        }
        let mut m = Map::new();
        m.insert("name".into(), Json::String(self.name.as_str().to_string()));
        if !self.class_name.is_empty() {
            m.insert("class".into(), Json::String(self.class_name.clone()));
        }
        m.insert("attributes".into(), Json::Object(attrs));
        Json::Object(m)
    }

    pub fn from_json(j: &Json) -> Result<Bean, SnapshotError> {
        let bad = |reason: String| SnapshotError::Format(reason);
        let o = j
            .as_object()
            .ok_or_else(|| bad("bean is not an object".into()))?;
        let raw = o
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| bad("bean without a name".into()))?;
        let name = ObjectName::parse(raw).map_err(|e| bad(e.to_string()))?;
        let class_name = o
            .get("class")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let mut attributes = Vec::new();
        if let Some(attrs) = o.get("attributes") {
            let attrs = attrs
                .as_object()
                .ok_or_else(|| bad(format!("{raw}: attributes is not an object")))?;
            for (k, v) in attrs {
                let value = Value::from_json(v).map_err(|e| bad(format!("{raw} {k}: {e}")))?;
                attributes.push(Attribute {
                    name: k.clone(),
                    value,
                });
            }
        }
        Ok(Bean {
            name,
            class_name,
            attributes,
        })
    }
}

/// Everything read from one JVM at one moment. Beans are sorted by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Wall-clock time of the read, ms since the epoch.
    pub taken_at_ms: u64,
    pub beans: Vec<Bean>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read capture {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("capture is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("capture format: {0}")]
    Format(String),
}

impl Snapshot {
    pub fn new(taken_at_ms: u64, mut beans: Vec<Bean>) -> Self {
        beans.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Snapshot { taken_at_ms, beans }
    }

    /// Beans of one domain and `type=` key, e.g. `("kafka.streams", "stream-thread-metrics")`.
    pub fn of_type<'a>(&'a self, domain: &'a str, ty: &'a str) -> impl Iterator<Item = &'a Bean> {
        self.beans
            .iter()
            .filter(move |b| b.name.domain() == domain && b.name.get("type") == Some(ty))
    }

    pub fn find(&self, name: &str) -> Option<&Bean> {
        self.beans.iter().find(|b| b.name.as_str() == name)
    }

    /// Parses a capture file's JSON: either the full capture object
    /// (`{"format": .., "beans": [..]}`) or a bare array of beans (the output
    /// of `ksbridge mbeans --json`).
    pub fn from_capture_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let j: Json = serde_json::from_str(text)?;
        let (taken, beans) = match &j {
            Json::Array(a) => (0, a.as_slice()),
            Json::Object(o) => (
                o.get("captured_at_ms").and_then(Json::as_u64).unwrap_or(0),
                o.get("beans")
                    .and_then(Json::as_array)
                    .map(Vec::as_slice)
                    .ok_or_else(|| SnapshotError::Format("no \"beans\" array".into()))?,
            ),
            _ => return Err(SnapshotError::Format("not an object or array".into())),
        };
        let beans = beans
            .iter()
            .map(Bean::from_json)
            .collect::<Result<_, _>>()?;
        Ok(Snapshot::new(taken, beans))
    }

    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_capture_json(&text)
    }

    /// The beans as the JSON array `ksbridge mbeans --json` prints.
    pub fn to_json(&self) -> Json {
        Json::Array(self.beans.iter().map(Bean::to_json).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_capture_objects_and_arrays() {
        let text = r#"{"format":"ksbridge-capture/1","captured_at_ms":5,"beans":[
            {"name":"kafka.streams:type=stream-metrics,client-id=c1","class":"K",
             "attributes":{"state":{"declared":"double","type":"org.apache.kafka.streams.KafkaStreams$State","enum":true,"value":"RUNNING"},
                           "failed-stream-threads":{"declared":"double","type":"java.lang.Double","value":"NaN"}}},
            {"name":"a:type=x","attributes":{}}]}"#;
        let s = Snapshot::from_capture_json(text).unwrap();
        assert_eq!(s.taken_at_ms, 5);
        assert_eq!(s.beans[0].name.as_str(), "a:type=x");
        let b = s.of_type("kafka.streams", "stream-metrics").next().unwrap();
        assert_eq!(b.text("state"), Some("RUNNING"));
        assert!(b.f64("failed-stream-threads").unwrap().is_nan());
        let again = Snapshot::from_capture_json(&s.to_json().to_string()).unwrap();
        assert_eq!(again.beans.len(), 2);
        assert_eq!(again.beans[1].attributes[0].name, "state");
    }

    #[test]
    fn malformed_captures_are_errors() {
        for t in [
            "",
            "5",
            "{}",
            r#"[{"attributes":{}}]"#,
            r#"[{"name":"bad"}]"#,
        ] {
            assert!(Snapshot::from_capture_json(t).is_err(), "{t}");
        }
    }
}
