//! Immutable snapshots of a JVM's MBeans (`Snapshot` of `Bean`s of
//! `Attribute`s) and the capture-format JSON they load from and save to.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::value::ValueJson;
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
        serde_json::to_value(BeanJson::from(self)).unwrap_or(Json::Null)
    }
}

/// The capture format of one bean, as serde reads and writes it; attributes
/// keep their order.
#[derive(Debug, Serialize, Deserialize)]
struct BeanJson {
    name: String,
    #[serde(rename = "class", default, skip_serializing_if = "String::is_empty")]
    class_name: String,
    #[serde(default)]
    attributes: Attributes,
}

/// `{"attr": value, ...}` in file order.
#[derive(Debug, Default)]
struct Attributes(Vec<(String, ValueJson)>);

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Attributes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of attributes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Attributes, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry::<String, ValueJson>()? {
                    out.push(kv);
                }
                Ok(Attributes(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl From<&Bean> for BeanJson {
    fn from(b: &Bean) -> Self {
        BeanJson {
            name: b.name.as_str().to_string(),
            class_name: b.class_name.clone(),
            attributes: Attributes(
                b.attributes
                    .iter()
                    .map(|a| (a.name.clone(), ValueJson::from(&a.value)))
                    .collect(),
            ),
        }
    }
}

impl TryFrom<BeanJson> for Bean {
    type Error = SnapshotError;

    fn try_from(j: BeanJson) -> Result<Bean, SnapshotError> {
        let name = ObjectName::parse(&j.name).map_err(|e| SnapshotError::Format(e.to_string()))?;
        let attributes = j
            .attributes
            .0
            .into_iter()
            .map(|(k, v)| {
                Value::try_from(v)
                    .map(|value| Attribute {
                        name: k.clone(),
                        value,
                    })
                    .map_err(|e| SnapshotError::Format(format!("{} {k}: {e}", j.name)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Bean {
            name,
            class_name: j.class_name,
            attributes,
        })
    }
}

/// A capture file: the capture object or a bare array of beans.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CaptureJson {
    Capture {
        #[serde(default)]
        captured_at_ms: u64,
        beans: Vec<BeanJson>,
    },
    Beans(Vec<BeanJson>),
}

/// Everything read from one JVM at one moment. Beans are sorted by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Wall-clock time of the read, ms since the epoch.
    pub taken_at_ms: u64,
    pub beans: Vec<Bean>,
    /// Bean positions by domain and `type=`, built on the first
    /// [`Snapshot::of_type`] (every metric group asks for its types: a scan
    /// of every bean per group otherwise).
    types: TypeIndex,
}

/// The type index and the `beans` vector it was built from (address and
/// length): a vector replaced or grown since is scanned instead.
#[derive(Debug, Default)]
struct TypeIndex(std::sync::OnceLock<(usize, usize, TypeMap)>);

/// Keyed by `<domain>:<type>` (a domain holds no `:`, so the first one splits).
type TypeMap = std::collections::HashMap<String, Vec<u32>, foldhash::fast::FixedState>;

/// The [`TypeMap`] key of a domain and type, written into `key`.
fn type_key<'k>(key: &'k mut String, domain: &str, ty: &str) -> &'k str {
    key.clear();
    key.push_str(domain);
    key.push(':');
    key.push_str(ty);
    key
}

impl Clone for TypeIndex {
    fn clone(&self) -> Self {
        TypeIndex::default() // a clone's beans live elsewhere: built again on demand
    }
}

impl PartialEq for TypeIndex {
    fn eq(&self, _: &Self) -> bool {
        true // derived data: snapshots are equal by their beans
    }
}

/// Beans of one type: through the index, or a scan when it does not apply.
enum OfType<'a, I> {
    Indexed(&'a [Bean], std::slice::Iter<'a, u32>),
    Scan(I),
}

impl<'a, I: Iterator<Item = &'a Bean>> Iterator for OfType<'a, I> {
    type Item = &'a Bean;
    fn next(&mut self) -> Option<&'a Bean> {
        match self {
            OfType::Indexed(beans, at) => at.next().map(|&i| &beans[i as usize]),
            OfType::Scan(it) => it.next(),
        }
    }
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
        Snapshot {
            taken_at_ms,
            beans,
            types: TypeIndex::default(),
        }
    }

    /// Beans of one domain and `type=` key, e.g. `("kafka.streams", "stream-thread-metrics")`.
    pub fn of_type<'a>(&'a self, domain: &'a str, ty: &'a str) -> impl Iterator<Item = &'a Bean> {
        let here = (self.beans.as_ptr() as usize, self.beans.len());
        let (ptr, len, map) = self.types.0.get_or_init(|| {
            let mut map = TypeMap::default();
            let mut key = String::new();
            for (i, b) in self.beans.iter().enumerate() {
                if let Some(t) = b.name.get("type") {
                    let k = type_key(&mut key, b.name.domain(), t);
                    match map.get_mut(k) {
                        Some(at) => at.push(i as u32),
                        None => {
                            map.insert(k.to_string(), vec![i as u32]);
                        }
                    }
                }
            }
            (here.0, here.1, map)
        });
        if (*ptr, *len) == here && self.beans.len() <= u32::MAX as usize {
            let mut key = String::with_capacity(domain.len() + ty.len() + 1);
            let at = map
                .get(type_key(&mut key, domain, ty))
                .map(|v| v.as_slice())
                .unwrap_or_default();
            return OfType::Indexed(&self.beans, at.iter());
        }
        OfType::Scan(
            self.beans
                .iter()
                .filter(move |b| b.name.domain() == domain && b.name.get("type") == Some(ty)),
        )
    }

    pub fn find(&self, name: &str) -> Option<&Bean> {
        self.beans.iter().find(|b| b.name.as_str() == name)
    }

    /// Parses a capture file's JSON: either the full capture object
    /// (`{"format": .., "beans": [..]}`) or a bare array of beans (the output
    /// of `ksbridge mbeans --json`).
    pub fn from_capture_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let (taken, beans) = match serde_json::from_str::<CaptureJson>(text)? {
            CaptureJson::Capture {
                captured_at_ms,
                beans,
            } => (captured_at_ms, beans),
            CaptureJson::Beans(beans) => (0, beans),
        };
        let beans = beans
            .into_iter()
            .map(Bean::try_from)
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
