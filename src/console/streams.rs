//! Which JVM threads belong to Kafka Streams: the clients found by
//! `streams::apps` give each client's application id and client id, the thread and task beans give each
//! stream thread's current tasks. Input: a snapshot of `kafka.streams:*`
//! client, thread and task beans; output: [`StreamsIndex`] lookups by thread name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jmx::Snapshot;

/// The ObjectName patterns [`StreamsIndex::from_snapshot`] needs.
pub fn patterns() -> Vec<String> {
    vec![
        "kafka.streams:type=stream-metrics,*".into(),
        "kafka.streams:type=stream-thread-metrics,*".into(),
        "kafka.streams:type=stream-task-metrics,*".into(),
    ]
}

pub use crate::streams::StreamsApp;

/// What a Kafka Streams thread is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamsThread {
    pub application_id: String,
    pub client_id: String,
    /// The thread's name, e.g. `zmart-<uuid>-StreamThread-1`.
    pub thread: String,
    /// Task ids (`<subtopology>_<partition>`) the thread runs now, sorted.
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StreamsIndex {
    pub apps: Vec<StreamsApp>,
    tasks: BTreeMap<String, Vec<String>>,
}

impl StreamsIndex {
    pub fn from_snapshot(snap: &Snapshot) -> StreamsIndex {
        let apps = crate::streams::apps(snap);
        let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for b in snap.of_type("kafka.streams", "stream-thread-metrics") {
            if let Some(t) = b.name.get("thread-id") {
                tasks.entry(t.to_string()).or_default();
            }
        }
        for b in snap.of_type("kafka.streams", "stream-task-metrics") {
            if let (Some(t), Some(task)) = (b.name.get("thread-id"), b.name.get("task-id")) {
                let list = tasks.entry(t.to_string()).or_default();
                if !list.iter().any(|x| x == task) {
                    list.push(task.to_string());
                }
            }
        }
        for list in tasks.values_mut() {
            list.sort();
        }
        StreamsIndex { apps, tasks }
    }

    /// The Kafka Streams thread with this name: a stream thread, the global
    /// thread or a state updater of one of the clients (named `<client.id>-...`).
    pub fn thread(&self, name: &str) -> Option<StreamsThread> {
        let app = self
            .apps
            .iter()
            .filter(|a| {
                !a.client_id.is_empty()
                    && name.len() > a.client_id.len()
                    && name.starts_with(&a.client_id)
                    && name[a.client_id.len()..].starts_with('-')
            })
            .max_by_key(|a| a.client_id.len())?;
        let role = &name[app.client_id.len() + 1..];
        let is_streams = role.starts_with("StreamThread-")
            || role == "GlobalStreamThread"
            || role.starts_with("StateUpdater-");
        if !is_streams || role.contains(' ') || role.ends_with("-producer") {
            return None;
        }
        Some(StreamsThread {
            application_id: app.application_id.clone(),
            client_id: app.client_id.clone(),
            thread: name.to_string(),
            tasks: self.tasks.get(name).cloned().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmx::{Attribute, Bean, ObjectName, Value};

    fn bean(name: &str, attrs: Vec<(&str, Value)>) -> Bean {
        Bean {
            name: ObjectName::parse(name).unwrap(),
            class_name: "x".into(),
            attributes: attrs
                .into_iter()
                .map(|(k, value)| Attribute {
                    name: k.into(),
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn labels_stream_threads_with_app_and_tasks() {
        let c = "zmart-3c1e";
        let snap = Snapshot::new(
            0,
            vec![
                bean(
                    &format!("kafka.streams:type=stream-metrics,client-id={c}"),
                    vec![("application-id", Value::String("zmart".into()))],
                ),
                bean(
                    &format!("kafka.streams:type=stream-thread-metrics,thread-id={c}-StreamThread-1"),
                    vec![],
                ),
                bean(
                    &format!("kafka.streams:type=stream-task-metrics,thread-id={c}-StreamThread-1,task-id=1_0"),
                    vec![],
                ),
                bean(
                    &format!("kafka.streams:type=stream-task-metrics,thread-id={c}-StreamThread-1,task-id=0_2"),
                    vec![],
                ),
            ],
        );
        let idx = StreamsIndex::from_snapshot(&snap);
        let t = idx.thread(&format!("{c}-StreamThread-1")).unwrap();
        assert_eq!(t.application_id, "zmart");
        assert_eq!(t.tasks, vec!["0_2", "1_0"]);
        assert!(idx.thread(&format!("{c}-StateUpdater-1")).is_some());
        assert!(idx.thread("main").is_none());
        assert!(idx
            .thread(&format!(
                "kafka-producer-network-thread | {c}-StreamThread-1-producer"
            ))
            .is_none());
    }
}
