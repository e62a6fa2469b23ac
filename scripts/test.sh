#!/usr/bin/env bash
# The test command of README.md: every unit test, CLI case and snapshot.
# Installs the Python packages the CLI cases need (the scikit-learn external-trainer example);
# the reference values from SciPy, scikit-learn and fairlearn are recorded in fixtures/, so those
# libraries are not needed. Later stages that need MLflow or Prometheus start them here.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
cargo test --locked --all-targets "$@"
