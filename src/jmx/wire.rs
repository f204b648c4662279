//! Decoder of the flat buffer the Java shim returns from one bulk read
//! (`&[u8]` -> [`ReadResult`]). Pure; the encoder is `java-shim/.../Wire.java`.
//!
//! Layout, big-endian, strings as `u32 length + UTF-8 bytes`:
//! ```text
//! "KSB1" u64 taken_at_ms u32 beans
//!   bean: str name, str class, u32 attrs
//!     attr: str name, u8 tag, payload (see TAG_*)
//! u32 problems
//!   problem: str bean name, str error   (beans that vanished or failed whole)
//! [u32 cuts                              (optional: what the shim's limits cut)
//!   cut: str reason, u64 count]
//! ```

use super::limits::{self, Cuts};
use super::{Attribute, Bean, ObjectName, Snapshot, Value};

pub const MAGIC: &[u8; 4] = b"KSB1";
pub const TAG_NULL: u8 = 0;
pub const TAG_DOUBLE: u8 = 1;
pub const TAG_FLOAT: u8 = 2;
pub const TAG_INT: u8 = 3;
pub const TAG_LONG: u8 = 4;
pub const TAG_SHORT: u8 = 5;
pub const TAG_BYTE: u8 = 6;
pub const TAG_BOOL: u8 = 7;
pub const TAG_STRING: u8 = 8;
/// str class, str constant
pub const TAG_ENUM: u8 = 9;
pub const TAG_BIGINT: u8 = 10;
pub const TAG_BIGDEC: u8 = 11;
/// u16 UTF-16 unit
pub const TAG_CHAR: u8 = 12;
/// str class, u32 length
pub const TAG_ARRAY: u8 = 13;
/// str class, str toString()
pub const TAG_OBJECT: u8 = 14;
/// str error
pub const TAG_UNREADABLE: u8 = 15;

/// A bean that could not be read as a whole (it vanished between the name
/// list and the read, or every way of reading it failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeanProblem {
    pub bean: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadResult {
    pub snapshot: Snapshot,
    pub problems: Vec<BeanProblem>,
    /// What the shim's limits cut from this read (see `jmx::limits`).
    pub cuts: Cuts,
}

