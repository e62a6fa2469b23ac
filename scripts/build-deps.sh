#!/usr/bin/env bash
# What building ml-gates needs beyond Rust: protoc and protobuf's well-known types (Debian's
# protobuf-compiler and libprotobuf-dev), which compile Spark Connect's protocol
# (apache-spark-connect-proto). .ci/run and scripts/test.sh call it; the Dockerfile installs the same.
set -euo pipefail
missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/any.proto ] || missing+=(libprotobuf-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${apt_get[@]}" update >/dev/null && "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi
