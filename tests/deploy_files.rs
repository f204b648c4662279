//! The deployment files under `deploy/` checked by the tools that own their formats:
//! the Kubernetes manifests against the Kubernetes schemas (`kubernetes-validate --strict`,
//! unknown or mistyped fields fail, and a broken copy is refused), the systemd unit by
//! `systemd-analyze verify` and its sandbox by `systemd-analyze security`, the Dockerfile
//! by hadolint, the sample `prometheus.yml` by `promtool check config`; plus what the
//! tools cannot know: that the files agree with each other and with ksbridge (port,
//! `/healthz`, same uid and gid across the sidecar's containers, capabilities, everything
//! the image build copies). Tools come from `scripts/setup.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::lab::repo_root;

/// ksbridge's default port (`serve --web.listen-address`).
const PORT: u64 = 39134;

fn deploy(path: &str) -> PathBuf {
    repo_root().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Where a tool is: on the PATH, else in the scripts directory of `python3` (where
/// `python3 -m pip install` puts the PyPI ones when that is not on the PATH).
fn tool(program: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if on_path {
        return PathBuf::from(program);
    }
    Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join(program))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// Runs a tool; panics naming the tool and scripts/setup.sh when it is not installed.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(tool(program))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e} (scripts/setup.sh installs it)"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("kubernetes"))
        .expect("deploy/kubernetes")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "the sidecar and per-node manifests: {files:?}"
    );
    files
}

fn kubernetes_validate(files: &[&Path]) -> Output {
    let mut args = vec!["--strict", "--quiet"];
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    run("kubernetes-validate", &args)
}

/// The documents of a YAML file as JSON values (PyYAML, which kubernetes-validate uses).
fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let out = run(
        "python3",
        &[
            "-c",
            "import json, sys, yaml\n\
             json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], sys.stdout)",
            &path.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}: {}", path.display(), text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON from PyYAML")
}

fn document<'a>(docs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:?}"))
}

fn container<'a>(pod: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    pod["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {pod}"))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What every ksbridge container must have: its port, probes on `/healthz`, the scrape
/// annotations of the pod pointing at that port, a writable `/tmp` for the embedded JVM.
fn check_ksbridge_container(pod_template: &serde_json::Value, what: &str) {
    let pod = &pod_template["spec"];
    let k = container(pod, "ksbridge");
    assert_eq!(k["ports"][0]["containerPort"], PORT, "{what}");
    assert_eq!(
        k["ports"][0]["name"], "metrics",
        "{what}: prometheus.yml keeps that port name"
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(k[probe]["httpGet"]["path"], "/healthz", "{what} {probe}");
        assert_eq!(k[probe]["httpGet"]["port"], "metrics", "{what} {probe}");
    }
    let annotations = &pod_template["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true", "{what}");
    assert_eq!(
        annotations["prometheus.io/port"],
        PORT.to_string(),
        "{what}"
    );
    assert!(
        k["resources"]["limits"]["memory"].is_string(),
        "{what}: memory limit"
    );
    let sc = &k["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}");
    if sc["readOnlyRootFilesystem"] == true {
        let mounts = k["volumeMounts"].as_array().cloned().unwrap_or_default();
        assert!(
            mounts.iter().any(|m| m["mountPath"] == "/tmp"),
            "{what}: a read-only root needs a /tmp volume (the embedded JVM)"
        );
    }
}

#[test]
fn kubernetes_manifests_validate_strictly_against_the_schemas() {
    let files = manifests();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = kubernetes_validate(&refs);
    assert!(
        out.status.success(),
        "kubernetes-validate --strict refused deploy/kubernetes:\n{}",
        text(&out)
    );
    let version = run("kubernetes-validate", &["--version"]);
    eprintln!(
        "validated {} manifests with {}",
        files.len(),
        text(&version).trim()
    );
}

#[test]
fn broken_manifests_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = read(&deploy("kubernetes/sidecar.yaml"));
    let cases = [
        // A misspelt field: only strict validation catches it.
        (
            "shareProcessNamespace: true",
            "shareProcessNamespaces: true",
            "'shareProcessNamespaces' was unexpected",
        ),
        // A mistyped value.
        (
            "containerPort: 39134",
            "containerPort: \"39134\"",
            "is not of type 'integer'",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(good.contains(from), "the sidecar no longer has '{from}'");
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, good.replacen(from, to, 1)).expect("writing the broken manifest");
        let out = kubernetes_validate(&[bad.as_path()]);
        assert!(!out.status.success(), "'{to}' was accepted");
        assert!(text(&out).contains(expected), "'{to}': {}", text(&out));
    }
    // Without --strict the misspelt field passes: strict mode is what the check relies on.
    let bad = dir.path().join("lax.yaml");
    std::fs::write(&bad, good.replacen(cases[0].0, cases[0].1, 1)).expect("writing");
    let lax = run(
        "kubernetes-validate",
        &["--quiet", &bad.display().to_string()],
    );
    assert!(lax.status.success(), "{}", text(&lax));
}

