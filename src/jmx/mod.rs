//! Pure JMX data: ObjectName parsing and quoting, typed values, immutable
//! snapshots, and the decoder of the shim's flat read buffer. No I/O besides
//! loading capture files.

pub mod objectname;
pub mod snapshot;
pub mod value;
pub mod wire;

pub use objectname::{ObjectName, ObjectNameError};
pub use snapshot::{Attribute, Bean, Snapshot, SnapshotError};
pub use value::Value;
