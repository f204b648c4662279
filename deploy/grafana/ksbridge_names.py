"""The one list of metric and label names that ksbridge's dashboards and
Prometheus rules may use: every family a panel or a rule names, with the
labels ksbridge puts on it. `lint(expr)` refuses an expression that names
anything else; `tests/dashboards.rs` checks this list against what
`ksbridge serve` really serves over the lab's Kafka Streams app (and the
golden files for families only present in other shapes).

Run as a script it prints the list as JSON (for that test).
"""

import json
import re
import sys

# Labels Prometheus adds to every series it scrapes (not ksbridge's), and the
# `target` label ksbridge puts on the series of a JMX source (the JVM read).
TARGET_LABELS = ("instance", "job")
SOURCE_LABELS = ("target",)

_CLIENT = ("application_id", "client_id")
_THREAD = _CLIENT + ("thread",)
_TASK = _THREAD + ("task", "subtopology", "partition")
_STORE = _TASK + ("store", "store_type")
_NODE = _TASK + ("processor_node",)
_JVM = ("application_id", "target")
_SELF = ("source", "target")
_GROUP = ("group", "application_id")
_PARTITION = _GROUP + ("topic", "partition")
_ICPT = _THREAD + ("kafka_client_id",)

# family (as served, counters with `_total`) -> labels ksbridge puts on it
METRICS = {
    # client
    "kafka_streams_state": _CLIENT + ("state",),
    "kafka_streams_state_seconds_total": _CLIENT + ("state",),
    "kafka_streams_health": _CLIENT + ("reason",),
    "kafka_streams_client_alive_stream_threads": _CLIENT,
    "kafka_streams_client_failed_stream_threads_total": _CLIENT,
    "kafka_streams_client_info": _CLIENT + ("version", "commit_id"),
    "kafka_streams_recording_level_info": _CLIENT + ("level", "source"),
    # threads
    "kafka_streams_thread_state": _THREAD + ("state",),
    "kafka_streams_thread_state_seconds_total": _THREAD + ("state",),
    "kafka_streams_thread_process_total": _THREAD,
    "kafka_streams_thread_poll_ratio": _THREAD,
    "kafka_streams_thread_process_ratio": _THREAD,
    "kafka_streams_thread_commit_ratio": _THREAD,
    "kafka_streams_thread_punctuate_ratio": _THREAD,
    "kafka_streams_thread_commit_latency_avg_seconds": _THREAD,
    "kafka_streams_thread_poll_records_avg": _THREAD,
    "kafka_streams_thread_blocked_time_seconds_total": _THREAD,
    "kafka_streams_thread_task_created_total": _THREAD,
    "kafka_streams_thread_task_closed_total": _THREAD,
    "kafka_streams_thread_cpu_seconds_total": _THREAD,
    "kafka_streams_state_updater_active_restoring_tasks": _THREAD,
    "kafka_streams_state_updater_idle_ratio": _THREAD,
    # tasks, restore, health
    "kafka_streams_task_active_process_ratio": _TASK,
    "kafka_streams_task_dropped_records_total": _TASK,
    "kafka_streams_task_process_latency_avg_seconds": _TASK,
    "kafka_streams_task_cache_size_bytes": _TASK,
    "kafka_streams_restore_remaining_records": _TASK,
    "kafka_streams_restore_eta_seconds": _TASK,
    # processor nodes and topics
    "kafka_streams_processor_node_record_e2e_latency_avg_seconds": _NODE,
    "kafka_streams_processor_node_record_e2e_latency_max_seconds": _NODE,
    "kafka_streams_processor_node_process_total": _NODE,
    "kafka_streams_topic_records_consumed_total": _NODE + ("topic",),
    "kafka_streams_topic_records_produced_total": _NODE + ("topic",),
    # topology
    "kafka_streams_topology_node_info": ("application_id", "subtopology", "node", "kind"),
    "kafka_streams_topology_topic_info": (
        "application_id", "subtopology", "topic", "direction", "role"),
    "kafka_streams_topology_store_info": ("application_id", "subtopology", "store", "changelog"),
    # state stores, RocksDB, record cache
    "kafka_streams_store_put_latency_avg_seconds": _STORE,
    "kafka_streams_store_get_latency_avg_seconds": _STORE,
    "kafka_streams_store_fetch_latency_avg_seconds": _STORE,
    "kafka_streams_store_num_open_iterators": _STORE,
    "kafka_streams_rocksdb_estimate_num_keys": _STORE,
    "kafka_streams_rocksdb_total_sst_files_size_bytes": _STORE,
    "kafka_streams_rocksdb_cur_size_all_mem_tables_bytes": _STORE,
    "kafka_streams_rocksdb_block_cache_usage_bytes": _STORE,
    "kafka_streams_rocksdb_estimate_pending_compaction_bytes": _STORE,
    "kafka_streams_rocksdb_num_running_compactions": _STORE,
    "kafka_streams_rocksdb_num_running_flushes": _STORE,
    "kafka_streams_rocksdb_write_stall_duration_seconds_total": _STORE,
    "kafka_streams_rocksdb_written_bytes_total": _STORE,
    "kafka_streams_rocksdb_read_bytes_total": _STORE,
    "kafka_streams_record_cache_hit_ratio_avg": _TASK + ("store",),
    # embedded clients
    "kafka_streams_consumer_records_consumed_total": _THREAD,
    "kafka_streams_consumer_fetch_latency_avg_seconds": _THREAD,
    "kafka_streams_consumer_records_lag_max": _THREAD,
    "kafka_streams_consumer_coordinator_commit_latency_avg_seconds": _THREAD,
    "kafka_streams_consumer_coordinator_rebalance_total": _THREAD,
    "kafka_streams_consumer_coordinator_assigned_partitions": _THREAD,
    "kafka_streams_consumer_coordinator_last_heartbeat_seconds_ago": _THREAD,
    "kafka_streams_restore_consumer_records_consumed_total": _THREAD,
    "kafka_streams_producer_record_send_total": _THREAD,
    "kafka_streams_producer_record_error_total": _THREAD,
    "kafka_streams_producer_request_latency_avg_seconds": _THREAD,
    "kafka_streams_producer_buffer_available_bytes": _THREAD,
    "kafka_streams_admin_request_total": _CLIENT,
    # ksbridge's interceptors
    "kafka_interceptor_producer_sent_records_total": _ICPT + ("topic",),
    "kafka_interceptor_producer_acked_records_total": _ICPT + ("topic",),
    "kafka_interceptor_consumer_consumed_records_total": _ICPT + ("topic",),
    "kafka_interceptor_producer_send_ack_latency_seconds_bucket": _ICPT + ("le",),
    "kafka_interceptor_consumer_record_age_seconds_bucket": _ICPT + ("le",),
    # consumer-group lag measured by ksbridge
    "kafka_consumergroup_lag": _PARTITION,
    "kafka_consumergroup_lag_seconds": _PARTITION,
    "kafka_consumergroup_lag_sum": _GROUP,
    "kafka_consumergroup_lag_seconds_max": _GROUP,
    "kafka_consumergroup_lag_sum_trend_records_per_second": _GROUP,
    "kafka_consumergroup_status": _GROUP + ("status",),
    "kafka_consumergroup_members": _GROUP,
    # JVM
    "jvm_memory_used_bytes": _JVM + ("area",),
    "jvm_memory_committed_bytes": _JVM + ("area",),
    "jvm_memory_max_bytes": _JVM + ("area",),
    "jvm_memory_pool_used_bytes": _JVM + ("pool",),
    "jvm_gc_collection_seconds_total": _JVM + ("gc",),
    "jvm_gc_collections_total": _JVM + ("gc",),
    "jvm_threads_current": _JVM,
    "jvm_threads_daemon": _JVM,
    "jvm_classes_currently_loaded": _JVM,
    "process_cpu_seconds_total": _JVM,
    "process_open_fds": _JVM,
    "process_max_fds": _JVM,
    "jvm_uptime_seconds": _JVM,
    # ksbridge itself
    "ksbridge_scrape_success": _SELF,
    "ksbridge_scrape_duration_seconds": _SELF,
    "ksbridge_snapshot_age_seconds": _SELF,
    "ksbridge_targets": (),
    "ksbridge_scrape_errors_total": ("kind",),
    "ksbridge_build_info": ("version",),
    # Prometheus's own per-target series
    "up": (),
}

