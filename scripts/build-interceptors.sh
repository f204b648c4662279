#!/usr/bin/env bash
# Builds ksbridge's producer/consumer interceptor jar (java-shim/interceptors, Maven) when it is
# missing or older than its sources, versioned with ksbridge (the version in Cargo.toml), and
# prints its path. `scripts/kafka-lab build` (and so scripts/setup.sh) runs it too.
#
#   scripts/build-interceptors.sh            -> java-shim/interceptors/target/ksbridge-interceptors-<v>.jar
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODULE="$ROOT/java-shim/interceptors"
VERSION="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n1)"
[ -n "$VERSION" ] || { echo "build-interceptors: no version in Cargo.toml" >&2; exit 1; }
JAR="$MODULE/target/ksbridge-interceptors-$VERSION.jar"
if [ ! -f "$JAR" ] || [ -n "$(find "$MODULE/pom.xml" "$MODULE/src" -newer "$JAR" -print -quit)" ]; then
  echo "build-interceptors: building $(basename "$JAR") (Maven)" >&2
  mvn -B -q -Dstyle.color=never -f "$MODULE/pom.xml" -Drevision="$VERSION" package >&2
fi
echo "$JAR"
