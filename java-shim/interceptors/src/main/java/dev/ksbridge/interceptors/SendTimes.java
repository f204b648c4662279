package dev.ksbridge.interceptors;

/**
 * Send times ({@code System.nanoTime()}) of one topic's sampled records not yet acknowledged,
 * oldest first, each with its send sequence number: a growable ring bounded by
 * {@code max.in.flight}. The interceptor never sees the record again at acknowledgement time
 * (only its {@code RecordMetadata}), and it must not touch the record (no header), so the n-th
 * acknowledgement of a topic is paired with the n-th send of that topic. The count and the sum
 * of the latencies are exact whatever the pairing (the sum of differences equals the
 * difference of the sums); single buckets are exact while acknowledgements come back in send
 * order or at one instant, as they do for one producer request, and approximate when a later
 * send of another partition is acknowledged earlier.
 *
 * <p>Not thread-safe: the owner calls it under the lock of its topic's counters.
 */
final class SendTimes {
  static final long NONE = Long.MIN_VALUE;

  private final int max;
  /** Pairs (sequence, nanos), {@code size} of them from {@code head}. */
  private long[] ring = new long[2 * 32];
  private int head;
  private int size;

  SendTimes(int max) {
    this.max = max;
  }

  private int capacity() {
    return ring.length / 2;
  }

  /** Records send number {@code seq} at {@code nanos}; false when {@code max} are pending. */
  boolean push(long seq, long nanos) {
    if (size == capacity()) {
      if (size >= max) return false;
      long[] bigger = new long[2 * Math.min(max, capacity() * 2)];
      for (int i = 0; i < size; i++) {
        int from = (head + i) % capacity();
        bigger[2 * i] = ring[2 * from];
        bigger[2 * i + 1] = ring[2 * from + 1];
      }
      ring = bigger;
      head = 0;
    }
    int at = (head + size) % capacity();
    ring[2 * at] = seq;
    ring[2 * at + 1] = nanos;
    size++;
    return true;
  }

  /**
   * The send time of send number {@code seq}, or {@link #NONE} when it was not recorded;
   * older entries (sends whose acknowledgement never came through this topic) are dropped.
   */
  long take(long seq) {
    while (size > 0) {
      long s = ring[2 * head];
      if (s > seq) return NONE;
      long nanos = ring[2 * head + 1];
      head = (head + 1) % capacity();
      size--;
      if (s == seq) return nanos;
    }
    return NONE;
  }

  int size() {
    return size;
  }
}