#[test]
fn the_sidecar_shares_the_process_namespace_and_one_uid_without_capabilities() {
    let docs = yaml_documents(&deploy("kubernetes/sidecar.yaml"));
    let template = &document(&docs, "Deployment")["spec"]["template"];
    let pod = &template["spec"];
    assert_eq!(pod["shareProcessNamespace"], true);
    // HotSpot takes attach requests from its own uid and gid only (or root): set once for
    // the pod, never overridden by one container.
    let (uid, gid) = (
        &pod["securityContext"]["runAsUser"],
        &pod["securityContext"]["runAsGroup"],
    );
    assert!(
        uid.as_u64().is_some_and(|u| u != 0),
        "a non-root uid: {uid}"
    );
    assert!(gid.is_u64(), "a gid: {gid}");
    for c in pod["containers"].as_array().expect("containers") {
        for key in ["runAsUser", "runAsGroup"] {
            assert!(
                c["securityContext"][key].is_null(),
                "{} overrides {key}",
                c["name"]
            );
        }
        assert!(
            c["securityContext"]["capabilities"]["add"].is_null(),
            "{} adds capabilities: none is needed with one uid",
            c["name"]
        );
    }
    check_ksbridge_container(template, "sidecar");
    // The JVM's attach socket goes to its /tmp: writable in the app container too.
    let app = container(pod, "app");
    if app["securityContext"]["readOnlyRootFilesystem"] == true {
        let mounts = app["volumeMounts"].as_array().cloned().unwrap_or_default();
        assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"), "app /tmp");
    }
}

#[test]
fn the_node_agent_runs_in_the_hosts_pid_namespace_with_only_the_attach_capabilities() {
    let docs = yaml_documents(&deploy("kubernetes/daemonset.yaml"));
    let template = &document(&docs, "DaemonSet")["spec"]["template"];
    let pod = &template["spec"];
    assert_eq!(pod["hostPID"], true);
    assert_eq!(
        pod["automountServiceAccountToken"], false,
        "no API access is needed"
    );
    check_ksbridge_container(template, "daemonset");
    let sc = &container(pod, "ksbridge")["securityContext"];
    let mut added = strings(&sc["capabilities"]["add"]);
    added.sort();
    assert_eq!(added, ["DAC_OVERRIDE", "KILL", "SYS_PTRACE"]);
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"].as_str().is_some_and(|k| k.contains("Role"))),
        "RBAC without a use"
    );
}

/// The unit with `ExecStart` pointing at the binary built here (verify checks that it exists).
fn unit_copy(dir: &Path, unit: &str) -> PathBuf {
    let path = dir.join("ksbridge.service");
    let exe = env!("CARGO_BIN_EXE_ksbridge");
    assert!(
        unit.contains("ExecStart=/usr/local/bin/ksbridge "),
        "ExecStart moved"
    );
    std::fs::write(
        &path,
        unit.replace(
            "ExecStart=/usr/local/bin/ksbridge ",
            &format!("ExecStart={exe} "),
        ),
    )
    .expect("writing the unit");
    path
}

