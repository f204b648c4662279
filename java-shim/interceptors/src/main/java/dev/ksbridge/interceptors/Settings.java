package dev.ksbridge.interceptors;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The interceptors' settings, read from the client's own properties (keys starting with
 * {@code ksbridge.interceptor.}) in {@code configure}. A bad value never fails the client: the
 * default is kept and the problem is reported once through the logger.
 */
final class Settings {
  static final String PREFIX = "ksbridge.interceptor.";

  /** Register MBeans (default true). */
  final boolean jmx;
  /** Distinct topics tracked per client; records of further topics count as overflow. */
  final int maxTopics;
  /** Distinct partitions tracked per consumer (committed offsets); further ones count as overflow. */
  final int maxPartitions;
  /** Distinct (topic, exception class) failure beans per producer; further ones go to "other". */
  final int maxExceptionClasses;
  /** Send times kept per topic for records not yet acknowledged (bounds memory). */
  final int maxInFlight;
  /** Measure the send-to-acknowledgement latency of one send in N per topic (1 = every send). */
  final int latencyEvery;
  /** Log calls through slf4j (default false). */
  final boolean log;
  /** Log lines per second at most (per interceptor instance); further calls are counted only. */
  final int logPerSecond;
  /** Log one call in N (1 = every call). */
  final int logEvery;
  /** Log keys and values too (default false: never). */
  final boolean logPayload;
  /** Problems found while reading the settings. */
  final List<String> problems;

  static final Settings DEFAULT = parse(Collections.<String, Object>emptyMap());

  private Settings(Map<String, ?> configs, List<String> problems) {
    this.problems = problems;
    jmx = bool(configs, "jmx", true, problems);
    maxTopics = integer(configs, "max.topics", 200, 1, problems);
    maxPartitions = integer(configs, "max.partitions", 2000, 1, problems);
    maxExceptionClasses = integer(configs, "max.exception.classes", 20, 1, problems);
    maxInFlight = integer(configs, "max.in.flight", 65536, 16, problems);
    latencyEvery = integer(configs, "latency.sample.every", 4, 1, problems);
    log = bool(configs, "log", false, problems);
    logPerSecond = integer(configs, "log.max.per.second", 10, 1, problems);
    logEvery = integer(configs, "log.every", 1, 1, problems);
    logPayload = bool(configs, "log.payload", false, problems);
  }

  static Settings parse(Map<String, ?> configs) {
    return new Settings(configs, new ArrayList<String>());
  }

  private static Object raw(Map<String, ?> configs, String key) {
    Object v = configs.get(PREFIX + key);
    if (v instanceof String) {
      String s = ((String) v).trim();
      return s.isEmpty() ? null : s;
    }
    return v;
  }

  private static boolean bool(Map<String, ?> configs, String key, boolean def, List<String> problems) {
    Object v = raw(configs, key);
    if (v == null) return def;
    if (v instanceof Boolean) return (Boolean) v;
    String s = v.toString().trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("true")) return true;
    if (s.equals("false")) return false;
    problems.add(PREFIX + key + "=" + v + " is not true or false; using " + def);
    return def;
  }

  private static int integer(
      Map<String, ?> configs, String key, int def, int min, List<String> problems) {
    Object v = raw(configs, key);
    if (v == null) return def;
    try {
      long n = v instanceof Number ? ((Number) v).longValue() : Long.parseLong(v.toString().trim());
      if (n < min || n > Integer.MAX_VALUE) {
        problems.add(PREFIX + key + "=" + v + " is out of range (" + min + ".." + Integer.MAX_VALUE
            + "); using " + def);
        return def;
      }
      return (int) n;
    } catch (NumberFormatException e) {
      problems.add(PREFIX + key + "=" + v + " is not a number; using " + def);
      return def;
    }
  }
}
