package org.apache.kafka.streams;

/**
 * Stand-in carrying only the nested enum, so that a {@code state} attribute read
 * over RMI deserializes by constant name without kafka-streams on the classpath.
 */
public final class KafkaStreams {
    private KafkaStreams() {}

    public enum State {
        CREATED, REBALANCING, RUNNING, PENDING_SHUTDOWN, NOT_RUNNING, PENDING_ERROR, ERROR
    }
}
