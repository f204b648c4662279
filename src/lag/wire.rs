//! Committed offsets of many groups over a few shared connections, speaking
//! the Kafka protocol directly: group ids and broker addresses in, each
//! group's committed offsets (or its error) out. The message types come from
//! the `kafka-protocol` crate (every API version, generated from Kafka's own
//! schemas); this module only frames them over plaintext TCP (tokio).
//!
//! Why not librdkafka: its consumer binds a client to one `group.id`, so
//! OffsetFetch costs a client (connection, FindCoordinator, threads) per
//! group, and rdkafka 0.39's safe API has no `ListConsumerGroupOffsets`
//! (librdkafka 2.12's admin call takes one group per request anyway).
//! Here one FindCoordinator v4 request resolves the coordinators of many
//! groups, one OffsetFetch v8 request carries many groups (all their topics),
//! requests are grouped by coordinator and run several at a time, each on
//! its own connection (a broker works one request per connection at a time).
//!
//! Blocking entry point ([`WireClient::committed_many`]) on a current-thread
//! runtime owned by the client: no threads beyond the caller's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, OffsetFetchRequest, OffsetFetchResponse, RequestHeader,
    ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::model::TopicPartition;
use crate::sync::lock;

/// FindCoordinator version that batches coordinator keys (KIP-699, Kafka 3.0+).
const FIND_COORDINATOR_VERSION: i16 = 4;
/// OffsetFetch version that batches groups (KIP-709, Kafka 3.0+).
const OFFSET_FETCH_VERSION: i16 = 8;
/// Groups per OffsetFetch request: small enough that a coordinator's groups
/// spread over several requests (and broker I/O threads), large enough that
/// 1,000 groups take a handful of round trips.
const GROUPS_PER_REQUEST: usize = 50;
/// Coordinator keys per FindCoordinator request.
const KEYS_PER_FIND: usize = 1_000;
/// Connections (= requests in flight) per broker.
const CONNECTIONS_PER_BROKER: usize = 4;
/// Largest response accepted (a hostile or confused peer cannot make us
/// allocate more): 1,000 groups x 1,000 partitions fit many times over.
const MAX_RESPONSE_BYTES: usize = 256 << 20;
/// Rounds of FindCoordinator + OffsetFetch for groups whose coordinator moved
/// or is loading.
const ROUNDS: usize = 4;
const CLIENT_ID: &str = "ksbridge-lag";

/// Kafka error codes that mean "ask the coordinator again".
const NOT_COORDINATOR: i16 = 16;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;

/// Failures of the shared-connection path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WireError {
    #[error("cannot connect to broker {addr}: {cause}")]
    Connect { addr: String, cause: String },
    #[error("broker {addr}: {api} request failed: {cause}")]
    Io {
        addr: String,
        api: &'static str,
        cause: String,
    },
    #[error("broker {addr}: no {api} answer within {timeout:?}")]
    Timeout {
        addr: String,
        api: &'static str,
        timeout: Duration,
    },
    #[error("broker {addr}: malformed {api} message: {cause}")]
    Protocol {
        addr: String,
        api: &'static str,
        cause: String,
    },
    #[error("broker {addr} supports {api} up to v{max}, v{needed} needed")]
    Unsupported {
        addr: String,
        api: &'static str,
        max: i16,
        needed: i16,
    },
    #[error("no broker address to connect to")]
    NoBroker,
    #[error("group {group}: {what}: {code}")]
    Group {
        group: String,
        what: &'static str,
        code: String,
    },
}

impl WireError {
    /// The broker cannot speak the versions this path needs: use another path for good.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, WireError::Unsupported { .. })
    }
}

fn code_text(code: i16) -> String {
    match code.err() {
        Some(e) => format!("{e} (error {code})"),
        None => "no error".to_string(),
    }
}

/// One connection: requests go out and come back one at a time.
struct Conn {
    addr: String,
    stream: TcpStream,
}

