package ksbridge.shim;

import java.util.Map;
import java.util.TreeMap;

/**
 * What one read of one target may cost (the Rust side's jmx::limits::Limits,
 * set per connection by Shim.limits) and what a read cut to stay within it,
 * by reason (the names of jmx::limits::reason). The embedded JVM's heap is
 * shared by every target: these keep one target from taking it all.
 */
final class Limits {
    final int beans;
    final int attributes;
    final int valueLength;
    final long bytes;
    /** CompositeData/TabularData/Map nesting flattened; deeper values are cut. */
    static final int DEPTH = 8;
    /**
     * Beans of one target whose read may still be running from an earlier,
     * abandoned read (a getter that blocks) before a read gives up at once:
     * each holds one thread until the target answers.
     */
    static final int STUCK = 4;

    static final Limits DEFAULT = new Limits(50_000, 1_000, 256 * 1024, 64L * 1024 * 1024);

    Limits(int beans, int attributes, int valueLength, long bytes) {
        this.beans = Math.max(1, beans);
        this.attributes = Math.max(1, attributes);
        this.valueLength = Math.max(16, valueLength);
        this.bytes = Math.max(1024, bytes);
    }

    /** Counts of what one read cut, by reason. */
    static final class Cuts {
        private final Map<String, Long> counts = new TreeMap<>();

        synchronized void add(String reason, long n) {
            if (n > 0) counts.merge(reason, n, Long::sum);
        }

        synchronized Map<String, Long> snapshot() {
            return new TreeMap<>(counts);
        }
    }
}
