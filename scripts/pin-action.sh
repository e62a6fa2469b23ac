#!/usr/bin/env bash
# Pin action.yml to a released image: `image: Dockerfile` (main, so `uses: ./` tests the working
# tree) becomes `image: docker://ghcr.io/<owner>/ml-gates:<X.Y.Z>`, which the runner pulls instead
# of building the Dockerfile at "Set up job" of every run. The release workflow runs it on the
# release commit; scripts/lint-actions.sh checks its result.
# Usage: scripts/pin-action.sh <X.Y.Z> <owner> [<action.yml>]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/pin-action.sh <X.Y.Z> <owner> [<action.yml>]" >&2
  exit 2
fi
version=$1
owner=${2,,}
file=${3:-action.yml}
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "pin-action: the version must be X.Y.Z (digits), found '$version'" >&2
  exit 2
fi
if [[ ! $owner =~ ^[a-z0-9]([a-z0-9-]{0,37}[a-z0-9])?$ ]]; then
  echo "pin-action: '$owner' is not a GitHub owner name" >&2
  exit 2
fi
if [[ $(grep -cx '  image: Dockerfile' "$file") != 1 ]]; then
  echo "pin-action: $file does not hold exactly one 'image: Dockerfile' line" >&2
  exit 2
fi
sed -i "s|^  image: Dockerfile\$|  image: docker://ghcr.io/${owner}/ml-gates:${version}|" "$file"