/// Send one request and read its answer.
async fn call<Q, R>(
    conn: &mut Conn,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    req: &Q,
) -> Result<R, WireError>
where
    Q: Encodable + HeaderVersion,
    R: Decodable + HeaderVersion,
{
    let api = api_name(key);
    let proto = |cause: String| WireError::Protocol {
        addr: conn.addr.clone(),
        api,
        cause,
    };
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut buf: Vec<u8> = vec![0; 4];
    header
        .encode(&mut buf, Q::header_version(version))
        .map_err(|e| proto(e.to_string()))?;
    req.encode(&mut buf, version)
        .map_err(|e| proto(e.to_string()))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| proto("request too large".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    let io = |e: std::io::Error| WireError::Io {
        addr: conn.addr.clone(),
        api,
        cause: e.to_string(),
    };
    conn.stream.write_all(&buf).await.map_err(io)?;
    let mut len = [0u8; 4];
    conn.stream.read_exact(&mut len).await.map_err(io)?;
    let len = i32::from_be_bytes(len);
    let len = usize::try_from(len)
        .ok()
        .filter(|n| *n <= MAX_RESPONSE_BYTES)
        .ok_or_else(|| proto(format!("response length {len}")))?;
    let mut body = vec![0u8; len];
    conn.stream.read_exact(&mut body).await.map_err(io)?;
    let mut at: &[u8] = &body;
    let rh = ResponseHeader::decode(&mut at, R::header_version(version))
        .map_err(|e| proto(e.to_string()))?;
    if rh.correlation_id != correlation_id {
        return Err(proto(format!(
            "correlation id {} for request {correlation_id}",
            rh.correlation_id
        )));
    }
    R::decode(&mut at, version).map_err(|e| proto(e.to_string()))
}

fn api_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::OffsetFetch => "OffsetFetch",
        _ => "Kafka",
    }
}

/// The connections to one broker.
struct Pool {
    addr: String,
    slots: Vec<tokio::sync::Mutex<Option<Conn>>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(addr: &str) -> Pool {
        Pool {
            addr: addr.to_string(),
            slots: (0..CONNECTIONS_PER_BROKER)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// One request on one of the broker's connections (opened on demand,
    /// dropped after any failure: its stream position is then unknown).
    async fn call<Q, R>(
        &self,
        key: ApiKey,
        version: i16,
        req: &Q,
        ids: &AtomicI32,
        timeout: Duration,
    ) -> Result<R, WireError>
    where
        Q: Encodable + HeaderVersion,
        R: Decodable + HeaderVersion,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        let work = async {
            if slot.is_none() {
                let stream =
                    TcpStream::connect(&self.addr)
                        .await
                        .map_err(|e| WireError::Connect {
                            addr: self.addr.clone(),
                            cause: e.to_string(),
                        })?;
                let _ = stream.set_nodelay(true);
                *slot = Some(Conn {
                    addr: self.addr.clone(),
                    stream,
                });
            }
            let Some(conn) = slot.as_mut() else {
                return Err(WireError::NoBroker);
            };
            let id = ids.fetch_add(1, Ordering::Relaxed);
            call(conn, key, version, id, req).await
        };
        let res = match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(WireError::Timeout {
                addr: self.addr.clone(),
                api: api_name(key),
                timeout,
            }),
        };
        if res.is_err() {
            *slot = None;
        }
        res
    }
}

struct Inner {
    timeout: Duration,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    /// Group id -> its coordinator's address, kept between cycles.
    coordinators: Mutex<HashMap<String, String>>,
    /// The versions this path needs were checked against a broker.
    checked: Mutex<bool>,
    ids: AtomicI32,
}

impl Inner {
    fn pool(&self, addr: &str) -> Arc<Pool> {
        lock(&self.pools, "lag wire pools")
            .entry(addr.to_string())
            .or_insert_with(|| Arc::new(Pool::new(addr)))
            .clone()
    }

    async fn call<Q, R>(
        &self,
        addr: &str,
        key: ApiKey,
        version: i16,
        req: &Q,
    ) -> Result<R, WireError>
    where
        Q: Encodable + HeaderVersion,
        R: Decodable + HeaderVersion,
    {
        self.pool(addr)
            .call(key, version, req, &self.ids, self.timeout)
            .await
    }
}

/// Per group: its committed offsets, or why they could not be read.
pub type GroupOffsets = Result<HashMap<TopicPartition, i64>, WireError>;

/// The shared-connection OffsetFetch client.
pub struct WireClient {
    rt: tokio::runtime::Runtime,
    inner: Arc<Inner>,
}