#[test]
fn systemd_unit_verifies_and_its_sandbox_is_rated_ok() {
    let unit = read(&deploy("systemd/ksbridge.service"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = unit_copy(dir.path(), &unit);
    let p = path.display().to_string();
    let verify = run("systemd-analyze", &["verify", &p]);
    assert!(
        verify.status.success() && text(&verify).trim().is_empty(),
        "systemd-analyze verify: {}",
        text(&verify)
    );
    // Exposure 0-100 (shown as 0.0-10.0): 20 is the upper end of "OK".
    let security = run(
        "systemd-analyze",
        &[
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            &p,
        ],
    );
    let report = text(&security);
    assert!(
        security.status.success(),
        "sandbox exposure above 2.0:\n{report}"
    );
    let level = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    eprintln!("{}", level.trim());

    // The same check refuses the unit without its sandbox.
    let bare: String = unit
        .lines()
        .take_while(|l| !l.starts_with("# Sandbox."))
        .chain(["", "[Install]", "WantedBy=multi-user.target"])
        .collect::<Vec<_>>()
        .join("\n");
    let bare_path = unit_copy(dir.path(), &bare);
    let security = run(
        "systemd-analyze",
        &[
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            &bare_path.display().to_string(),
        ],
    );
    assert!(
        !security.status.success(),
        "an unsandboxed unit passed: {}",
        text(&security)
    );

    // Sandboxing that breaks a JVM stays off (see the unit's comment).
    for breaks in [
        "MemoryDenyWriteExecute=yes",
        "ProtectProc=invisible",
        "PrivateUsers=yes",
    ] {
        assert!(
            !unit.lines().any(|l| l.trim() == breaks),
            "{breaks} breaks attaching"
        );
    }
}

/// Long: one Dockerfile read once, then hadolint and each structural check in turn, in
/// the order of the file's stages.
#[test]
fn dockerfile_passes_hadolint_and_builds_what_ksbridge_needs() {
    let path = deploy("docker/Dockerfile");
    let out = run("hadolint", &["--no-color", &path.display().to_string()]);
    assert!(out.status.success(), "hadolint:\n{}", text(&out));

    // hadolint refuses a root final user (the check is live, not a no-op).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("Dockerfile");
    let dockerfile = read(&path);
    std::fs::write(&root, dockerfile.replace("USER 10001:10001", "USER root")).expect("writing");
    let out = run("hadolint", &["--no-color", &root.display().to_string()]);
    assert!(
        !out.status.success() && text(&out).contains("DL3002"),
        "{}",
        text(&out)
    );

    // Instructions, continuation lines joined.
    let joined = dockerfile.replace("\\\n", " ");
    let instructions: Vec<(String, String)> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace)?;
            Some((op.to_ascii_uppercase(), rest.trim().to_owned()))
        })
        .collect();
    let stages: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let (build, runtime) = (
        &instructions[stages[0]..stages[1]],
        &instructions[stages[1]..],
    );
    // The build stage's Rust is at least the crate's rust-version.
    let from = &build[0].1;
    let rust: Vec<u32> = from
        .strip_prefix("rust:")
        .and_then(|t| t.split('-').next())
        .map(|v| v.split('.').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| panic!("the build stage is not an official Rust image: {from}"));
    let manifest = read(&repo_root().join("Cargo.toml"));
    let wanted: Vec<u32> = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| {
            v.trim_matches('"')
                .split('.')
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .expect("rust-version in Cargo.toml");
    assert!(
        rust >= wanted,
        "{from} is older than rust-version {wanted:?}"
    );
    // javac in the build (build.rs), a JDK, not a JRE, at run time (jdk.attach).
    let installs = |stage: &[(String, String)]| -> String {
        stage
            .iter()
            .filter(|(op, a)| op == "RUN" && a.contains("apt-get install"))
            .map(|(_, a)| a.clone())
            .collect()
    };
    assert!(
        installs(build).contains("-jdk-headless"),
        "javac for build.rs"
    );
    let runtime_pkgs = installs(runtime);
    assert!(runtime_pkgs.contains("-jdk-headless") && !runtime_pkgs.contains("-jre"));
    // Everything the build copies exists, and it is all `cargo build` reads.
    for (op, args) in build.iter().filter(|(op, _)| op == "COPY") {
        let words: Vec<&str> = args.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(repo_root().join(src).exists(), "{op} {src}: no such path");
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "src", "java-shim"] {
        assert!(
            build.iter().any(|(op, a)| op == "COPY"
                && a.split_whitespace()
                    .any(|w| w.trim_end_matches('/') == needed)),
            "the build stage does not copy {needed}"
        );
    }
    let ignore = read(&deploy("docker/Dockerfile.dockerignore"));
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "src/", "java-shim/"] {
        assert!(
            ignore.lines().any(|l| l == format!("!{needed}")),
            "{needed} is not in the build context"
        );
    }
    // Non-root, the port, the health check on /healthz, ksbridge as the entry point.
    let last = |op: &str| {
        runtime
            .iter()
            .rev()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no {op} in the runtime stage"))
    };
    let user = last("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("USER {user}: a numeric uid (runAsNonRoot checks it)"));
    assert_ne!(uid, 0);
    assert_eq!(last("EXPOSE"), PORT.to_string());
    assert!(last("HEALTHCHECK").contains(&format!("127.0.0.1:{PORT}/healthz")));
    assert!(last("ENTRYPOINT").contains("/usr/local/bin/ksbridge"));
    assert!(runtime
        .iter()
        .any(|(op, a)| op == "COPY" && a.contains("--from=build") && a.contains("ksbridge")));
}

#[test]
fn sample_prometheus_config_passes_promtool() {
    let path = deploy("prometheus/prometheus.yml");
    let config = read(&path);
    assert!(
        config.contains(&format!(":{PORT}")),
        "the static targets use port {PORT}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut checked = dir.path().join("prometheus.yml");
    std::fs::write(&checked, &config).expect("writing");
    let mut out = run(
        "promtool",
        &["check", "config", &checked.display().to_string()],
    );
    if !out.status.success() && text(&out).contains("field kubernetes_sd_configs not found") {
        // Debian builds Prometheus without its Kubernetes service discovery: check the rest
        // (every relabelling rule included) with the discovery block as an empty static one.
        let sd = "    kubernetes_sd_configs:\n      - role: pod\n";
        assert!(
            config.contains(sd),
            "the kubernetes_sd_configs block changed"
        );
        eprintln!("promtool lacks kubernetes_sd_configs: checked with it as static_configs");
        checked = dir.path().join("prometheus-static.yml");
        std::fs::write(
            &checked,
            config.replace(sd, "    static_configs:\n      - targets: []\n"),
        )
        .expect("writing");
        out = run(
            "promtool",
            &["check", "config", &checked.display().to_string()],
        );
    }
    assert!(
        out.status.success(),
        "promtool check config:\n{}",
        text(&out)
    );
    // Only the port named "metrics" is kept: the manifests name ksbridge's port so.
    assert!(config.contains("__meta_kubernetes_pod_container_port_name"));
}
