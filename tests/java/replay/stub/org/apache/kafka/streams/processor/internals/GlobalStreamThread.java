package org.apache.kafka.streams.processor.internals;

/** Reader-side stub (the constants ksbridge's own stub knows, no FUTURE_STATE) of Kafka's class name, holding only the State enum that JMX exposes. */
public class GlobalStreamThread {
    private GlobalStreamThread() {
    }

    /** Constants as in Kafka. */
    public enum State {
        CREATED,
        RUNNING,
        PENDING_SHUTDOWN,
        DEAD
    }
}
