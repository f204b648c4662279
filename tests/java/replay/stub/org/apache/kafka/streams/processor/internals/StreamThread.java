package org.apache.kafka.streams.processor.internals;

/** Reader-side stub (the constants ksbridge's own stub knows, no FUTURE_STATE) of Kafka's class name, holding only the State enum that JMX exposes. */
public class StreamThread {
    private StreamThread() {
    }

    /** Constants as in Kafka. */
    public enum State {
        CREATED,
        STARTING,
        PARTITIONS_REVOKED,
        PARTITIONS_ASSIGNED,
        RUNNING,
        PENDING_SHUTDOWN,
        DEAD
    }
}
