//! The console against the lab's real Kafka Streams app (real broker, real
//! ZMart app): stream threads labelled in `threads`, the per-thread CPU
//! metric in `serve`, and `ksbridge top` driven through tmux (its row, the
//! drill-in, the app killed and restarted, a sane terminal after q and Ctrl-C).

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::lab::{wait_until, AppOptions, Broker, KafkaLine, StreamsApp};
use common::tmux::Tmux;

const T: Duration = Duration::from_secs(120);

fn ksbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .output()
        .expect("run ksbridge")
}

#[test]
fn threads_and_thread_cpu_metric_name_the_real_apps_stream_threads() {
    let broker = Broker::shared(KafkaLine::V4);
    let app = StreamsApp::start(broker, AppOptions::default());
    app.wait_for_state("RUNNING", T);
    let pid = app.pid().to_string();
    let id = app.app_id().to_string();

    let dump: serde_json::Value = wait_until("stream threads with tasks", T, || {
        let o = ksbridge(&["threads", &pid, "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        let labelled: Vec<&serde_json::Value> = j["threads"]
            .as_array()?
            .iter()
            .filter(|t| t["streams"]["application_id"] == id.as_str())
            .collect();
        let with_tasks = labelled
            .iter()
            .filter(|t| t["name"].as_str().unwrap().contains("-StreamThread-"))
            .filter(|t| !t["streams"]["tasks"].as_array().unwrap().is_empty())
            .count();
        (with_tasks == 2).then_some(j)
    });
    let threads = dump["threads"].as_array().unwrap();
    assert!(threads
        .iter()
        .any(|t| t["name"] == "main" && t["streams"].is_null()));

    let o = ksbridge(&["threads", &pid, "--top", "20", "--interval", "1s"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("-StreamThread-1") && l.contains(&format!("app={id}"))),
        "{text}"
    );

    // serve: one kafka_streams_thread_cpu_seconds_total per stream thread, growing.
    let port = common::replay::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(["serve", "--web.listen-address", &listen, "--target", &pid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut serve);
    let cpu = |text: &str, thread: &str| -> Option<f64> {
        text.lines()
            .find(|l| {
                l.starts_with("kafka_streams_thread_cpu_seconds_total{")
                    && l.contains(&format!("application_id=\"{id}\""))
                    && l.contains(&format!("thread=\"{thread}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let fetch = || {
        Command::new("curl")
            .args(["-s", &format!("http://{listen}/metrics")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let first = wait_until("the thread CPU metric", T, || {
        cpu(&fetch(), "StreamThread-1")
    });
    let text = fetch();
    assert!(
        cpu(&text, "StreamThread-2").is_some(),
        "both stream threads"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("kafka_streams_thread_cpu_seconds_total{")
                && l.contains("thread=\"main\"")),
        "only Kafka Streams threads"
    );
    assert!(
        text.contains("# TYPE kafka_streams_thread_cpu_seconds_total counter"),
        "{text}"
    );
    wait_until("thread CPU to grow", T, || {
        cpu(&fetch(), "StreamThread-1").filter(|v| *v > first)
    });
}

#[test]
fn top_shows_the_app_drills_in_survives_a_restart_and_restores_the_terminal() {
    let broker = Broker::shared(KafkaLine::V4);
    let mut app = StreamsApp::start(broker, AppOptions::default());
    app.wait_for_state("RUNNING", T);
    let id = app.app_id().to_string();
    let pid1 = app.pid();
    let tmux = Tmux::start(150, 40);
    let bin = env!("CARGO_BIN_EXE_ksbridge");
    // Only JVMs whose command line names this test's app are attached to.
    tmux.keys(&[
        &format!(
            "{bin} top --target.match '{id}' --interval 1s --timeout 30s --bootstrap-server {}; echo TOP-EXIT=$?; stty -a | grep -o -E -- '(^| )-?(icanon|echo)( |;|$)'",
            broker.bootstrap()
        ),
        "Enter",
    ]);
    let s = tmux.wait_for("the app's row", |s| {
        s.lines()
            .any(|l| l.contains(&id) && l.contains("RUNNING") && l.contains(&format!("pid:{pid1}")))
    });
    assert!(s.contains("ksbridge top - 1 apps"), "{s}");
    let s = tmux.wait_for("rates after two refreshes", |s| {
        s.lines().any(|l| l.contains(&id) && l.contains('%'))
    });
    println!("top:\n{s}");
    // Two of two threads alive; the group's input lag with a trend once the
    // lag monitor has two samples.
    // The row's cells from THREADS on (FOR may be two words: `1m 5s`).
    let row = |s: &str| -> Option<Vec<String>> {
        let l = s.lines().find(|l| l.contains(&id))?;
        let cells: Vec<String> = l
            .trim_matches(|c: char| c == '│' || c.is_whitespace())
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let at = cells.iter().position(|c| {
            c.split_once('/').is_some_and(|(a, b)| {
                a.chars().all(|x| x.is_ascii_digit()) && b.chars().all(|x| x.is_ascii_digit())
            })
        })?;
        Some(cells[at..].to_vec())
    };
    let s = tmux.wait_for("input lag with its trend", |s| {
        row(s).is_some_and(|r| {
            r[0] == "2/2"
                && r.get(3)
                    .is_some_and(|l| l.parse::<f64>().is_ok() || l.ends_with('k'))
                && matches!(
                    r.get(4).map(String::as_str),
                    Some("flat" | "rising" | "falling")
                )
        })
    });
    assert!(s.contains("LAG") && s.contains("TREND"), "{s}");
    println!("top with --bootstrap-server:\n{s}");

    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("the drill-in", |s| {
        s.contains("threads and tasks")
            && s.contains("StreamThread-1")
            && s.contains("state stores")
            && s.contains(&format!("input lag (group {id})"))
            && s.contains(&format!("{id}-purchases"))
    });
    println!("drill-in:\n{s}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("back to the list", |s| s.contains("Kafka Streams apps"));

    // One thread removed (no failure): one of two configured threads alive.
    let removed = app.remove_thread();
    assert!(removed.contains("StreamThread-"), "{removed}");
    tmux.wait_for("one of two threads alive", |s| {
        row(s).is_some_and(|r| r[0] == "1/2")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the warning in the drill-in", |s| {
        s.contains("1 of 2 stream threads alive (configured: most stream threads seen alive)")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("back to the list", |s| s.contains("Kafka Streams apps"));

    app.kill();
    tmux.wait_for("the row marked gone", |s| {
        s.lines().any(|l| l.contains(&id) && l.contains("GONE"))
    });
    app.restart(false);
    let pid2 = app.pid();
    assert_ne!(pid1, pid2);
    let s = tmux.wait_for("the restarted app's row", |s| {
        s.lines()
            .any(|l| l.contains(&id) && l.contains("RUNNING") && l.contains(&format!("pid:{pid2}")))
    });
    println!("after the restart:\n{s}");

    // Filter and sort keys keep it running; q leaves a sane terminal.
    tmux.keys(&["s"]);
    tmux.keys(&["/", "nomatch", "Enter"]);
    tmux.wait_for("the filter applied", |s| {
        s.contains("ksbridge top - 0 apps")
    });
    tmux.keys(&["q"]);
    let s = tmux.wait_for("top to exit", |s| {
        s.lines().any(|l| l.starts_with("TOP-EXIT="))
    });
    assert!(s.lines().any(|l| l.trim() == "TOP-EXIT=0"), "{s}");
    let stty = tmux.wait_for("stty output", |s| {
        s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    let modes: Vec<&str> = stty
        .lines()
        .map(|l| l.trim().trim_end_matches(';'))
        .filter(|l| l.ends_with("icanon") || l.ends_with("echo"))
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "raw mode left on:\n{stty}");

    // Ctrl-C is an exit path too.
    tmux.keys(&["clear", "Enter"]);
    tmux.keys(&[
        &format!("{bin} top --target {pid2} --interval 1s --timeout 30s; echo TOP2-EXIT=$?; stty -a | grep -o -E -- '(^| )-?(icanon|echo)( |;|$)'"),
        "Enter",
    ]);
    tmux.wait_for("the row again", |s| {
        s.lines().any(|l| l.contains(&id) && l.contains("RUNNING"))
    });
    tmux.keys(&["C-c"]);
    let s = tmux.wait_for("top to exit on Ctrl-C", |s| {
        s.lines().any(|l| l.starts_with("TOP2-EXIT="))
    });
    assert!(s.lines().any(|l| l.trim() == "TOP2-EXIT=0"), "{s}");
    let stty = tmux.wait_for("stty output", |s| {
        s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    let modes: Vec<&str> = stty
        .lines()
        .map(|l| l.trim().trim_end_matches(';'))
        .filter(|l| l.ends_with("icanon") || l.ends_with("echo"))
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "raw mode left on:\n{stty}");
}
