#!/usr/bin/env bash
# Packs Maskwork.Abstractions, Maskwork.Backend and the `dotnet new maskwork-plugin` template package into a
# local folder feed (default artifacts/feed), validating both libraries against the last release
# (build/package-baseline.props, build/releases/): a removed or changed public member fails the pack.
#
# Usage: build/pack.sh [FEED_DIR] [extra dotnet pack args]
#        build/pack.sh --accept-breaks    (a major version only) writes CompatibilitySuppressions.xml next to each
#                                         library: the breaking changes you accept; review it, commit it, and list
#                                         the breaks in CHANGELOG.md.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
if [ "${1:-}" = "--accept-breaks" ]; then shift; extra+=(-p:ApiCompatGenerateSuppressionFile=true); fi
feed=$(realpath -m "${1:-artifacts/feed}"); shift || true
mkdir -p "$feed"
for p in abstractions/Maskwork.Abstractions backend/Maskwork.Backend plugin-template; do
  dotnet pack "$p" -c Release -o "$feed" -nologo -v quiet -clp:ErrorsOnly "${extra[@]}" "$@"
done
ls -1 "$feed"
