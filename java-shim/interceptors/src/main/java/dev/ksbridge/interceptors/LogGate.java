package dev.ksbridge.interceptors;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * Decides, without blocking, whether a call is logged: logging enabled in the settings and in
 * the logger, one call in {@code log.every}, at most {@code log.max.per.second} lines per
 * second (a one-second window). Lines written and calls suppressed by the limit are counted.
 */
final class LogGate {
  private static final long WINDOW_NANOS = 1_000_000_000L;

  final Logger logger;
  private final boolean enabled;
  private final int perSecond;
  private final int every;
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong windowStart = new AtomicLong(System.nanoTime());
  private final AtomicInteger inWindow = new AtomicInteger();
  final LongAdder written = new LongAdder();
  final LongAdder suppressed = new LongAdder();

  LogGate(Logger logger, Settings s) {
    this.logger = logger;
    this.enabled = s.log;
    this.perSecond = s.logPerSecond;
    this.every = s.logEvery;
  }

  /** True when this call should write a line at INFO (or WARN when {@code warn}). */
  boolean allow(boolean warn) {
    if (!enabled) return false;
    if (!(warn ? logger.isWarnEnabled() : logger.isInfoEnabled())) return false;
    if (every > 1 && calls.incrementAndGet() % every != 0) return false;
    long now = System.nanoTime();
    long start = windowStart.get();
    if (now - start >= WINDOW_NANOS && windowStart.compareAndSet(start, now)) {
      inWindow.set(0);
    }
    if (inWindow.incrementAndGet() > perSecond) {
      suppressed.increment();
      return false;
    }
    written.increment();
    return true;
  }

  /** A key or value for a log line: shown only when asked for, and cut at 200 characters. */
  static String payload(Object o) {
    String s;
    if (o == null) {
      s = "null";
    } else if (o instanceof byte[]) {
      s = new String((byte[]) o, java.nio.charset.StandardCharsets.UTF_8);
    } else {
      s = String.valueOf(o);
    }
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
