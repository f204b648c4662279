//! Hands a connection its read limits (`jmx::limits::Limits`) once, so the
//! shim cuts a hostile target's read before the embedded JVM encodes it.
//! Input: a connection and limits; output: `()` or a `JvmError`.

use std::time::Duration;

use jni::objects::JValue;

use super::{call_static, ConnectionId, Jvm, JvmError};
use crate::jmx::limits::Limits;

fn int(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Jvm {
    /// Sets what one read of `conn` may cost (the shim's `Limits`).
    pub async fn set_limits(&self, conn: ConnectionId, limits: Limits) -> Result<(), JvmError> {
        self.call(
            Duration::from_secs(5),
            "limits",
            format!("connection {}", conn.0),
            move |env, class| {
                call_static(
                    env,
                    class,
                    "limits",
                    "(JIIIJ)V",
                    &[
                        JValue::Long(conn.0 as i64),
                        JValue::Int(int(limits.beans)),
                        JValue::Int(int(limits.attributes)),
                        JValue::Int(int(limits.value_length)),
                        JValue::Long(i64::try_from(limits.bytes).unwrap_or(i64::MAX)),
                    ],
                    "limits",
                )?;
                Ok(())
            },
        )
        .await
    }
}
