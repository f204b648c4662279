package org.apache.kafka.streams;

/** Replay copy of Kafka's class name, holding only the State enum that JMX exposes. */
public class KafkaStreams {
    private KafkaStreams() {
    }

    /** Constants as in Kafka 2.8+; values are read by name, never by ordinal. */
    public enum State {
        CREATED,
        REBALANCING,
        RUNNING,
        PENDING_SHUTDOWN,
        NOT_RUNNING,
        PENDING_ERROR,
        ERROR,
        /** Not a Kafka constant: a state a future Kafka might add, unknown to ksbridge's stub enum. */
        FUTURE_STATE
    }
}
