//! Discovery without intrusion: `ksbridge serve` decides from /proc alone
//! which JVMs are Kafka Streams apps. The lab's Streams app on both Kafka
//! lines is found and read; a plain JVM and the lab's brokers (whose class
//! path holds the kafka-streams jar, as Kafka's own distribution does) get no
//! `Attach Listener` thread, no attach socket and no management-agent socket.
//! The attached app is the positive control: it shows all three.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::lab::{free_port, lab_dir, wait_until, AppOptions, Broker, KafkaLine, StreamsApp};

const WAIT: Duration = Duration::from_secs(180);

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn threads(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// TCP ports the process listens on (its socket fds matched against LISTEN rows).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            // st 0A = LISTEN; field 9 is the inode.
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                ports.extend(port);
            }
        }
    }
    ports.sort_unstable();
    ports
}

fn attach_socket(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}/root/tmp/.java_pid{pid}")).exists()
}

/// The traces an attach leaves: Attach Listener thread, attach socket.
fn attached(pid: u32) -> bool {
    threads(pid).iter().any(|t| t == "Attach Listener") || attach_socket(pid)
}

#[test]
fn only_streams_apps_are_attached() {
    // A plain JVM whose command line matches the filter below.
    let idle_dir = lab_dir().join("idle-jvm");
    std::fs::create_dir_all(&idle_dir).unwrap();
    let src = idle_dir.join("Idle.java");
    std::fs::write(
        &src,
        "public class Idle { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n",
    )
    .unwrap();
    let idle = Proc(
        Command::new(common::lab::java())
            .args(["-Xmx32m", "-XX:+UseSerialGC"])
            .arg(&src)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let brokers: Vec<Broker> = KafkaLine::all().into_iter().map(Broker::start).collect();
    let apps: Vec<StreamsApp> = brokers
        .iter()
        .map(|b| StreamsApp::start(b, AppOptions::default()))
        .collect();
    let bystanders: Vec<u32> = brokers
        .iter()
        .filter_map(|b| b.pid())
        .chain([idle.0.id()])
        .collect();
    let before: Vec<Vec<u16>> = bystanders.iter().map(|p| listening_ports(*p)).collect();

    // Every JVM this test started has the lab directory on its command line;
    // the filter keeps discovery to them (other JVMs on the host are not ours).
    let filter = regex::escape(&lab_dir().display().to_string());
    let port = free_port();
    let log = lab_dir().join("serve-discovery.log");
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_ksbridge"))
            .args([
                "--log.level",
                "ksbridge=debug",
                "serve",
                "--web.listen-address",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--target.match", &filter, "--discovery.interval", "1s"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    for app in &apps {
        let want = format!("application_id=\"{}\"", app.app_id());
        wait_until(
            &format!("discovery of {} (Kafka {})", app.app_id(), app.line()),
            WAIT,
            || {
                http_get(port, "/metrics").filter(|t| {
                    t.lines()
                        .any(|l| l.starts_with("kafka_streams_state{") && l.contains(&want))
                })
            },
        );
        // The positive control: an attached JVM shows what the checks look for.
        assert!(attached(app.pid()), "app {} shows no attach", app.pid());
        assert!(!listening_ports(app.pid()).is_empty());
    }
    // Discovery has decided about every bystander (and said why) by now.
    let serve_log = wait_until("discovery to pass over every bystander", WAIT, || {
        let raw = std::fs::read_to_string(&log).unwrap_or_default();
        let text = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&raw, "")
            .into_owned();
        bystanders
            .iter()
            .all(|pid| {
                text.lines()
                    .any(|l| l.contains("not attaching") && l.contains(&format!("pid={pid} ")))
            })
            .then_some(text)
    });
    for (pid, ports) in bystanders.iter().zip(&before) {
        // ksbridge's own account: it decided against each bystander, never for it.
        assert!(
            !serve_log
                .lines()
                .any(|l| l.contains("attaching to a candidate")
                    && l.contains(&format!("pid={pid} "))),
            "ksbridge attached to pid {pid}:\n{serve_log}"
        );
        // The target's own account. On a host shared with other tools that
        // attach to every JVM (older ksbridge builds, jconsole), these can
        // fail for attaches that are not this test's: run it on a quiet host (CI).
        assert!(
            !attached(*pid),
            "pid {pid} shows an attach (this ksbridge did not attach: another process on the host did?)"
        );
        assert_eq!(
            &listening_ports(*pid),
            ports,
            "pid {pid} listens on a new port (a management agent?)"
        );
    }
}

/// A network namespace joined to this one by a veth pair; deleted on drop.
struct NetNs {
    name: String,
    host_link: String,
}

impl NetNs {
    /// `host` is the address of the host end (a host address that is not
    /// loopback), `peer` that of the namespace end.
    fn create(host: &str, peer: &str) -> NetNs {
        let id = std::process::id() % 100_000;
        let ns = NetNs {
            name: format!("ksb-sec-{id}"),
            host_link: format!("ksbh{id}"),
        };
        let peer_link = format!("ksbn{id}");
        let run = |args: &[&str]| {
            let o = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                o.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        run(&["netns", "add", &ns.name]);
        run(&[
            "link",
            "add",
            &ns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer_link,
        ]);
        run(&["link", "set", &peer_link, "netns", &ns.name]);
        run(&["addr", "add", &format!("{host}/30"), "dev", &ns.host_link]);
        run(&["link", "set", &ns.host_link, "up"]);
        run(&[
            "netns",
            "exec",
            &ns.name,
            "ip",
            "addr",
            "add",
            &format!("{peer}/30"),
            "dev",
            &peer_link,
        ]);
        run(&[
            "netns", "exec", &ns.name, "ip", "link", "set", &peer_link, "up",
        ]);
        run(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Opens a JRMP connection to `addr:port` (from the namespace `ns` when
/// given) and says whether the RMI server answered the handshake.
fn rmi_handshake(ns: Option<&str>, addr: &str, port: u16) -> String {
    const PROBE: &str = "import socket, sys\n\
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\n\
        s.sendall(b'JRMI\\x00\\x02\\x4b')\n\
        try:\n    d = s.recv(1)\nexcept OSError:\n    d = b''\n\
        print('ACK' if d == b'\\x4e' else 'CLOSED')\n";
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "python3"]);
            c
        }
        None => Command::new("python3"),
    };
    let o = cmd
        .args(["-c", PROBE, addr, &port.to_string()])
        .output()
        .expect("run python3");
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout).trim(),
        if o.status.success() {
            String::new()
        } else {
            format!(" (failed: {})", String::from_utf8_lossy(&o.stderr).trim())
        }
    )
}

