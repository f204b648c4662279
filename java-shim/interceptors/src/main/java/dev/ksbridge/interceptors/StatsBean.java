package dev.ksbridge.interceptors;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanNotificationInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanConstructorInfo;

/**
 * A read-only MBean over counters, gauges and histograms owned by an interceptor. Its
 * attributes are fixed when it is built (the MBeanInfo never changes, so readers may cache
 * it); values are read at call time, all of them in one pass for {@code getAttributes}.
 */
final class StatsBean implements DynamicMBean {
  private interface Field {
    int width();

    void read(Object[] out, int offset);
  }

  private final List<Field> fields;
  private final String[] names;
  private final Map<String, Integer> index = new HashMap<>();
  private final MBeanInfo info;

  private StatsBean(String description, List<Field> fields, List<String> names, List<String> types,
      List<String> helps) {
    this.fields = fields;
    this.names = names.toArray(new String[0]);
    MBeanAttributeInfo[] attrs = new MBeanAttributeInfo[this.names.length];
    for (int i = 0; i < attrs.length; i++) {
      index.put(this.names[i], i);
      attrs[i] = new MBeanAttributeInfo(this.names[i], types.get(i), helps.get(i), true, false, false);
    }
    info = new MBeanInfo(StatsBean.class.getName(), description, attrs,
        new MBeanConstructorInfo[0], new MBeanOperationInfo[0], new MBeanNotificationInfo[0]);
  }

  static Builder builder(String description) {
    return new Builder(description);
  }

  static final class Builder {
    private final String description;
    private final List<Field> fields = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final List<String> types = new ArrayList<>();
    private final List<String> helps = new ArrayList<>();

    private Builder(String description) {
      this.description = description;
    }

    Builder counter(String name, final LongAdder adder, String help) {
      fields.add(new Field() {
        @Override public int width() { return 1; }
        @Override public void read(Object[] out, int offset) { out[offset] = adder.sum(); }
      });
      return add(name, "java.lang.Long", help);
    }

    Builder gauge(String name, final AtomicLong value, String help) {
      fields.add(new Field() {
        @Override public int width() { return 1; }
        @Override public void read(Object[] out, int offset) { out[offset] = value.get(); }
      });
      return add(name, "java.lang.Long", help);
    }

    Builder histogram(String prefix, final Histogram h, String help) {
      final String[] attributeNames = h.attributeNames(prefix);
      fields.add(new Field() {
        @Override public int width() { return attributeNames.length; }
        @Override public void read(Object[] out, int offset) { h.snapshot(out, offset); }
      });
      for (int i = 0; i < attributeNames.length; i++) {
        boolean sum = i == attributeNames.length - 1;
        add(attributeNames[i], sum ? "java.lang.Double" : "java.lang.Long",
            help + (sum ? " (sum, seconds)" : i == attributeNames.length - 2 ? " (count)"
                : " (cumulative bucket)"));
      }
      return this;
    }

    private Builder add(String name, String type, String help) {
      names.add(name);
      types.add(type);
      helps.add(help);
      return this;
    }

    StatsBean build() {
      return new StatsBean(description, fields, names, types, helps);
    }
  }

  private Object[] snapshot() {
    Object[] out = new Object[names.length];
    int offset = 0;
    for (Field f : fields) {
      f.read(out, offset);
      offset += f.width();
    }
    return out;
  }

  @Override
  public Object getAttribute(String attribute) throws AttributeNotFoundException {
    Integer i = index.get(attribute);
    if (i == null) throw new AttributeNotFoundException(attribute);
    return snapshot()[i];
  }

  @Override
  public AttributeList getAttributes(String[] attributes) {
    Object[] values = snapshot();
    AttributeList list = new AttributeList(attributes.length);
    for (String a : attributes) {
      Integer i = index.get(a);
      if (i != null) list.add(new Attribute(a, values[i]));
    }
    return list;
  }

  @Override
  public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
    throw new AttributeNotFoundException(attribute.getName() + " is read-only");
  }

  @Override
  public AttributeList setAttributes(AttributeList attributes) {
    return new AttributeList();
  }

  @Override
  public Object invoke(String actionName, Object[] params, String[] signature) {
    throw new UnsupportedOperationException("no operations");
  }

  @Override
  public MBeanInfo getMBeanInfo() {
    return info;
  }
}