impl ReadResult {
    /// A result with no problems and nothing cut.
    pub fn of(snapshot: Snapshot) -> Self {
        ReadResult {
            snapshot,
            problems: Vec::new(),
            cuts: Cuts::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed shim buffer at byte {offset}: {reason}")]
pub struct WireError {
    pub offset: usize,
    pub reason: String,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: impl Into<String>) -> WireError {
        WireError {
            offset: self.pos,
            reason: reason.into(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() - self.pos < n {
            return Err(self.err(format!("needs {n} more bytes")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn count(&mut self) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        // Each element takes at least 4 bytes: a count larger than what is
        // left is garbage, not a reason to allocate.
        if n > (self.buf.len() - self.pos) / 4 + 1 {
            return Err(self.err(format!("count {n} exceeds the buffer")));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String, WireError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        // The shim writes Java's UTF-8; a lone surrogate from Java becomes U+FFFD.
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
    fn value(&mut self) -> Result<Value, WireError> {
        let tag = self.u8()?;
        Ok(match tag {
            TAG_NULL => Value::Null,
            TAG_DOUBLE => Value::Double(f64::from_be_bytes(self.array()?)),
            TAG_FLOAT => Value::Float(f32::from_be_bytes(self.array()?)),
            TAG_INT => Value::Integer(i32::from_be_bytes(self.array()?)),
            TAG_LONG => Value::Long(i64::from_be_bytes(self.array()?)),
            TAG_SHORT => Value::Short(i16::from_be_bytes(self.array()?)),
            TAG_BYTE => Value::Byte(i8::from_be_bytes(self.array()?)),
            TAG_BOOL => Value::Boolean(self.u8()? != 0),
            TAG_STRING => Value::String(self.str()?),
            TAG_ENUM => Value::Enum {
                class: self.str()?,
                constant: self.str()?,
            },
            TAG_BIGINT => Value::BigInteger(self.str()?),
            TAG_BIGDEC => Value::BigDecimal(self.str()?),
            TAG_CHAR => {
                let unit = u16::from_be_bytes(self.array()?);
                Value::Char(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'))
            }
            TAG_ARRAY => Value::Array {
                class: self.str()?,
                length: self.u32()? as usize,
            },
            TAG_OBJECT => Value::Object {
                class: self.str()?,
                text: self.str()?,
            },
            TAG_UNREADABLE => Value::Unreadable { error: self.str()? },
            t => return Err(self.err(format!("unknown value tag {t}"))),
        })
    }
}

/// Decodes one shim buffer. A bean whose name does not parse is reported as
/// a problem, not an error: one odd bean never costs the others.
pub fn decode(buf: &[u8]) -> Result<ReadResult, WireError> {
    let mut r = Reader { buf, pos: 0 };
    if r.take(4)? != MAGIC {
        return Err(WireError {
            offset: 0,
            reason: "bad magic".into(),
        });
    }
    let taken_at_ms = u64::from_be_bytes(r.array()?);
    let n = r.count()?;
    let mut beans = Vec::with_capacity(n);
    let mut problems = Vec::new();
    for _ in 0..n {
        let raw = r.str()?;
        let class_name = r.str()?;
        let na = r.count()?;
        let mut attributes = Vec::with_capacity(na);
        for _ in 0..na {
            let name = r.str()?;
            let value = r.value()?;
            attributes.push(Attribute { name, value });
        }
        match ObjectName::parse(&raw) {
            Ok(name) => beans.push(Bean {
                name,
                class_name,
                attributes,
            }),
            Err(e) => problems.push(BeanProblem {
                bean: raw,
                error: e.to_string(),
            }),
        }
    }
    let np = r.count()?;
    for _ in 0..np {
        problems.push(BeanProblem {
            bean: r.str()?,
            error: r.str()?,
        });
    }
    let mut cuts = Cuts::default();
    if r.pos != buf.len() {
        let nc = r.count()?;
        for _ in 0..nc {
            let reason = r.str()?;
            let n = u64::from_be_bytes(r.array()?);
            // A reason this version does not know still counts, as "bytes" is
            // the closest: something of the read was left out.
            cuts.add(
                limits::reason::known(&reason).unwrap_or(limits::reason::BYTES),
                n,
            );
        }
    }
    if r.pos != buf.len() {
        return Err(r.err("trailing bytes"));
    }
    Ok(ReadResult {
        snapshot: Snapshot::new(taken_at_ms, beans),
        problems,
        cuts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend((v.len() as u32).to_be_bytes());
        out.extend(v.as_bytes());
    }

    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC);
        b.extend(42u64.to_be_bytes());
        b.extend(2u32.to_be_bytes());
        s(&mut b, "kafka.streams:type=stream-metrics,client-id=c");
        s(&mut b, "K");
        b.extend(3u32.to_be_bytes());
        s(&mut b, "state");
        b.push(TAG_ENUM);
        s(&mut b, "org.apache.kafka.streams.KafkaStreams$State");
        s(&mut b, "RUNNING");
        s(&mut b, "rate");
        b.push(TAG_DOUBLE);
        b.extend(f64::NAN.to_be_bytes());
        s(&mut b, "keys");
        b.push(TAG_BIGINT);
        s(&mut b, "123");
        s(&mut b, "not a name");
        s(&mut b, "K");
        b.extend(0u32.to_be_bytes());
        b.extend(1u32.to_be_bytes());
        s(&mut b, "x:type=gone");
        s(
            &mut b,
            "javax.management.InstanceNotFoundException: x:type=gone",
        );
        b
    }

    #[test]
    fn decodes_values_and_problems() {
        let r = decode(&sample()).unwrap();
        assert_eq!(r.snapshot.taken_at_ms, 42);
        assert_eq!(r.snapshot.beans.len(), 1);
        let b = &r.snapshot.beans[0];
        assert_eq!(b.text("state"), Some("RUNNING"));
        assert!(b.f64("rate").unwrap().is_nan());
        assert_eq!(b.get("keys"), Some(&Value::BigInteger("123".into())));
        assert_eq!(r.problems.len(), 2);
        assert_eq!(r.problems[0].bean, "not a name");
        assert_eq!(r.problems[1].bean, "x:type=gone");
    }

    #[test]
    fn decodes_the_optional_cuts() {
        let mut b = sample();
        b.extend(2u32.to_be_bytes());
        s(&mut b, "beans");
        b.extend(7u64.to_be_bytes());
        s(&mut b, "value_length");
        b.extend(1u64.to_be_bytes());
        let r = decode(&b).unwrap();
        assert_eq!(r.cuts.get("beans"), 7);
        assert_eq!(r.cuts.get("value_length"), 1);
        assert!(decode(&sample()).unwrap().cuts.is_empty());
        for n in sample().len() + 1..b.len() {
            assert!(decode(&b[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn huge_cut_counts_saturate() {
        // Found by the `wire` fuzz target: two counts that overflow a u64.
        let mut b = sample();
        b.extend(2u32.to_be_bytes());
        for _ in 0..2 {
            s(&mut b, "beans");
            b.extend(u64::MAX.to_be_bytes());
        }
        assert_eq!(decode(&b).unwrap().cuts.get("beans"), u64::MAX);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = sample();
        for n in 0..full.len() {
            assert!(decode(&full[..n]).is_err(), "prefix {n}");
        }
        let mut extra = full.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        let mut huge = full[..12].to_vec();
        huge.extend(u32::MAX.to_be_bytes());
        assert!(decode(&huge).is_err());
    }
}
