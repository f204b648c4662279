#!/usr/bin/env python3
"""Generates ksbridge's Grafana dashboards (deploy/grafana/dashboards/*.json)
with Grafana's grafana-foundation-sdk, from the names in ksbridge_names.py
(every expression is linted against them before it is written).

    python3 deploy/grafana/generate.py            # (re)write the dashboards
    python3 deploy/grafana/generate.py --check    # fail if the files differ
    python3 deploy/grafana/generate.py --queries  # print every panel query as JSON

Input: this file's panel definitions; output: one JSON file per dashboard.
"""

import json
import os
import sys

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

import ksbridge_names as names

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")

# The datasource is a variable: no datasource UID is written anywhere.
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Selectors of the template variables.
APP = 'application_id=~"$application_id"'
S = APP + ', instance=~"$instance"'
T = S + ', thread=~"$thread"'
ST = S + ', store=~"$store"'
RI = "$__rate_interval"


RULES = os.path.join(HERE, "..", "prometheus", "rules")
RULE_FILES = ("ksbridge-recording.yml", "ksbridge-alerts.yml")


def rules():
    """(file, rule) of every recording and alerting rule."""
    import yaml

    out = []
    for name in RULE_FILES:
        with open(os.path.join(RULES, name)) as f:
            doc = yaml.safe_load(f)
        out += [(name, r) for g in doc["groups"] for r in g["rules"]]
    return out


RECORDED = {r["record"] for _, r in rules() if "record" in r}
# The rules name only what ksbridge serves, like the panels.
for _, _rule in rules():
    names.lint(_rule["expr"], RECORDED)


def q(expr, legend="", instant=False):
    names.lint(expr, RECORDED)
    b = prom.Dataquery().expr(expr).legend_format(legend or "__auto")
    if instant:
        b = b.instant().format(pm.PromQueryFormat.TABLE)
    return b


def ts(title, unit, *targets, desc="", w=12, h=8, stack=False):
    p = (
        timeseries.Panel()
        .title(title)
        .description(desc)
        .datasource(DS)
        .unit(unit)
        .span(w)
        .height(h)
        .fill_opacity(10)
        .legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.LIST)
                .placement(cm.LegendPlacement.BOTTOM).show_legend(True))
    )
    if stack:
        p = p.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    for t in targets:
        p = p.with_target(t)
    return p


def st(title, unit, target, desc="", w=4, h=4, mappings=None, text_mode=None):
    p = (
        stat.Panel()
        .title(title)
        .description(desc)
        .datasource(DS)
        .unit(unit)
        .span(w)
        .height(h)
        .with_target(target)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
    )
    if mappings:
        p = p.mappings(mappings)
    if text_mode:
        p = p.text_mode(text_mode)
    return p


def tb(title, unit, target, desc="", w=12, h=8):
    return (
        table.Panel()
        .title(title)
        .description(desc)
        .datasource(DS)
        .unit(unit)
        .span(w)
        .height(h)
        .with_target(target)
    )


def health_mappings():
    r = dm.ValueMappingResult
    return [
        dm.ValueMap(
            options={
                "0": r(text="healthy", color="green"),
                "1": r(text="degraded", color="orange"),
                "2": r(text="failed", color="red"),
            }
        )
    ]


def lv(query):
    """A variable's label_values() query, linted like the panels'."""
    names.lint(query, RECORDED)
    return query


