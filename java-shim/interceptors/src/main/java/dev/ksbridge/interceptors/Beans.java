package dev.ksbridge.interceptors;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import javax.management.InstanceAlreadyExistsException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;

/**
 * The MBeans one interceptor instance registered under {@code ksbridge.interceptors}, all
 * unregistered by {@link #close()}. A name already taken (two clients with one client id) gets
 * an {@code instance=N} key instead of failing.
 */
final class Beans {
  static final String DOMAIN = "ksbridge.interceptors";
  private static final int MAX_INSTANCES = 16;

  private final MBeanServer server;
  private final Logger logger;
  private final List<ObjectName> registered = new ArrayList<>();
  private boolean closed;

  Beans(boolean enabled, Logger logger) {
    this.server = enabled ? ManagementFactory.getPlatformMBeanServer() : null;
    this.logger = logger;
  }

  /** A key property value, quoted when JMX needs it (ObjectName.quote). */
  static String value(String v) {
    if (v == null || v.isEmpty()) return "\"\"";
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == ',' || c == '=' || c == ':' || c == '"' || c == '*' || c == '?' || c == '\n'
          || c == '\\') {
        return ObjectName.quote(v);
      }
    }
    return v;
  }

  /**
   * Registers {@code bean} as {@code ksbridge.interceptors:type=<type>,client-id=<id>[,k=v]...};
   * returns false when MBeans are off, the instance is closed or registration failed.
   */
  synchronized boolean register(String type, String clientId, String[] keyValues, StatsBean bean) {
    if (server == null || closed) return false;
    StringBuilder base = new StringBuilder(DOMAIN).append(":type=").append(type)
        .append(",client-id=").append(value(clientId));
    for (int i = 0; i + 1 < keyValues.length; i += 2) {
      base.append(',').append(keyValues[i]).append('=').append(value(keyValues[i + 1]));
    }
    for (int n = 1; n <= MAX_INSTANCES; n++) {
      String name = n == 1 ? base.toString() : base + ",instance=" + n;
      try {
        ObjectName on = new ObjectName(name);
        server.registerMBean(bean, on);
        registered.add(on);
        return true;
      } catch (InstanceAlreadyExistsException e) {
        // another client with the same client id: try the next instance number
      } catch (Exception e) {
        logger.warn("ksbridge interceptor: cannot register MBean {}: {}", name, e.toString());
        return false;
      }
    }
    logger.warn("ksbridge interceptor: MBean {} is taken {} times; not registered", base, MAX_INSTANCES);
    return false;
  }

  /** Unregisters every bean of this instance; later registrations are refused. */
  synchronized void close() {
    closed = true;
    if (server == null) return;
    for (ObjectName on : registered) {
      try {
        server.unregisterMBean(on);
      } catch (Exception e) {
        // already gone: nothing to undo
      }
    }
    registered.clear();
  }

  synchronized int size() {
    return registered.size();
  }
}
