//! `ksbridge topology <TARGET|APPLICATION_ID> [--format text|mermaid|dot|json]`:
//! the app's `Topology.describe()` read from its `topology-description` metric
//! and drawn as a tree, a Mermaid or Graphviz diagram, or JSON.

use std::io::{Read as _, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::streams::client;
use crate::topology::render::{render, Format};
use crate::topology::{self};

use super::app_target::{AppTargetArgs, Read};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub app: AppTargetArgs,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Read the describe() text from this file (`-` for stdin) instead of a
    /// JVM; TARGET is then the application id used for internal topic names.
    #[arg(long)]
    pub file: Option<String>,
}

/// One distinct topology text of an application, and where it was seen.
struct Found {
    application_id: String,
    text: String,
    seen_in: Vec<String>,
}

fn collect(reads: &[Read], wanted: Option<&str>) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for r in reads {
        let clients = crate::streams::apps(&r.snapshot);
        for b in r.snapshot.of_type("kafka.streams", "stream-metrics") {
            let Some(text) = b.text("topology-description") else {
                continue;
            };
            let client_id = b.name.get("client-id").unwrap_or_default();
            let app = clients
                .iter()
                .find(|c| c.client_id == client_id)
                .map(|c| c.application_id.clone())
                .unwrap_or_else(|| client::application_from_client_id(client_id));
            if wanted.is_some_and(|w| w != app) {
                continue;
            }
            let seen = format!("{} ({client_id})", r.label);
            match out
                .iter_mut()
                .find(|f| f.application_id == app && f.text == text)
            {
                Some(f) => f.seen_in.push(seen),
                None => out.push(Found {
                    application_id: app,
                    text: text.to_string(),
                    seen_in: vec![seen],
                }),
            }
        }
    }
    out
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let found = if let Some(file) = &args.file {
        let mut text = String::new();
        if file == "-" {
            std::io::stdin().read_to_string(&mut text)?;
        } else {
            text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        }
        vec![Found {
            application_id: args.app.target.clone(),
            text,
            seen_in: vec![file.clone()],
        }]
    } else {
        let reads = match args
            .app
            .read_all(&[crate::discovery::apps::CLIENT_PATTERN])?
        {
            Ok(r) => r,
            Err(code) => return Ok(code),
        };
        let wanted = args.app.application_id();
        let found = collect(&reads, wanted.as_deref());
        if found.is_empty() {
            eprintln!(
                "ksbridge: no topology-description metric in {} (is it a Kafka Streams 2.4+ app with JMX reporting on?)",
                reads
                    .iter()
                    .map(|r| r.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(ExitCode::from(super::EXIT_NOT_FOUND));
        }
        found
    };
    let mut out = std::io::stdout().lock();
    let mut unparsed = 0;
    for (i, f) in found.iter().enumerate() {
        let d = topology::parse(&f.text);
        unparsed += d.unparsed.len();
        if found.len() > 1 && matches!(args.format, Format::Text) {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(
                out,
                "== application {} (seen in {})",
                f.application_id,
                f.seen_in.join(", ")
            )?;
        }
        write!(out, "{}", render(&d, &f.application_id, args.format))?;
    }
    if unparsed > 0 {
        eprintln!("ksbridge: {unparsed} line(s) of the description were not understood (listed in the output)");
    }
    Ok(ExitCode::SUCCESS)
}