/// What an attach leaves: the JDK's local management agent, which accepts
/// connections from the host's own addresses only (`local.only`). A
/// connection from another network namespace (another host, as far as the
/// JVM can tell) to the host's non-loopback address is closed at accept,
/// while the same address from the host itself gets the RMI handshake.
#[test]
fn the_local_management_agent_refuses_other_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("Idle.java");
    std::fs::write(
        &src,
        "public class Idle { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n",
    )
    .unwrap();
    let idle = Proc(
        Command::new(common::lab::java())
            .args(["-Xmx32m", "-XX:+UseSerialGC"])
            .arg(&src)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = idle.0.id();
    wait_until("the JVM to start", WAIT, || {
        threads(pid)
            .iter()
            .any(|t| t == "Common-Cleaner")
            .then_some(())
    });
    let before = listening_ports(pid);
    let o = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(["get", &pid.to_string(), "java.lang:type=Runtime", "Pid"])
        .args(["--timeout", "90s"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let agent: Vec<u16> = listening_ports(pid)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(
        agent.len(),
        1,
        "one new listening port (the agent): {agent:?}"
    );
    let port = agent[0];
    let octet = 1 + std::process::id() % 250;
    let (host, peer) = (format!("10.213.{octet}.1"), format!("10.213.{octet}.2"));
    let ns = NetNs::create(&host, &peer);
    assert_eq!(rmi_handshake(None, "127.0.0.1", port), "ACK");
    assert_eq!(
        rmi_handshake(None, &host, port),
        "ACK",
        "from the host's own address"
    );
    assert_eq!(
        rmi_handshake(Some(&ns.name), &host, port),
        "CLOSED",
        "from another namespace"
    );
}
