package dev.ksbridge.interceptors;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * A read-only MBean over values owned by an interceptor. Its attributes are declared when it
 * is built (the MBeanInfo never changes, so readers may cache it); one {@link Reader} fills all
 * values in declaration order, under the owner's lock where it has one, so a bulk
 * {@code getAttributes} is one consistent snapshot.
 */
final class StatsBean implements DynamicMBean {
  /** Fills {@code out} with every attribute's value, in declaration order. */
  interface Reader {
    void read(Object[] out);
  }

  private final String[] names;
  private final Reader reader;
  private final Map<String, Integer> index = new HashMap<>();
  private final MBeanInfo info;

  private StatsBean(String description, List<String> names, List<String> types,
      List<String> helps, Reader reader) {
    this.names = names.toArray(new String[0]);
    this.reader = reader;
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
    private final List<String> names = new ArrayList<>();
    private final List<String> types = new ArrayList<>();
    private final List<String> helps = new ArrayList<>();

    private Builder(String description) {
      this.description = description;
    }

    /** A {@code Long} attribute (a counter or a gauge). */
    Builder number(String name, String help) {
      return add(name, "java.lang.Long", help);
    }

    /** A histogram's attributes: cumulative buckets, count (Long), sum in seconds (Double). */
    Builder histogram(String prefix, Histogram h, String help) {
      String[] attributeNames = h.attributeNames(prefix);
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

    StatsBean build(Reader reader) {
      return new StatsBean(description, names, types, helps, reader);
    }
  }

  private Object[] snapshot() {
    Object[] out = new Object[names.length];
    reader.read(out);
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
