package dev.ksbridge.interceptors;

import java.math.BigDecimal;

/**
 * A histogram with fixed bucket bounds (in seconds), recorded in integer units (nanoseconds
 * or milliseconds) without allocation. Bounds are inclusive upper bounds, as Prometheus's
 * {@code le}. Not thread-safe: its owner guards it with the lock of the counters it sits
 * beside (one lock per call instead of one atomic per field).
 */
final class Histogram {
  /** Send-to-acknowledgement latency bounds, seconds. */
  static final double[] LATENCY_SECONDS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
  };
  /** Consumed record age bounds, seconds (up to a day: replays of old data are common). */
  static final double[] AGE_SECONDS = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400
  };

  final double[] bounds;
  private final long[] unitBounds;
  private final double unitsPerSecond;
  /** One cell per bound plus the overflow (+Inf) cell; non-cumulative. */
  private final long[] cells;
  private long sumUnits;

  Histogram(double[] bounds, double unitsPerSecond) {
    this.bounds = bounds.clone();
    this.unitsPerSecond = unitsPerSecond;
    unitBounds = new long[bounds.length];
    for (int i = 0; i < bounds.length; i++) unitBounds[i] = Math.round(bounds[i] * unitsPerSecond);
    cells = new long[bounds.length + 1];
  }

  static Histogram nanos(double[] bounds) {
    return new Histogram(bounds, 1e9);
  }

  static Histogram millis(double[] bounds) {
    return new Histogram(bounds, 1e3);
  }

  /** The cell index of a value in units (negative values count as 0). */
  int cell(long units) {
    long[] b = unitBounds;
    for (int i = 0; i < b.length; i++) {
      if (units <= b[i]) return i;
    }
    return b.length;
  }

  int cells() {
    return cells.length;
  }

  void observe(long units) {
    long u = Math.max(0, units);
    cells[cell(u)]++;
    sumUnits += u;
  }

  /** Adds a batch counted by the caller: {@code counts[i]} values in cell i, summing {@code sum} units. */
  void addBatch(long[] counts, long sum) {
    for (int i = 0; i < counts.length; i++) cells[i] += counts[i];
    sumUnits += sum;
  }

  /**
   * Cumulative bucket counts (one per bound, then the count) and the sum in seconds, written
   * to {@code out} from {@code offset}: buckets never decrease, the last equals the count.
   */
  void snapshot(Object[] out, int offset) {
    long cumulative = 0;
    for (int i = 0; i < cells.length; i++) {
      cumulative += cells[i];
      out[offset + i] = cumulative;
    }
    out[offset + cells.length] = sumUnits / unitsPerSecond;
  }

  /** Attributes {@link #snapshot} writes. */
  int width() {
    return cells.length + 1;
  }

  /** Attribute names: {@code <prefix>-bucket-le-<bound>}..., {@code <prefix>-count}, {@code <prefix>-sum}. */
  String[] attributeNames(String prefix) {
    String[] names = new String[bounds.length + 2];
    for (int i = 0; i < bounds.length; i++) {
      names[i] = prefix + "-bucket-le-" + format(bounds[i]);
    }
    names[bounds.length] = prefix + "-count";
    names[bounds.length + 1] = prefix + "-sum";
    return names;
  }

  static String format(double bound) {
    return BigDecimal.valueOf(bound).stripTrailingZeros().toPlainString();
  }
}
