//! Attribute values as the target JVM holds them at run time (`Value`), and
//! their JSON form in the capture format (`tests/fixtures/README.md`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// A value read from an MBean attribute, keeping its runtime Java type.
/// Kafka declares every attribute as `double`; the runtime class is what counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Double(f64),
    Float(f32),
    Integer(i32),
    Long(i64),
    Short(i16),
    Byte(i8),
    Boolean(bool),
    Char(char),
    String(String),
    /// Arbitrary precision, kept as its decimal text.
    BigInteger(String),
    BigDecimal(String),
    /// A Java enum constant, by name (ordinals are not stable across versions).
    Enum {
        class: String,
        constant: String,
    },
    /// An array, summarized: its class (`[J`), length and a short preview.
    Array {
        class: String,
        length: usize,
    },
    /// Any other object, by its class and `toString()`.
    Object {
        class: String,
        text: String,
    },
    /// The attribute exists but could not be read; `error` is
    /// `<exception class>: <message>`.
    Unreadable {
        error: String,
    },
}

impl Value {
    /// The runtime Java class name (`None` for null and unreadable values).
    pub fn java_class(&self) -> Option<&str> {
        Some(match self {
            Value::Null | Value::Unreadable { .. } => return None,
            Value::Double(_) => "java.lang.Double",
            Value::Float(_) => "java.lang.Float",
            Value::Integer(_) => "java.lang.Integer",
            Value::Long(_) => "java.lang.Long",
            Value::Short(_) => "java.lang.Short",
            Value::Byte(_) => "java.lang.Byte",
            Value::Boolean(_) => "java.lang.Boolean",
            Value::Char(_) => "java.lang.Character",
            Value::String(_) => "java.lang.String",
            Value::BigInteger(_) => "java.math.BigInteger",
            Value::BigDecimal(_) => "java.math.BigDecimal",
            Value::Enum { class, .. }
            | Value::Array { class, .. }
            | Value::Object { class, .. } => class,
        })
    }

    /// The numeric value, for numbers and booleans (true = 1). Big numbers are
    /// converted with rounding; text is never parsed.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            Value::Float(v) => Some(f64::from(*v)),
            Value::Integer(v) => Some(f64::from(*v)),
            Value::Long(v) => Some(*v as f64),
            Value::Short(v) => Some(f64::from(*v)),
            Value::Byte(v) => Some(f64::from(*v)),
            Value::Boolean(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::BigInteger(s) | Value::BigDecimal(s) => s.parse::<f64>().ok(),
            _ => None,
        }
    }

    /// Text of a string or the constant name of an enum.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Enum { constant, .. } => Some(constant),
            _ => None,
        }
    }

    /// Short human-readable rendering (for tables).
    pub fn display(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Double(v) => fmt_f64(*v),
            Value::Float(v) => fmt_f64(f64::from(*v)),
            Value::Integer(v) => v.to_string(),
            Value::Long(v) => v.to_string(),
            Value::Short(v) => v.to_string(),
            Value::Byte(v) => v.to_string(),
            Value::Boolean(v) => v.to_string(),
            Value::Char(c) => c.to_string(),
            Value::String(s) => s.clone(),
            Value::BigInteger(s) | Value::BigDecimal(s) => s.clone(),
            Value::Enum { constant, .. } => constant.clone(),
            Value::Array { class, length } => format!("{}[{length}]", array_element(class)),
            Value::Object { text, .. } => text.clone(),
            Value::Unreadable { error } => format!("<unreadable: {error}>"),
        }
    }

    /// The capture-format JSON object `{"type": .., "value": ..}` (plus
    /// `"enum": true` or `"error": ..`).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(ValueJson::from(self)).unwrap_or(Json::Null)
    }

    /// Reads the capture-format JSON object back. Unknown classes become
    /// `Object` values; nothing here panics on hostile input.
    pub fn from_json(j: &Json) -> Result<Value, String> {
        ValueJson::deserialize(j)
            .map_err(|e| e.to_string())
            .and_then(Value::try_from)
    }
}

/// The capture format of one attribute value, as serde reads and writes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ValueJson {
    /// The runtime Java class (`null` for a null value; absent when unreadable).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Json>,
    #[serde(default)]
    pub value: Json,
    #[serde(rename = "enum", default, skip_serializing_if = "std::ops::Not::not")]
    pub is_enum: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Value> for ValueJson {
    fn from(v: &Value) -> Self {
        let class = |c: &str| Some(Json::String(c.to_string()));
        match v {
            Value::Unreadable { error } => ValueJson {
                class: None,
                value: Json::Null,
                is_enum: false,
                error: Some(error.clone()),
            },
            Value::Null => ValueJson {
                class: Some(Json::Null),
                ..ValueJson::default()
            },
            Value::Enum { class: c, constant } => ValueJson {
                class: class(c),
                value: json!(constant),
                is_enum: true,
                error: None,
            },
            other => ValueJson {
                class: class(other.java_class().unwrap_or_default()),
                value: plain_json(other),
                ..ValueJson::default()
            },
        }
    }
}