# Metrics Prometheus itself makes (not to be looked for in ksbridge's output).
PROMETHEUS_MADE = ("up",)

LABELS = (
    {label for labels in METRICS.values() for label in labels}
    | set(TARGET_LABELS)
    | set(SOURCE_LABELS)
)

_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "quantile", "by", "without",
    "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "deriv", "changes", "resets", "time", "timestamp",
    "clamp_min", "clamp_max", "abs", "vector", "scalar", "absent", "histogram_quantile",
    "max_over_time", "min_over_time", "avg_over_time", "last_over_time", "sort_desc",
    "label_values",  # Grafana's variable query function
}

class NameError_(ValueError):
    """An expression names a metric or label that is not in METRICS."""


def lint(expr, recorded=()):
    """Raises NameError_ unless every metric and label `expr` names is known:
    a family of METRICS (with its labels in its selectors), a recording rule
    of `recorded`, a PromQL function or keyword, or a label of LABELS."""
    # Strings, durations/ranges and Grafana variables name nothing.
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", text)
    text = re.sub(r"\boffset\s+\S+", "", text)
    problems = []
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?", text):
        word, selector = m.group(1), m.group(2)
        if word in _FUNCTIONS or word in LABELS and not selector:
            continue
        if word in METRICS:
            allowed = set(METRICS[word]) | set(TARGET_LABELS) | set(SOURCE_LABELS)
        elif word in recorded:
            allowed = LABELS
        elif re.fullmatch(r"[0-9.e]+", word):
            continue
        else:
            problems.append(f"unknown name {word!r}")
            continue
        for key in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", selector or ""):
            if key not in allowed:
                problems.append(f"{word} has no label {key!r}")
    if problems:
        raise NameError_(f"{expr}: " + "; ".join(problems))


if __name__ == "__main__":
    json.dump(
        {
            "metrics": {k: list(v) for k, v in METRICS.items()},
            "prometheus_made": list(PROMETHEUS_MADE),
            "target_labels": list(TARGET_LABELS),
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")
