#!/usr/bin/env bash
# Packs Maskwork.Abstractions and Maskwork.Backend into a local folder feed (default artifacts/feed),
# with package validation against the baseline version (build/package-baseline.props), and the
# `dotnet new maskwork-plugin` template package. Usage: build/pack.sh [FEED_DIR] [extra dotnet pack args]
set -euo pipefail
cd "$(dirname "$0")/.."
feed=$(realpath -m "${1:-artifacts/feed}"); shift || true
build/make-baseline.sh
mkdir -p "$feed"
for p in abstractions/Maskwork.Abstractions backend/Maskwork.Backend plugin-template; do
  dotnet pack "$p" -c Release -o "$feed" -nologo -v quiet "$@"
done
ls -1 "$feed"
