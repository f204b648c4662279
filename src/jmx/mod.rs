//! Pure JMX data: ObjectName parsing and quoting, typed values, immutable
//! snapshots, the decoder of the shim's flat read buffer, and the limits on
//! what one read may cost. No I/O besides loading capture files.

pub mod limits;
pub mod objectname;
pub mod snapshot;
pub mod value;
pub mod wire;

pub use objectname::{ObjectName, ObjectNameError};
pub use snapshot::{Attribute, Bean, Snapshot, SnapshotError};
pub use value::Value;
