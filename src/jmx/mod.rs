//! Pure JMX data: ObjectName parsing and quoting, typed values, immutable snapshots.