impl WireClient {
    pub fn new(timeout: Duration) -> std::io::Result<WireClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(WireClient {
            rt,
            inner: Arc::new(Inner {
                timeout,
                pools: Mutex::new(HashMap::new()),
                coordinators: Mutex::new(HashMap::new()),
                checked: Mutex::new(false),
                ids: AtomicI32::new(1),
            }),
        })
    }

    /// Committed offsets of every partition each of `groups` committed on,
    /// asking `brokers` (host:port) for coordinators. `Err` when the path as
    /// a whole cannot work (no broker answers, versions unsupported); a
    /// group's own failure is its entry's `Err`. Blocking.
    pub fn committed_many(
        &self,
        brokers: &[String],
        groups: &[String],
    ) -> Result<Vec<(String, GroupOffsets)>, WireError> {
        let inner = self.inner.clone();
        let deadline = Instant::now() + inner.timeout;
        self.rt.block_on(committed_many(
            inner,
            brokers.to_vec(),
            groups.to_vec(),
            deadline,
        ))
    }

    /// Forget the coordinators and connections (after a failed cycle).
    pub fn reset(&self) {
        lock(&self.inner.coordinators, "lag wire coordinators").clear();
        lock(&self.inner.pools, "lag wire pools").clear();
    }
}

/// Ask the first broker that answers; `Err` (the last failure) if none does.
async fn any_broker<F, Fut, T>(brokers: &[String], f: F) -> Result<(String, T), WireError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, WireError>>,
{
    let mut last = WireError::NoBroker;
    for b in brokers {
        match f(b.clone()).await {
            Ok(t) => return Ok((b.clone(), t)),
            Err(e @ WireError::Unsupported { .. }) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn check_versions(inner: &Inner, addr: String) -> Result<(), WireError> {
    let resp: ApiVersionsResponse = inner
        .call(
            &addr,
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("ksbridge"))
                .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION"))),
        )
        .await?;
    if resp.error_code != 0 {
        return Err(WireError::Io {
            addr,
            api: "ApiVersions",
            cause: code_text(resp.error_code),
        });
    }
    for (key, needed) in [
        (ApiKey::FindCoordinator, FIND_COORDINATOR_VERSION),
        (ApiKey::OffsetFetch, OFFSET_FETCH_VERSION),
    ] {
        let max = resp
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .filter(|k| k.min_version <= needed)
            .map_or(-1, |k| k.max_version);
        if max < needed {
            return Err(WireError::Unsupported {
                addr: addr.clone(),
                api: api_name(key),
                max,
                needed,
            });
        }
    }
    Ok(())
}

/// Resolve the coordinators of `groups` (batched FindCoordinator); groups
/// whose coordinator is not known come back with their error.
async fn find_coordinators(
    inner: &Inner,
    brokers: &[String],
    groups: &[String],
    failed: &mut HashMap<String, WireError>,
) -> Result<(), WireError> {
    for chunk in groups.chunks(KEYS_PER_FIND) {
        let req = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(
                chunk
                    .iter()
                    .map(|g| StrBytes::from_string(g.clone()))
                    .collect(),
            );
        let (_, resp): (String, FindCoordinatorResponse) = any_broker(brokers, |b| {
            let req = &req;
            async move {
                inner
                    .call(&b, ApiKey::FindCoordinator, FIND_COORDINATOR_VERSION, req)
                    .await
            }
        })
        .await?;
        let mut coordinators = lock(&inner.coordinators, "lag wire coordinators");
        for c in resp.coordinators {
            let group = c.key.as_str().to_string();
            if c.error_code == 0 && c.node_id.0 >= 0 {
                failed.remove(&group);
                coordinators.insert(group, format!("{}:{}", c.host.as_str(), c.port));
            } else {
                failed.insert(
                    group.clone(),
                    WireError::Group {
                        group,
                        what: "no coordinator",
                        code: code_text(c.error_code),
                    },
                );
            }
        }
    }
    Ok(())
}

/// One OffsetFetch of several groups (all their topics) on their coordinator.
async fn fetch_batch(
    inner: Arc<Inner>,
    addr: String,
    groups: Vec<String>,
) -> (Vec<String>, Result<OffsetFetchResponse, WireError>) {
    let req = OffsetFetchRequest::default()
        .with_require_stable(false)
        .with_groups(
            groups
                .iter()
                .map(|g| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(StrBytes::from_string(g.clone())))
                        .with_topics(None)
                })
                .collect(),
        );
    let res = inner
        .call(&addr, ApiKey::OffsetFetch, OFFSET_FETCH_VERSION, &req)
        .await;
    (groups, res)
}

