package org.apache.kafka.streams.processor.internals;

/** Stand-in carrying only the nested thread-state enum (see KafkaStreams). */
public final class StreamThread {
    private StreamThread() {}

    public enum State {
        CREATED, STARTING, PARTITIONS_REVOKED, PARTITIONS_ASSIGNED, RUNNING, PENDING_SHUTDOWN, DEAD
    }
}
