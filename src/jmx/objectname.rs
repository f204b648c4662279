//! JMX ObjectName parsing and quoting: `&str` (as registered) -> [`ObjectName`]
//! with its domain and key properties in registration order, values unquoted.

use std::fmt;

/// Why a string is not a valid ObjectName.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ObjectName {name:?}: {reason}")]
pub struct ObjectNameError {
    pub name: String,
    pub reason: &'static str,
}

/// A parsed ObjectName. `as_str()` is the name exactly as registered (key order
/// and quoting kept); `get(key)` gives the decoded value of one key property.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName {
    raw: String,
    domain_end: usize,
    /// (key, decoded value, was quoted)
    props: Vec<(String, String, bool)>,
}

impl ObjectName {
    // Long on purpose: one left-to-right scanner over the name's bytes;
    // split, its position and quoting state would cross function boundaries.
    pub fn parse(raw: &str) -> Result<Self, ObjectNameError> {
        let err = |reason| ObjectNameError {
            name: raw.to_string(),
            reason,
        };
        let colon = raw
            .find(':')
            .ok_or_else(|| err("no ':' after the domain"))?;
        let domain = &raw[..colon];
        if domain.contains(['*', '?']) {
            return Err(err("the domain is a pattern"));
        }
        let rest = &raw[colon + 1..];
        if rest.is_empty() {
            return Err(err("no key properties"));
        }
        let mut props: Vec<(String, String, bool)> = Vec::new();
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // key
            let key_start = i;
            while i < bytes.len() && bytes[i] != b'=' {
                if matches!(bytes[i], b',' | b':' | b'*' | b'?' | b'"' | b'\n') {
                    return Err(err("invalid character in a key"));
                }
                i += 1;
            }
            if i >= bytes.len() {
                return Err(err("a key property has no '='"));
            }
            let key = &rest[key_start..i];
            if key.is_empty() {
                return Err(err("empty key"));
            }
            i += 1; // '='
            let (value, quoted) = if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                let mut v = String::new();
                let mut closed = false;
                let mut chars = rest[i..].char_indices();
                while let Some((off, c)) = chars.next() {
                    match c {
                        '"' => {
                            i += off + 1;
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, 'n')) => v.push('\n'),
                            Some((_, c @ ('\\' | '"' | '*' | '?'))) => v.push(c),
                            _ => return Err(err("invalid escape in a quoted value")),
                        },
                        '\n' => return Err(err("newline in a quoted value")),
                        c => v.push(c),
                    }
                }
                if !closed {
                    return Err(err("unterminated quoted value"));
                }
                (v, true)
            } else {
                let start = i;
                while i < bytes.len() && bytes[i] != b',' {
                    if matches!(bytes[i], b'=' | b':' | b'"' | b'\n') {
                        return Err(err("invalid character in an unquoted value"));
                    }
                    i += 1;
                }
                let v = &rest[start..i];
                if v.contains(['*', '?']) {
                    return Err(err("the name is a pattern"));
                }
                (v.to_string(), false)
            };
            if props.iter().any(|(k, _, _)| k == key) {
                return Err(err("duplicate key"));
            }
            props.push((key.to_string(), value, quoted));
            if i < bytes.len() {
                if bytes[i] != b',' {
                    return Err(err("garbage after a quoted value"));
                }
                i += 1;
                if i == bytes.len() {
                    return Err(err("trailing ','"));
                }
            }
        }
        Ok(ObjectName {
            raw: raw.to_string(),
            domain_end: colon,
            props,
        })
    }

    /// The name exactly as registered.
    /// This name with every key property value cut to at most `max` bytes
    /// (at a character boundary), or `None` when no value is that long.
    /// Quoted values stay quoted; keys keep their order.
    pub fn with_values_capped(&self, max: usize) -> Option<ObjectName> {
        if self.props.iter().all(|(_, v, _)| v.len() <= max) {
            return None;
        }
        let mut raw = String::from(self.domain());
        let mut props = Vec::with_capacity(self.props.len());
        for (n, (k, v, quoted)) in self.props.iter().enumerate() {
            let v = truncate(v, max).to_string();
            raw.push(if n == 0 { ':' } else { ',' });
            raw.push_str(k);
            raw.push('=');
            if *quoted {
                raw.push_str(&quote(&v));
            } else {
                raw.push_str(&v);
            }
            props.push((k.clone(), v, *quoted));
        }
        Some(ObjectName {
            raw,
            domain_end: self.domain_end,
            props,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn domain(&self) -> &str {
        &self.raw[..self.domain_end]
    }

    /// The decoded value of a key property.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.as_str())
    }

    /// Key properties in registration order, values decoded.
    pub fn properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.props.iter().map(|(k, v, _)| (k.as_str(), v.as_str()))
    }

    /// The canonical form: keys sorted (what `ObjectName.getCanonicalName()` gives).
    pub fn canonical(&self) -> String {
        let mut props: Vec<_> = self.props.iter().collect();
        props.sort_by(|a, b| a.0.cmp(&b.0));
        let mut s = String::with_capacity(self.raw.len());
        s.push_str(self.domain());
        s.push(':');
        for (n, (k, v, q)) in props.into_iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push('=');
            if *q {
                s.push_str(&quote(v));
            } else {
                s.push_str(v);
            }
        }
        s
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// True when `name` matches a JMX ObjectName pattern as `queryNames` reads
/// it: a domain glob (`*`, `?`), then `key=value` pairs that must all match,
/// with a trailing `*` allowing other keys (`*:*`, `kafka.streams:*`,
/// `kafka.streams:type=stream-metrics,*`). A malformed pattern matches nothing.
pub fn matches_pattern(pattern: &str, name: &ObjectName) -> bool {
    let Some((domain, props)) = pattern.split_once(':') else {
        return false;
    };
    if !glob(domain.as_bytes(), name.domain().as_bytes()) {
        return false;
    }
    let mut open = false;
    let mut wanted = 0;
    for part in props.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "*" {
            open = true;
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return false;
        };
        let v = v.trim_matches('"');
        if name.get(k.trim()) != Some(v) {
            return false;
        }
        wanted += 1;
    }
    open || name.properties().count() == wanted
}