/// The committed offsets in one group's part of an OffsetFetch answer.
fn offsets_of(
    g: &kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup,
) -> HashMap<TopicPartition, i64> {
    let mut out = HashMap::new();
    for t in &g.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert(
                    TopicPartition::new(t.name.0.as_str(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    out
}

// Long on purpose: the retry rounds share the pending/failed/done sets; split
// up, each part would take and return all three.
async fn committed_many(
    inner: Arc<Inner>,
    brokers: Vec<String>,
    groups: Vec<String>,
    deadline: Instant,
) -> Result<Vec<(String, GroupOffsets)>, WireError> {
    if brokers.is_empty() {
        return Err(WireError::NoBroker);
    }
    if !*lock(&inner.checked, "lag wire versions") {
        any_broker(&brokers, |b| check_versions(&inner, b)).await?;
        *lock(&inner.checked, "lag wire versions") = true;
    }
    let mut done: HashMap<String, HashMap<TopicPartition, i64>> = HashMap::new();
    let mut failed: HashMap<String, WireError> = HashMap::new();
    let mut pending: Vec<String> = groups.clone();
    for round in 0..ROUNDS {
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(100 << round)).await;
        }
        let unknown: Vec<String> = {
            let c = lock(&inner.coordinators, "lag wire coordinators");
            pending
                .iter()
                .filter(|g| !c.contains_key(*g))
                .cloned()
                .collect()
        };
        if !unknown.is_empty() {
            find_coordinators(&inner, &brokers, &unknown, &mut failed).await?;
        }
        // Requests by coordinator, every batch in flight at once (each
        // broker's connection slots bound what really runs concurrently).
        let mut by_coordinator: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let c = lock(&inner.coordinators, "lag wire coordinators");
            for g in &pending {
                if let Some(addr) = c.get(g) {
                    by_coordinator
                        .entry(addr.clone())
                        .or_default()
                        .push(g.clone());
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (addr, gs) in by_coordinator {
            for chunk in gs.chunks(GROUPS_PER_REQUEST) {
                tasks.spawn(fetch_batch(inner.clone(), addr.clone(), chunk.to_vec()));
            }
        }
        let mut retry: Vec<String> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((gs, res)) = joined else { continue };
            match res {
                Err(e) => {
                    let mut c = lock(&inner.coordinators, "lag wire coordinators");
                    for g in gs {
                        c.remove(&g);
                        failed.insert(g.clone(), e.clone());
                        retry.push(g);
                    }
                }
                Ok(resp) => {
                    let mut answered: std::collections::HashSet<String> = Default::default();
                    for g in &resp.groups {
                        let name = g.group_id.0.as_str().to_string();
                        answered.insert(name.clone());
                        match g.error_code {
                            0 => {
                                failed.remove(&name);
                                done.insert(name, offsets_of(g));
                            }
                            NOT_COORDINATOR
                            | COORDINATOR_NOT_AVAILABLE
                            | COORDINATOR_LOAD_IN_PROGRESS => {
                                lock(&inner.coordinators, "lag wire coordinators").remove(&name);
                                failed.insert(
                                    name.clone(),
                                    WireError::Group {
                                        group: name.clone(),
                                        what: "offsets not readable yet",
                                        code: code_text(g.error_code),
                                    },
                                );
                                retry.push(name);
                            }
                            code => {
                                failed.insert(
                                    name.clone(),
                                    WireError::Group {
                                        group: name,
                                        what: "OffsetFetch failed",
                                        code: code_text(code),
                                    },
                                );
                            }
                        }
                    }
                    for g in gs.into_iter().filter(|g| !answered.contains(g)) {
                        failed.insert(
                            g.clone(),
                            WireError::Group {
                                group: g,
                                what: "OffsetFetch",
                                code: "left out of the answer".into(),
                            },
                        );
                    }
                }
            }
        }
        // Groups without a coordinator are retried too.
        for g in &pending {
            if !done.contains_key(g) && failed.contains_key(g) && !retry.contains(g) {
                let no_coordinator = matches!(
                    failed.get(g),
                    Some(WireError::Group {
                        what: "no coordinator",
                        ..
                    })
                );
                if no_coordinator {
                    retry.push(g.clone());
                }
            }
        }
        pending = retry;
    }
    // Not one group answered and only transport failures: the path itself
    // does not work here (a listener this client cannot speak to).
    if done.is_empty() && !groups.is_empty() {
        if let Some(e) = failed
            .values()
            .find(|e| !matches!(e, WireError::Group { .. }))
        {
            if failed
                .values()
                .all(|e| !matches!(e, WireError::Group { .. }))
            {
                return Err(e.clone());
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let r = match done.remove(&g) {
                Some(m) => Ok(m),
                None => Err(failed.remove(&g).unwrap_or_else(|| WireError::Group {
                    group: g.clone(),
                    what: "OffsetFetch",
                    code: "no answer before the timeout".into(),
                })),
            };
            (g, r)
        })
        .collect())
}
