#!/usr/bin/env bash
# The test command of README.md: every unit test, CLI case and snapshot.
# Needs only cargo: the reference values from SciPy are recorded in fixtures/, and the data gate
# needs no server. Later stages that need MLflow or Prometheus start them here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets "$@"
