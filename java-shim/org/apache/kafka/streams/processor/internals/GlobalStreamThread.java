package org.apache.kafka.streams.processor.internals;

/** Stand-in carrying only the nested global-thread-state enum (see KafkaStreams). */
public final class GlobalStreamThread {
    private GlobalStreamThread() {}

    public enum State {
        CREATED, RUNNING, PENDING_SHUTDOWN, DEAD
    }
}
