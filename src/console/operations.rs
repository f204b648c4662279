//! JConsole's Operations tab and `jcmd`: bean operations with their
//! signatures, invoking one, and the DiagnosticCommand MBean's commands.
//! Input: a [`Session`]; output: [`BeanOps`], [`Invoked`], [`Dcmd`] lists and text.

use serde::{Deserialize, Serialize};

use super::{ConsoleError, Session};
use crate::jvm::ConsoleOp;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BeanOps {
    pub name: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub return_type: String,
    pub impact: String,
    #[serde(default)]
    pub description: Option<String>,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

impl Operation {
    /// `long add(int a, java.lang.String b)`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{} {}", p.ty, p.name))
            .collect();
        format!("{} {}({})", self.return_type, self.name, params.join(", "))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoked {
    pub operation: String,
    pub return_type: String,
    pub result_class: Option<String>,
    pub result: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Dcmd {
    /// The jcmd name, e.g. `VM.flags`.
    pub name: String,
    /// The MBean operation behind it, e.g. `vmFlags`.
    pub operation: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct DcmdOutput {
    output: String,
}

impl Session {
    /// The operations of every bean matching `pattern`.
    pub async fn operations(&self, pattern: &str) -> Result<Vec<BeanOps>, ConsoleError> {
        self.call(ConsoleOp::Operations, vec![pattern.to_string()])
            .await
    }

    /// Invokes `operation` (a name, or `name(type,...)` when overloaded) with
    /// arguments converted by the declared signature.
    pub async fn invoke(
        &self,
        object_name: &str,
        operation: &str,
        args: &[String],
    ) -> Result<Invoked, ConsoleError> {
        let mut all = vec![object_name.to_string(), operation.to_string()];
        all.extend(args.iter().cloned());
        self.call(ConsoleOp::Invoke, all).await
    }

    /// Every diagnostic command the target offers.
    pub async fn dcmds(&self) -> Result<Vec<Dcmd>, ConsoleError> {
        self.call(ConsoleOp::Dcmds, Vec::new()).await
    }

    /// Runs a diagnostic command (`VM.flags`, `GC.class_histogram`, `JFR.start`...).
    pub async fn dcmd(&self, command: &str, args: &[String]) -> Result<String, ConsoleError> {
        let mut all = vec![command.to_string()];
        all.extend(args.iter().cloned());
        let out: DcmdOutput = self.call(ConsoleOp::Dcmd, all).await?;
        Ok(out.output)
    }
}

/// A result value as text: strings bare, everything else as JSON.
pub fn result_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "null".into(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
