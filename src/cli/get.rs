//! `ksbridge get <TARGET> <OBJECTNAME> [ATTR...]`: one bean's attributes, for scripts.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{Map, Value as Json};

use crate::jmx::ObjectName;

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The bean's ObjectName (key order does not matter).
    pub object_name: String,

    /// Attributes to print (default: all). With one attribute, only its value is printed.
    pub attributes: Vec<String>,

    /// Print {attr: {"type", "value"}} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let wanted = ObjectName::parse(&args.object_name)?;
    let result = match args.target.read_once(vec![args.object_name.clone()])? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let canonical = wanted.canonical();
    let Some(bean) = result
        .snapshot
        .beans
        .iter()
        .find(|b| b.name.canonical() == canonical)
    else {
        let why = result
            .problems
            .first()
            .map(|p| format!(": {}", p.error))
            .unwrap_or_default();
        eprintln!("ksbridge: no MBean {}{why}", args.object_name);
        return Ok(ExitCode::from(super::EXIT_NOT_FOUND));
    };
    let mut selected = Vec::new();
    if args.attributes.is_empty() {
        selected.extend(bean.attributes.iter());
    } else {
        for name in &args.attributes {
            match bean.attributes.iter().find(|a| &a.name == name) {
                Some(a) => selected.push(a),
                None => {
                    eprintln!("ksbridge: {} has no attribute {name}", bean.name);
                    return Ok(ExitCode::from(super::EXIT_NOT_FOUND));
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut m = Map::new();
        for a in &selected {
            m.insert(a.name.clone(), a.value.to_json());
        }
        serde_json::to_writer_pretty(&mut out, &Json::Object(m))?;
        writeln!(out)?;
    } else if args.attributes.len() == 1 {
        writeln!(out, "{}", selected[0].value.display())?;
    } else {
        for a in &selected {
            writeln!(out, "{} = {}", a.name, a.value.display())?;
        }
    }
    let unreadable = selected
        .iter()
        .any(|a| matches!(a.value, crate::jmx::Value::Unreadable { .. }));
    Ok(if unreadable {
        ExitCode::from(super::EXIT_READ_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
