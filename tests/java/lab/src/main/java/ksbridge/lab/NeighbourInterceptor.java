package ksbridge.lab;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * A badly behaved producer interceptor to sit beside others in {@code interceptor.classes}:
 * it returns a new record with a header added in {@code onSend} and throws from
 * {@code onAcknowledgement} (Kafka logs and swallows that). Tests check that interceptors
 * after it still see every call.
 */
public final class NeighbourInterceptor implements ProducerInterceptor<Object, Object> {
  @Override
  public void configure(Map<String, ?> configs) {}

  @Override
  public ProducerRecord<Object, Object> onSend(ProducerRecord<Object, Object> r) {
    ProducerRecord<Object, Object> copy =
        new ProducerRecord<>(r.topic(), r.partition(), r.timestamp(), r.key(), r.value(), r.headers());
    copy.headers().add("ksb-neighbour", "1".getBytes(StandardCharsets.UTF_8));
    return copy;
  }

  @Override
  public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
    throw new IllegalStateException("ksbridge lab: neighbour interceptor throws on purpose");
  }

  @Override
  public void close() {}
}