/// `*` and `?` wildcards over bytes, in linear time: the classic two-pointer
/// match that, on a mismatch, resumes after the last `*` one byte further
/// on (so `*a*a*a*...b` against a long run of `a` costs O(len(pat) * len(s))
/// at worst, never exponential).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // The position after the last `*` seen, and where in `s` it resumes.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, i));
            }
            Some(&c) if c == b'?' || c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `ObjectName.quote()`: wrap in quotes, escaping `"`, `\`, `*`, `?` and newline.
pub fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' | '*' | '?' => {
                s.push('\\');
                s.push(c);
            }
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Whether Kafka's `JmxReporter` would quote this tag value: it quotes any value
/// with a character outside `[\w-%. \t]`.
pub fn kafka_needs_quote(value: &str) -> bool {
    !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '%' | '.' | ' ' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_names_in_registration_order() {
        let n = ObjectName::parse(
            "kafka.streams:type=stream-state-metrics,thread-id=app-1-StreamThread-1,task-id=0_1,rocksdb-state-id=\"orders:by/region\"",
        )
        .unwrap();
        assert_eq!(n.domain(), "kafka.streams");
        assert_eq!(n.get("type"), Some("stream-state-metrics"));
        assert_eq!(n.get("rocksdb-state-id"), Some("orders:by/region"));
        let keys: Vec<_> = n.properties().map(|(k, _)| k).collect();
        assert_eq!(keys, ["type", "thread-id", "task-id", "rocksdb-state-id"]);
        assert_eq!(
            n.canonical(),
            "kafka.streams:rocksdb-state-id=\"orders:by/region\",task-id=0_1,thread-id=app-1-StreamThread-1,type=stream-state-metrics"
        );
    }

    #[test]
    fn unquotes_escapes() {
        let n = ObjectName::parse(r#"d:k="a\"b\\c\*d\?e\nf",x=y"#).unwrap();
        assert_eq!(n.get("k"), Some("a\"b\\c*d?e\nf"));
        assert_eq!(quote("a\"b\\c*d?e\nf"), r#""a\"b\\c\*d\?e\nf""#);
        assert_eq!(n.get("x"), Some("y"));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "nodomain",
            "d:",
            "d:k",
            "d:k=v,",
            "d:k=\"open",
            "d:k=\"a\"x",
            "d:k=v,k=w",
            "d:=v",
            "d:k=a*",
            "d*:k=v",
            "d:k=\"bad\\escape\"",
        ] {
            assert!(ObjectName::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn patterns_match_like_query_names() {
        let n = ObjectName::parse("kafka.streams:type=stream-metrics,client-id=\"a,b\"").unwrap();
        assert!(matches_pattern("*:*", &n));
        assert!(matches_pattern("kafka.*:*", &n));
        assert!(matches_pattern("kafka.streams:type=stream-metrics,*", &n));
        assert!(!matches_pattern(
            "kafka.streams:type=stream-thread-metrics,*",
            &n
        ));
        assert!(!matches_pattern("kafka.streams:type=stream-metrics", &n));
        assert!(!matches_pattern("nonsense", &n));
    }

    /// The textbook dynamic-programming match, as the reference.
    fn glob_reference(pat: &[u8], s: &[u8]) -> bool {
        let mut m = vec![vec![false; s.len() + 1]; pat.len() + 1];
        m[0][0] = true;
        for p in 1..=pat.len() {
            for i in 0..=s.len() {
                m[p][i] = match pat[p - 1] {
                    b'*' => m[p - 1][i] || (i > 0 && m[p][i - 1]),
                    b'?' => i > 0 && m[p - 1][i - 1],
                    c => i > 0 && s[i - 1] == c && m[p - 1][i - 1],
                };
            }
        }
        m[pat.len()][s.len()]
    }

    /// Every string of `alphabet` up to `len` bytes.
    fn words(alphabet: &[u8], len: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|w: &Vec<u8>| {
                    alphabet.iter().map(move |&c| {
                        let mut w = w.clone();
                        w.push(c);
                        w
                    })
                })
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    #[test]
    fn glob_agrees_with_the_reference_on_every_small_case() {
        let patterns = words(b"ab*?", 5);
        let texts = words(b"ab", 6);
        for p in &patterns {
            for t in &texts {
                assert_eq!(
                    glob(p, t),
                    glob_reference(p, t),
                    "{:?} ~ {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(t)
                );
            }
        }
    }

    #[test]
    fn glob_is_linear_on_pathological_patterns() {
        // Backtracking on every `*` would take 2^40 steps here; the
        // two-pointer match answers at once.
        let pat = format!("{}b", "*a".repeat(40));
        let text = "a".repeat(100_000);
        assert!(!glob(pat.as_bytes(), text.as_bytes()));
        let name = ObjectName::parse(&format!("{text}:type=x")).unwrap();
        assert!(!matches_pattern(&format!("{pat}:*"), &name));
        assert!(matches_pattern(&format!("{}:*", "*a".repeat(40)), &name));
    }

    #[test]
    fn kafka_quote_rule() {
        assert!(!kafka_needs_quote("app-1_x.y%z"));
        assert!(kafka_needs_quote("orders:by/region"));
        assert!(kafka_needs_quote("a,b"));
    }
}