def variables(*extra):
    """datasource, application_id, instance, then the dashboard's own."""
    out = [
        db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        db.QueryVariable("application_id")
        .label("Application id")
        .datasource(DS)
        .query(lv("label_values(kafka_streams_state, application_id)"))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC),
        db.QueryVariable("instance")
        .label("Instance")
        .datasource(DS)
        .query(lv('label_values(kafka_streams_state{application_id=~"$application_id"}, instance)'))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*"),
    ]
    if "thread" in extra:
        out.append(
            db.QueryVariable("thread")
            .label("Thread")
            .datasource(DS)
            .query(lv('label_values(kafka_streams_thread_state{application_id=~"$application_id"}, thread)'))
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    if "store" in extra:
        out.append(
            db.QueryVariable("store")
            .label("Store")
            .datasource(DS)
            .query(lv('label_values(kafka_streams_topology_store_info{application_id=~"$application_id"}, store)'))
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    return out


def dashboard(uid, title, desc, rows, extra_vars=()):
    """A dashboard of rows, each `(title, [panel builders])`."""
    d = (
        db.Dashboard(title)
        .uid(uid)
        .description(desc)
        .tags(["ksbridge", "kafka-streams"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(db.DashboardLink("ksbridge dashboards").type(dm.DashboardLinkType.DASHBOARDS)
              .tags(["ksbridge"]).as_dropdown(True).include_vars(True).keep_time(True))
    )
    for v in variables(*extra_vars):
        d = d.with_variable(v)
    # Grafana wants panel ids unique within a dashboard: number them in order.
    n = 0
    for title_, panels in rows:
        n += 1
        d = d.with_row(db.Row(title_).id(n))
        for p in panels:
            n += 1
            d = d.with_panel(p.id(n))
    return d.build()


def overview():
    """State, threads, throughput, e2e latency, input lag, restore, health."""
    lag_in = f"max by (application_id, topic, partition) (kafka_consumergroup_lag{{{S}}})"
    return dashboard(
        "ksbridge-overview",
        "Kafka Streams / Overview",
        "One Kafka Streams application id: state, threads, throughput, end-to-end latency, "
        "input lag (records, seconds, status, trend), restore and health, from ksbridge.",
        [
            ("State and health", [
                st("Clients RUNNING", "none",
                   q(f'sum(kafka_streams_state{{{S}, state="RUNNING"}})', "running"),
                   desc="Kafka Streams clients of the application in state RUNNING."),
                st("Health (worst client)", "none",
                   q(f"max(kafka_streams_health{{{S}}})", "health"),
                   desc="As `ksbridge status` judges it: 0 healthy, 1 degraded, 2 failed.",
                   mappings=health_mappings()),
                st("Stream threads alive", "none",
                   q(f"sum(kafka_streams_client_alive_stream_threads{{{S}}})", "alive"),
                   desc="Alive stream threads over all clients (Kafka's alive-stream-threads)."),
                st("Failed threads (1h)", "none",
                   q(f"sum(increase(kafka_streams_client_failed_stream_threads_total{{{S}}}[1h]))",
                     "failed"),
                   desc="Stream threads that died in the last hour (replaced or not)."),
                st("Input lag status", "none",
                   q(f"max by (status) (kafka_consumergroup_status{{{S}}}) == 1", "{{status}}"),
                   desc="Threshold-free lag status of the application's consumer group "
                        "(OK, WARN, STALL, STOP, REWIND, ERR).",
                   text_mode=cm.BigValueTextMode.NAME),
                st("Input lag", "s",
                   q(f"max(kafka_consumergroup_lag_seconds_max{{{S}}})", "lag"),
                   desc="Age of the oldest record the application has not read."),
                tb("Health reason per client", "none",
                   q(f"max by (client_id, reason) (kafka_streams_health{{{S}}})", "", instant=True),
                   desc="The worst finding per client: ok, error, not_running, no_threads, "
                        "thread_failed, thread_dead, rebalancing, not_started, restoring, "
                        "unknown_state."),
                ts("Client state", "none",
                   q(f"max by (client_id, state) (kafka_streams_state{{{S}}}) == 1",
                     "{{client_id}} {{state}}"),
                   desc="The state each client is in (1 while in it)."),
                ts("Time in state", "percentunit",
                   q(f"sum by (state) (rate(kafka_streams_state_seconds_total{{{S}}}[{RI}]))",
                     "{{state}}"),
                   desc="Share of time the clients spent in each state (state poller).",
                   stack=True),
                ts("Threads alive vs running", "none",
                   q(f"sum by (client_id) (kafka_streams_client_alive_stream_threads{{{S}}})",
                     "{{client_id}} alive"),
                   q(f'count by (client_id) (kafka_streams_thread_state{{{S}, state="RUNNING", '
                     f'thread=~"StreamThread-.*"}} == 1)', "{{client_id}} running"),
                   desc="Alive stream threads and those in RUNNING, per client."),
            ]),
            ("Throughput and latency", [
                ts("Records processed", "cps",
                   q(f"sum by (client_id) (rate(kafka_streams_thread_process_total{{{S}}}[{RI}]))",
                     "{{client_id}}"),
                   desc="Records processed per second by the stream threads."),
                ts("End-to-end latency", "s",
                   q(f"max(kafka_streams_processor_node_record_e2e_latency_max_seconds{{{S}}})",
                     "max"),
                   q(f"avg(kafka_streams_processor_node_record_e2e_latency_avg_seconds{{{S}}})",
                     "avg"),
                   desc="Record end-to-end latency at the source and terminal nodes "
                        "(wall clock minus record timestamp)."),
            ]),
            ("Input lag", [
                ts("Input lag (records)", "short",
                   q(f"max by (group) (kafka_consumergroup_lag_sum{{{S}}})", "{{group}}"),
                   q(f"sum by (topic) ({lag_in})", "{{topic}}"),
                   desc="Records the application's consumer group still has to read, in total "
                        "and per input topic (measured by ksbridge on the brokers)."),
                ts("Input lag (seconds)", "s",
                   q(f"max by (group) (kafka_consumergroup_lag_seconds_max{{{S}}})", "{{group}}"),
                   desc="Age of the oldest unread record."),
                ts("Input lag trend", "cps",
                   q(f"max by (group) (kafka_consumergroup_lag_sum_trend_records_per_second{{{S}}})",
                     "{{group}}"),
                   desc="Slope of the total lag over the status window (negative: catching up)."),
                ts("Consumer group members", "none",
                   q(f"max by (group) (kafka_consumergroup_members{{{S}}})", "{{group}}"),
                   desc="Members of the application's consumer group."),
            ]),
            ("Restore", [
                ts("Restore remaining records", "short",
                   q(f"sum by (task) (kafka_streams_restore_remaining_records{{{S}}})", "{{task}}"),
                   desc="Records each active task still has to restore from its changelogs."),
                ts("Restore ETA", "s",
                   q(f"max by (task) (kafka_streams_restore_eta_seconds{{{S}}})", "{{task}}"),
                   desc="Seconds until a restoring task is done at its current restore rate "
                        "(only while a task restores)."),
                ts("Restoring tasks", "none",
                   q(f"sum by (client_id) (kafka_streams_state_updater_active_restoring_tasks{{{S}}})",
                     "{{client_id}}"),
                   desc="Active tasks the state updater is restoring (Kafka 3.8+ state updater)."),
            ]),
        ],
    )


def threads():
    """Threads and tasks, with per-thread CPU, and processor nodes."""
    return dashboard(
        "ksbridge-threads",
        "Kafka Streams / Threads, tasks and processor nodes",
        "Stream threads (state, CPU, where the time goes), tasks and processor nodes.",
        [
            ("Threads", [
                tb("Thread state", "none",
                   q(f"max by (client_id, thread, state) (kafka_streams_thread_state{{{T}}}) == 1",
                     "", instant=True),
                   desc="The state each thread is in."),
                ts("Thread CPU", "percentunit",
                   q(f"sum by (thread) (rate(kafka_streams_thread_cpu_seconds_total{{{T}}}[{RI}]))",
                     "{{thread}}"),
                   desc="CPU time of each Kafka Streams thread (1.0 = one core)."),
                ts("Records processed per thread", "cps",
                   q(f"sum by (thread) (rate(kafka_streams_thread_process_total{{{T}}}[{RI}]))",
                     "{{thread}}")),
                ts("Where the time goes", "percentunit",
                   q(f"avg(kafka_streams_thread_poll_ratio{{{T}}})", "poll"),
                   q(f"avg(kafka_streams_thread_process_ratio{{{T}}})", "process"),
                   q(f"avg(kafka_streams_thread_commit_ratio{{{T}}})", "commit"),
                   q(f"avg(kafka_streams_thread_punctuate_ratio{{{T}}})", "punctuate"),
                   desc="Fraction of the threads' time in poll, process, commit and punctuate.",
                   stack=True),
                ts("Blocked time", "percentunit",
                   q(f"sum by (thread) (rate(kafka_streams_thread_blocked_time_seconds_total{{{T}}}[{RI}]))",
                     "{{thread}}"),
                   desc="Share of time each thread was blocked on its consumer or producer."),
                ts("Commit latency", "s",
                   q(f"max by (thread) (kafka_streams_thread_commit_latency_avg_seconds{{{T}}})",
                     "{{thread}}")),
                ts("Records per poll", "short",
                   q(f"max by (thread) (kafka_streams_thread_poll_records_avg{{{T}}})",
                     "{{thread}}")),
                ts("Time in thread state", "percentunit",
                   q(f"sum by (state) (rate(kafka_streams_thread_state_seconds_total{{{T}}}[{RI}]))",
                     "{{state}}"),
                   stack=True),
            ]),
            ("Tasks", [
                ts("Tasks created and closed", "cps",
                   q(f"sum(rate(kafka_streams_thread_task_created_total{{{T}}}[{RI}]))", "created"),
                   q(f"sum(rate(kafka_streams_thread_task_closed_total{{{T}}}[{RI}]))", "closed")),
                ts("Task process ratio", "percentunit",
                   q(f"max by (task) (kafka_streams_task_active_process_ratio{{{T}}})", "{{task}}"),
                   desc="Fraction of its thread's time each active task spends processing."),
                ts("Dropped records", "cps",
                   q(f"sum by (task) (rate(kafka_streams_task_dropped_records_total{{{T}}}[{RI}]))",
                     "{{task}}"),
                   desc="Records dropped (deserialization errors, late or null keys)."),
                ts("Task process latency (DEBUG)", "s",
                   q(f"max by (task) (kafka_streams_task_process_latency_avg_seconds{{{T}}})",
                     "{{task}}"),
                   desc="Needs metrics.recording.level DEBUG."),
                ts("State updater idle", "percentunit",
                   q(f"avg by (thread) (kafka_streams_state_updater_idle_ratio{{{S}}})",
                     "{{thread}}"),
                   desc="Share of time the state updater threads are idle (Kafka 3.8+)."),
            ]),
            ("Processor nodes", [
                ts("End-to-end latency per node", "s",
                   q(f"max by (processor_node) "
                     f"(kafka_streams_processor_node_record_e2e_latency_max_seconds{{{T}}})",
                     "{{processor_node}}")),
                ts("Records per node (DEBUG)", "cps",
                   q(f"sum by (processor_node) "
                     f"(rate(kafka_streams_processor_node_process_total{{{T}}}[{RI}]))",
                     "{{processor_node}}"),
                   desc="Needs metrics.recording.level DEBUG."),
                ts("Records consumed and produced per topic", "cps",
                   q(f"sum by (topic) (rate(kafka_streams_topic_records_consumed_total{{{T}}}[{RI}]))",
                     "in {{topic}}"),
                   q(f"sum by (topic) (rate(kafka_streams_topic_records_produced_total{{{T}}}[{RI}]))",
                     "out {{topic}}"),
                   desc="Per topic, at the source and sink nodes (Kafka 3.3+, INFO)."),
            ]),
        ],
        extra_vars=("thread",),
    )


def topology():
    """Sub-topologies and the lag of their input topics."""
    topic_in = (f'max by (application_id, topic, subtopology) '
                f'(kafka_streams_topology_topic_info{{{APP}, direction="input"}})')
    join = "* on (application_id, topic) group_left (subtopology) " + topic_in
    return dashboard(
        "ksbridge-topology",
        "Kafka Streams / Topology",
        "Sub-topologies (from the topology info metrics) and the lag of their input topics.",
        [
            ("Sub-topologies", [
                tb("Nodes per sub-topology", "none",
                   q(f"count by (subtopology, kind) (kafka_streams_topology_node_info{{{APP}}})",
                     "", instant=True)),
                tb("Topics", "none",
                   q(f"max by (subtopology, topic, direction, role) "
                     f"(kafka_streams_topology_topic_info{{{APP}}})", "", instant=True)),
                tb("State stores", "none",
                   q(f"max by (subtopology, store, changelog) "
                     f"(kafka_streams_topology_store_info{{{APP}}})", "", instant=True)),
            ]),
            ("Input lag per sub-topology", [
                ts("Lag per sub-topology (records)", "short",
                   q(f"sum by (subtopology) (max by (application_id, topic, partition) "
                     f"(kafka_consumergroup_lag{{{APP}}}) {join})", "sub-topology {{subtopology}}"),
                   desc="Input lag of each sub-topology: its input topics' consumer-group lag."),
                ts("Lag per sub-topology (seconds)", "s",
                   q(f"max by (subtopology) (max by (application_id, topic, partition) "
                     f"(kafka_consumergroup_lag_seconds{{{APP}}}) {join})",
                     "sub-topology {{subtopology}}")),
            ]),
        ],
    )


def stores():
    """State stores, RocksDB and the record cache."""
    return dashboard(
        "ksbridge-stores",
        "Kafka Streams / State stores, RocksDB and record cache",
        "State stores (latencies at DEBUG), RocksDB properties and statistics, record cache.",
        [
            ("RocksDB", [
                ts("Estimated keys", "short",
                   q(f"sum by (store) (kafka_streams_rocksdb_estimate_num_keys{{{ST}}})", "{{store}}")),
                ts("SST files size", "bytes",
                   q(f"sum by (store) (kafka_streams_rocksdb_total_sst_files_size_bytes{{{ST}}})",
                     "{{store}}")),
                ts("Memtables size", "bytes",
                   q(f"sum by (store) (kafka_streams_rocksdb_cur_size_all_mem_tables_bytes{{{ST}}})",
                     "{{store}}")),
                ts("Block cache usage", "bytes",
                   q(f"max by (store) (kafka_streams_rocksdb_block_cache_usage_bytes{{{ST}}})",
                     "{{store}}")),
                ts("Pending compaction", "bytes",
                   q(f"sum by (store) (kafka_streams_rocksdb_estimate_pending_compaction_bytes{{{ST}}})",
                     "{{store}}")),
                ts("Running compactions and flushes", "none",
                   q(f"sum(kafka_streams_rocksdb_num_running_compactions{{{ST}}})", "compactions"),
                   q(f"sum(kafka_streams_rocksdb_num_running_flushes{{{ST}}})", "flushes")),
                ts("Write stall (DEBUG)", "percentunit",
                   q(f"sum by (store) "
                     f"(rate(kafka_streams_rocksdb_write_stall_duration_seconds_total{{{ST}}}[{RI}]))",
                     "{{store}}")),
                ts("Bytes written and read (DEBUG)", "Bps",
                   q(f"sum(rate(kafka_streams_rocksdb_written_bytes_total{{{ST}}}[{RI}]))", "written"),
                   q(f"sum(rate(kafka_streams_rocksdb_read_bytes_total{{{ST}}}[{RI}]))", "read")),
            ]),
            ("State stores", [
                ts("Put / get / fetch latency (DEBUG)", "s",
                   q(f"max by (store) (kafka_streams_store_put_latency_avg_seconds{{{ST}}})",
                     "put {{store}}"),
                   q(f"max by (store) (kafka_streams_store_get_latency_avg_seconds{{{ST}}})",
                     "get {{store}}"),
                   q(f"max by (store) (kafka_streams_store_fetch_latency_avg_seconds{{{ST}}})",
                     "fetch {{store}}")),
                ts("Open iterators", "none",
                   q(f"sum by (store) (kafka_streams_store_num_open_iterators{{{ST}}})", "{{store}}")),
            ]),
            ("Record cache", [
                ts("Record cache hit ratio (DEBUG)", "percentunit",
                   q(f"avg by (store) (kafka_streams_record_cache_hit_ratio_avg{{{ST}}})",
                     "{{store}}")),
                ts("Record cache size per task", "bytes",
                   q(f"sum by (task) (kafka_streams_task_cache_size_bytes{{{S}}})", "{{task}}")),
            ]),
        ],
        extra_vars=("store",),
    )


def clients():
    """Embedded consumer, restore consumer, producer, admin; interceptors."""
    hq = "histogram_quantile(0.99, sum by (le) (rate({}{{" + S + "}}[" + RI + "])))"
    return dashboard(
        "ksbridge-clients",
        "Kafka Streams / Embedded clients and interceptors",
        "The Kafka clients inside Kafka Streams, and ksbridge's interceptors when the app runs them.",
        [
            ("Consumers", [
                ts("Records consumed", "cps",
                   q(f"sum by (thread) (rate(kafka_streams_consumer_records_consumed_total{{{T}}}[{RI}]))",
                     "{{thread}}"),
                   q(f"sum(rate(kafka_streams_restore_consumer_records_consumed_total{{{S}}}[{RI}]))",
                     "restore consumer")),
                ts("Fetch latency", "s",
                   q(f"max by (thread) (kafka_streams_consumer_fetch_latency_avg_seconds{{{T}}})",
                     "{{thread}}")),
                ts("Records lag max (consumer's view)", "short",
                   q(f"max by (thread) (kafka_streams_consumer_records_lag_max{{{T}}})", "{{thread}}")),
                ts("Commit latency", "s",
                   q(f"max by (thread) "
                     f"(kafka_streams_consumer_coordinator_commit_latency_avg_seconds{{{T}}})",
                     "{{thread}}")),
                ts("Rebalances", "short",
                   q(f"sum(increase(kafka_streams_consumer_coordinator_rebalance_total{{{T}}}[{RI}]))",
                     "rebalances")),
                ts("Assigned partitions", "none",
                   q(f"sum by (thread) (kafka_streams_consumer_coordinator_assigned_partitions{{{T}}})",
                     "{{thread}}")),
                ts("Last heartbeat", "s",
                   q(f"max by (thread) "
                     f"(kafka_streams_consumer_coordinator_last_heartbeat_seconds_ago{{{T}}})",
                     "{{thread}}")),
            ]),
            ("Producers and admin", [
                ts("Records sent and errors", "cps",
                   q(f"sum(rate(kafka_streams_producer_record_send_total{{{T}}}[{RI}]))", "sent"),
                   q(f"sum(rate(kafka_streams_producer_record_error_total{{{T}}}[{RI}]))", "errors")),
                ts("Produce request latency", "s",
                   q(f"max by (thread) (kafka_streams_producer_request_latency_avg_seconds{{{T}}})",
                     "{{thread}}")),
                ts("Producer buffer available", "bytes",
                   q(f"min by (thread) (kafka_streams_producer_buffer_available_bytes{{{T}}})",
                     "{{thread}}")),
                ts("Admin requests", "reqps",
                   q(f"sum(rate(kafka_streams_admin_request_total{{{S}}}[{RI}]))", "requests")),
            ]),
            ("Interceptors", [
                ts("Records sent, acknowledged, consumed", "cps",
                   q(f"sum(rate(kafka_interceptor_producer_sent_records_total{{{S}}}[{RI}]))", "sent"),
                   q(f"sum(rate(kafka_interceptor_producer_acked_records_total{{{S}}}[{RI}]))", "acked"),
                   q(f"sum(rate(kafka_interceptor_consumer_consumed_records_total{{{S}}}[{RI}]))",
                     "consumed"),
                   desc="From ksbridge's producer and consumer interceptors (docs/interceptors.md)."),
                ts("Send-to-ack latency and record age (p99)", "s",
                   q(hq.format("kafka_interceptor_producer_send_ack_latency_seconds_bucket"),
                     "send to ack p99"),
                   q(hq.format("kafka_interceptor_consumer_record_age_seconds_bucket"),
                     "record age p99")),
            ]),
        ],
        extra_vars=("thread",),
    )


def jvm():
    """Heap, pools, GC share, CPU, threads of the apps' JVMs."""
    return dashboard(
        "ksbridge-jvm",
        "Kafka Streams / JVM",
        "The JVMs running the application, from their platform MXBeans (read by ksbridge).",
        [
            ("Memory", [
                ts("Heap", "bytes",
                   q(f'sum by (target) (jvm_memory_used_bytes{{{S}, area="heap"}})', "{{target}} used"),
                   q(f'sum by (target) (jvm_memory_committed_bytes{{{S}, area="heap"}})',
                     "{{target}} committed"),
                   q(f'sum by (target) (jvm_memory_max_bytes{{{S}, area="heap"}})', "{{target}} max")),
                ts("Memory pools", "bytes",
                   q(f"sum by (pool) (jvm_memory_pool_used_bytes{{{S}}})", "{{pool}}"), stack=True),
            ]),
            ("GC and CPU", [
                ts("GC time share", "percentunit",
                   q(f"sum by (target) (rate(jvm_gc_collection_seconds_total{{{S}}}[{RI}]))",
                     "{{target}}"),
                   desc="Share of wall time spent in garbage collection."),
                ts("GC collections", "cps",
                   q(f"sum by (gc) (rate(jvm_gc_collections_total{{{S}}}[{RI}]))", "{{gc}}")),
                ts("Process CPU", "percentunit",
                   q(f"sum by (target) (rate(process_cpu_seconds_total{{{S}}}[{RI}]))", "{{target}}"),
                   desc="CPU of the whole JVM process (1.0 = one core)."),
            ]),
            ("Threads, classes, files", [
                ts("JVM threads", "none",
                   q(f"sum by (target) (jvm_threads_current{{{S}}})", "{{target}} live"),
                   q(f"sum by (target) (jvm_threads_daemon{{{S}}})", "{{target}} daemon")),
                ts("Classes loaded", "none",
                   q(f"sum by (target) (jvm_classes_currently_loaded{{{S}}})", "{{target}}")),
                ts("Open file descriptors", "none",
                   q(f"sum by (target) (process_open_fds{{{S}}})", "{{target}} open"),
                   q(f"sum by (target) (process_max_fds{{{S}}})", "{{target}} max")),
                st("Uptime", "s", q(f"min(jvm_uptime_seconds{{{S}}})", "uptime")),
            ]),
        ],
    )


def self_metrics():
    """ksbridge itself: scrape success and duration per source and target."""
    I = 'instance=~"$instance"'
    return dashboard(
        "ksbridge-self",
        "ksbridge / Agent",
        "ksbridge itself: up, scrape success and duration per source and target, snapshot age.",
        [
            ("Scrapes", [
                st("Targets", "none", q(f"sum(ksbridge_targets{{{I}}})", "targets"),
                   desc="JVM sources ksbridge reads."),
                st("Agents up", "none", q(f"sum(up{{{I}}})", "up"),
                   desc="Prometheus's scrape of the ksbridge agents."),
                tb("Build", "none",
                   q(f"max by (instance, version) (ksbridge_build_info{{{I}}})", "", instant=True),
                   w=16),
                ts("Scrape success per source", "none",
                   q(f"min by (source, target) (ksbridge_scrape_success{{{I}}})",
                     "{{source}} {{target}}"),
                   desc="1 when the source was refreshed within the deadline of the scrape."),
                ts("Scrape duration per source", "s",
                   q(f"max by (source, target) (ksbridge_scrape_duration_seconds{{{I}}})",
                     "{{source}} {{target}}")),
                ts("Snapshot age", "s",
                   q(f"max by (source, target) (ksbridge_snapshot_age_seconds{{{I}}})",
                     "{{source}} {{target}}"),
                   desc="Age of the data served per source (the last good one after a missed read)."),
                ts("Scrape errors", "cps",
                   q(f"sum by (kind) (rate(ksbridge_scrape_errors_total{{{I}}}[{RI}]))", "{{kind}}"),
                   desc="Failed reads by kind: gone, timeout, connect, read."),
            ]),
        ],
    )


DASHBOARDS = {
    "ksbridge-overview.json": overview,
    "ksbridge-threads.json": threads,
    "ksbridge-topology.json": topology,
    "ksbridge-stores.json": stores,
    "ksbridge-clients.json": clients,
    "ksbridge-jvm.json": jvm,
    "ksbridge-self.json": self_metrics,
}


def render(build):
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def queries():
    """Every panel query: file, panel title, expression, instant or not."""
    out = []
    for name, build in DASHBOARDS.items():
        doc = json.loads(render(build))
        for p in doc.get("panels", []):
            for t in p.get("targets", []):
                out.append({"dashboard": name, "panel": p["title"], "expr": t["expr"],
                            "legend": t.get("legendFormat", ""), "unit":
                            p.get("fieldConfig", {}).get("defaults", {}).get("unit")})
    for name, r in rules():
        if "record" in r:
            out.append({"dashboard": name, "panel": r["record"], "expr": r["expr"],
                        "legend": "", "unit": None})
    return out


def main(argv):
    if "--queries" in argv:
        json.dump(queries(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    check = "--check" in argv
    stale = []
    os.makedirs(OUT, exist_ok=True)
    for name, build in DASHBOARDS.items():
        path = os.path.join(OUT, name)
        text = render(build)
        if check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("generate.py: out of date (run python3 deploy/grafana/generate.py): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
