package ksbridge.lab;

import java.io.InputStream;
import java.util.Properties;

/** Small helpers shared by the lab's Java programs (compiled against Kafka 3.9 and 4.x). */
final class Lab {
  private Lab() {}

  /** The version of the Kafka clients on the classpath, e.g. "4.4.0" (from kafka-clients' own resource). */
  static String kafkaVersion() {
    try (InputStream in = Lab.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      Properties p = new Properties();
      if (in != null) p.load(in);
      return p.getProperty("version", "unknown");
    } catch (Exception e) {
      return "unknown";
    }
  }

  /** The major version of the Kafka clients on the classpath (3 or 4). */
  static int kafkaMajor() {
    String v = kafkaVersion();
    try {
      return Integer.parseInt(v.substring(0, v.indexOf('.')));
    } catch (RuntimeException e) {
      return 4;
    }
  }
}