/// The `value` field of a value that is neither null, an enum nor unreadable.
fn plain_json(v: &Value) -> Json {
    match v {
        Value::Double(v) => float_json(*v),
        Value::Float(v) => float_json(f64::from(*v)),
        Value::Integer(v) => json!(v),
        Value::Long(v) => json!(v),
        Value::Short(v) => json!(v),
        Value::Byte(v) => json!(v),
        Value::Boolean(v) => json!(v),
        Value::Char(c) => json!(c.to_string()),
        Value::Array { class, length } => json!(format!("{}[{length}]", array_element(class))),
        Value::String(s)
        | Value::BigInteger(s)
        | Value::BigDecimal(s)
        | Value::Object { text: s, .. } => {
            json!(s)
        }
        Value::Null | Value::Unreadable { .. } | Value::Enum { .. } => Json::Null,
    }
}

impl TryFrom<ValueJson> for Value {
    type Error = String;

    fn try_from(j: ValueJson) -> Result<Value, String> {
        if let Some(e) = j.error {
            return Ok(Value::Unreadable { error: e });
        }
        let class = match &j.class {
            None | Some(Json::Null) => return Ok(Value::Null),
            Some(Json::String(s)) => s.as_str(),
            Some(_) => return Err("\"type\" is not a string".into()),
        };
        let v = &j.value;
        if j.is_enum {
            return Ok(Value::Enum {
                class: class.to_string(),
                constant: v.as_str().ok_or("enum value is not a string")?.to_string(),
            });
        }
        let int = |v: &Json| {
            v.as_i64()
                .ok_or_else(|| format!("{class} value is not an integer"))
        };
        Ok(match class {
            "java.lang.Double" => Value::Double(json_float(v)?),
            "java.lang.Float" => Value::Float(json_float(v)? as f32),
            "java.lang.Integer" => {
                Value::Integer(i32::try_from(int(v)?).map_err(|e| e.to_string())?)
            }
            "java.lang.Long" => Value::Long(int(v)?),
            "java.lang.Short" => Value::Short(i16::try_from(int(v)?).map_err(|e| e.to_string())?),
            "java.lang.Byte" => Value::Byte(i8::try_from(int(v)?).map_err(|e| e.to_string())?),
            "java.lang.Boolean" => Value::Boolean(v.as_bool().ok_or("boolean expected")?),
            "java.lang.Character" => Value::Char(
                v.as_str()
                    .and_then(|s| s.chars().next())
                    .ok_or("character expected")?,
            ),
            "java.lang.String" => Value::String(v.as_str().ok_or("string expected")?.to_string()),
            "java.math.BigInteger" => Value::BigInteger(json_text(v)),
            "java.math.BigDecimal" => Value::BigDecimal(json_text(v)),
            c if c.starts_with('[') => Value::Array {
                class: c.to_string(),
                length: v
                    .as_str()
                    .and_then(|s| s.rsplit_once('[')?.1.strip_suffix(']')?.parse().ok())
                    .unwrap_or(0),
            },
            c => Value::Object {
                class: c.to_string(),
                text: json_text(v),
            },
        })
    }
}

fn array_element(class: &str) -> &str {
    match class {
        "[Z" => "boolean",
        "[B" => "byte",
        "[C" => "char",
        "[S" => "short",
        "[I" => "int",
        "[J" => "long",
        "[F" => "float",
        "[D" => "double",
        c => c
            .strip_prefix("[L")
            .and_then(|c| c.strip_suffix(';'))
            .unwrap_or(c),
    }
}

fn float_json(v: f64) -> Json {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn json_float(v: &Json) -> Result<f64, String> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| "bad number".to_string()),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| format!("not a number: {other:?}")),
        },
        _ => Err("number expected".into()),
    }
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Formats a double like Java's `Double.toString` does for the common cases
/// (`NaN`, `Infinity`, integers with `.0`).
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_types_and_non_finite() {
        let values = [
            Value::Null,
            Value::Double(f64::NAN),
            Value::Double(f64::NEG_INFINITY),
            Value::Double(1.5),
            Value::Float(2.25),
            Value::Integer(-3),
            Value::Long(1 << 60),
            Value::Short(7),
            Value::Byte(-1),
            Value::Boolean(true),
            Value::Char('x'),
            Value::String("s".into()),
            Value::BigInteger("18446744073709551615".into()),
            Value::BigDecimal("1.25".into()),
            Value::Enum {
                class: "org.apache.kafka.streams.KafkaStreams$State".into(),
                constant: "RUNNING".into(),
            },
            Value::Array {
                class: "[J".into(),
                length: 3,
            },
            Value::Object {
                class: "javax.management.ObjectName".into(),
                text: "a:b=c".into(),
            },
            Value::Unreadable {
                error: "java.lang.IllegalStateException: boom".into(),
            },
        ];
        for v in values {
            let back = Value::from_json(&v.to_json()).unwrap();
            match (&v, &back) {
                (Value::Double(a), Value::Double(b)) if a.is_nan() => assert!(b.is_nan()),
                _ => assert_eq!(v, back),
            }
        }
    }

    #[test]
    fn hostile_json_is_an_error_not_a_panic() {
        for j in [
            json!(1),
            json!({"type": "java.lang.Integer", "value": 1e20}),
            json!({"type": "java.lang.Double", "value": "abc"}),
            json!({"type": 5}),
            json!({"type": "java.lang.Integer", "value": 4294967296i64}),
        ] {
            assert!(Value::from_json(&j).is_err(), "{j}");
        }
    }

    #[test]
    fn numbers_and_display() {
        assert_eq!(Value::BigInteger("12".into()).as_f64(), Some(12.0));
        assert_eq!(Value::String("12".into()).as_f64(), None);
        assert_eq!(Value::Double(3.0).display(), "3.0");
        assert_eq!(Value::Double(f64::NAN).display(), "NaN");
    }
}
