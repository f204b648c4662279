//! Integration tests of the replay JVM (tests/java/replay) and its Rust helper:
//! input is the default capture and the generated 2,000-bean shape, output is
//! what the reference Probe reads by pid and over remote JMX.
mod common;

use common::replay::{probe, ProbeClasspath, ProbeTarget, ReplayJvm, ReplayOptions};

#[test]
fn smoke_default_capture_by_pid() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    assert_eq!(jvm.beans_at_start(), 7);
    assert_eq!(jvm.count(), 7);
    let run = probe(
        &ProbeTarget::Pid(jvm.pid()),
        ProbeClasspath::ReplayEnums,
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    eprintln!("{}", run.json);
}
