//! Consumer-group listing: rdkafka's ListGroups + DescribeGroups (one batched
//! call) in, `Vec<GroupDescription>` (state, protocol, members with client id,
//! host and decoded assignment) out. Blocking: call it off the async runtime.

use std::time::Duration;

use super::model::{GroupDescription, MemberDescription, TopicPartition};
use super::LagError;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// List groups with their members: every group of the cluster (`None`) or
/// one group. A group that does not exist comes back in state `Dead`.
pub fn describe_groups(
    client: &BaseConsumer,
    group: Option<&str>,
    timeout: Duration,
) -> Result<Vec<GroupDescription>, LagError> {
    let list = client
        .fetch_group_list(group, timeout)
        .map_err(|e| LagError::ListGroups {
            group: group.unwrap_or("*").to_string(),
            source: e,
        })?;
    let mut out: Vec<GroupDescription> = list
        .groups()
        .iter()
        .map(|g| GroupDescription {
            group: g.name().to_string(),
            state: g.state().to_string(),
            protocol_type: g.protocol_type().to_string(),
            protocol: g.protocol().to_string(),
            members: g
                .members()
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.id().to_string(),
                    client_id: m.client_id().to_string(),
                    host: m.client_host().to_string(),
                    assignment: if g.protocol_type() == "consumer" {
                        m.assignment()
                            .and_then(parse_assignment)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.group.cmp(&b.group));
    out.dedup_by(|a, b| a.group == b.group);
    Ok(out)
}

/// Decode a consumer-protocol `Assignment` (any version: version int16,
/// `[topic string, [partition int32]]`, user data ignored). `None` if the
/// bytes are not a well-formed assignment.
pub fn parse_assignment(bytes: &[u8]) -> Option<Vec<TopicPartition>> {
    let mut r = Reader { b: bytes, at: 0 };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let _version = r.i16()?;
    let topics = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = r.i16()?;
        let name = std::str::from_utf8(r.take(len.max(0) as usize)?)
            .ok()?
            .to_string();
        let n = r.i32()?;
        for _ in 0..n.max(0) {
            out.push(TopicPartition::new(name.clone(), r.i32()?));
        }
    }
    out.sort();
    Some(out)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(version: i16, topics: &[(&str, &[i32])], user_data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(version.to_be_bytes());
        b.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            b.extend((t.len() as i16).to_be_bytes());
            b.extend(t.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((user_data.len() as i32).to_be_bytes());
        b.extend(user_data);
        b
    }

    #[test]
    fn parses_assignment() {
        let b = encode(3, &[("orders", &[2, 0]), ("b", &[1])], b"streams-user-data");
        assert_eq!(
            parse_assignment(&b),
            Some(vec![
                TopicPartition::new("b", 1),
                TopicPartition::new("orders", 0),
                TopicPartition::new("orders", 2)
            ])
        );
    }

    #[test]
    fn empty_and_broken_assignments() {
        assert_eq!(parse_assignment(&[]), Some(vec![]));
        assert_eq!(parse_assignment(&encode(0, &[], &[])), Some(vec![]));
        let b = encode(1, &[("orders", &[0, 1])], &[]);
        assert_eq!(parse_assignment(&b[..b.len() - 10]), None);
    }
}
