#!/usr/bin/env bash
# Creates the baseline packages package validation compares with (artifacts/baseline/*.nupkg), offline:
# checks out the commit that baseline version was cut from (build/package-baseline.props) in a
# temporary git worktree and packs it there with that version. Does nothing when they already exist.
set -euo pipefail
cd "$(dirname "$0")/.."
props=build/package-baseline.props
version=$(sed -n 's:.*<MaskworkPackageBaselineVersion>\(.*\)</MaskworkPackageBaselineVersion>.*:\1:p' "$props")
commit=$(sed -n 's:.*<MaskworkPackageBaselineCommit>\(.*\)</MaskworkPackageBaselineCommit>.*:\1:p' "$props")
[ -n "$version" ] || { echo "no baseline version in $props: nothing to do" >&2; exit 0; }
out=$(pwd)/artifacts/baseline
if [ -f "$out/Maskwork.Abstractions.$version.nupkg" ] && [ -f "$out/Maskwork.Backend.$version.nupkg" ]; then exit 0; fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/src" "$commit" >/dev/null
for p in abstractions/Maskwork.Abstractions backend/Maskwork.Backend; do
  dotnet pack "$tmp/src/$p" -c Release -o "$out" -nologo -v quiet -p:Version="$version" -p:MaskworkAbstractionsVersion="$version" \
    -p:EnablePackageValidation=false -p:ContinuousIntegrationBuild=true
done
echo "baseline $version packed from $commit into $out" >&2
