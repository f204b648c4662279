package org.apache.kafka.streams;

/** Reader-side stub (the constants ksbridge's own stub knows, no FUTURE_STATE) of Kafka's class name, holding only the State enum that JMX exposes. */
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
        ERROR
    }
}
