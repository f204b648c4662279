//! The `topology-description` parser and its renderers: any text parses
//! without a panic, every unplaced line is reported with a line number inside
//! the text, every renderer draws the result, and the derived topics and
//! dangling edges are computed. Seed corpus: the `describe()` texts of
//! `tests/fixtures/topology/` (Kafka 3.9 and 4.x, every shape).
#![no_main]

use ksbridge::topology::{self, render, render::Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let d = topology::parse(text);
    let lines = text.lines().count();
    let nonempty = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(d.unparsed.len() <= nonempty, "more unparsed lines than lines");
    for u in &d.unparsed {
        assert!(u.line >= 1 && u.line <= lines, "unparsed line {} of {lines}", u.line);
    }
    for f in [Format::Text, Format::Mermaid, Format::Dot, Format::Json] {
        let _ = render::render(&d, "app", f);
    }
    let _ = d.topics("app");
    let _ = d.dangling_edges();
});
