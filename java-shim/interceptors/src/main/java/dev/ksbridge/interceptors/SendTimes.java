package dev.ksbridge.interceptors;

/**
 * Send times ({@code System.nanoTime()}) of one topic's records not yet acknowledged, oldest
 * first: a growable ring of longs bounded by {@code max.in.flight}. The interceptor never sees
 * the record again at acknowledgement time (only its {@code RecordMetadata}), and it must not
 * touch the record (no header), so the n-th acknowledgement of a topic is paired with the n-th
 * send of that topic. The count and the sum of the latencies are exact whatever the pairing
 * (the sum of differences equals the difference of the sums); single buckets are exact while
 * acknowledgements come back in send order or at one instant, as they do for one producer
 * request, and approximate when a later send of another partition is acknowledged earlier.
 *
 * <p>Each call holds this object's monitor for a few array operations (no I/O, no wait).
 */
final class SendTimes {
  static final long NONE = Long.MIN_VALUE;

  private final int max;
  private long[] ring = new long[64];
  private int head;
  private int size;

  SendTimes(int max) {
    this.max = max;
  }

  /** Records a send; false when {@code max} sends are already pending (not recorded). */
  synchronized boolean push(long nanos) {
    if (size == ring.length) {
      if (size >= max) return false;
      long[] bigger = new long[Math.min(max, ring.length * 2)];
      for (int i = 0; i < size; i++) bigger[i] = ring[(head + i) % ring.length];
      ring = bigger;
      head = 0;
    }
    ring[(head + size) % ring.length] = nanos;
    size++;
    return true;
  }

  /** The oldest pending send time, or {@link #NONE}. */
  synchronized long pop() {
    if (size == 0) return NONE;
    long v = ring[head];
    head = (head + 1) % ring.length;
    size--;
    return v;
  }

  synchronized int size() {
    return size;
  }
}
