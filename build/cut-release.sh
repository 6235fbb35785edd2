#!/usr/bin/env bash
# Cuts a release of the shared packages (Maskwork.Abstractions, Maskwork.Backend, Maskwork.Templates):
#
#   build/cut-release.sh NEXT_VERSION
#
# 1. packs the version in Directory.Build.props (MaskworkAbstractionsVersion) from a clean tree, validated
#    against the previous release (build/pack.sh);
# 2. records it as the last release: its three .nupkg files and its two PublicAPI.txt files replace those in
#    build/releases/, build/package-baseline.props names it and the commit, and CHANGELOG.md's
#    "Unreleased" heading becomes "<version> — <date>";
# 3. commits that, tags the packed commit maskwork-v<version>, and moves development on to NEXT_VERSION
#    (the next minor as a rule: the first breaking change then raises it to the next major).
# Publishing the packages to a feed is a separate step (dotnet nuget push build/releases/*.nupkg).
set -euo pipefail
cd "$(dirname "$0")/.."
next=${1:?usage: build/cut-release.sh NEXT_VERSION (e.g. 1.3.0)}
[ -z "$(git status --porcelain)" ] || { echo "cut-release: the work tree has changes; commit or stash them first" >&2; exit 1; }
version=$(sed -n 's:.*<MaskworkAbstractionsVersion>\(.*\)</MaskworkAbstractionsVersion>.*:\1:p' Directory.Build.props)
commit=$(git rev-parse --short HEAD)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
build/pack.sh "$out" >/dev/null
rm -f build/releases/*.nupkg build/releases/*.PublicAPI.txt
cp "$out"/Maskwork.Abstractions."$version".nupkg "$out"/Maskwork.Backend."$version".nupkg "$out"/Maskwork.Templates."$version".nupkg build/releases/
cp abstractions/Maskwork.Abstractions/PublicAPI.txt build/releases/Maskwork.Abstractions.PublicAPI.txt
cp backend/Maskwork.Backend/PublicAPI.txt build/releases/Maskwork.Backend.PublicAPI.txt
sed -i "s:<MaskworkPackageBaselineVersion>.*</MaskworkPackageBaselineVersion>:<MaskworkPackageBaselineVersion>$version</MaskworkPackageBaselineVersion>:;s:<MaskworkPackageBaselineCommit>.*</MaskworkPackageBaselineCommit>:<MaskworkPackageBaselineCommit>$commit</MaskworkPackageBaselineCommit>:" build/package-baseline.props
sed -i "0,/^## Unreleased.*/s//## $version — $(date -u +%Y-%m-%d)/" CHANGELOG.md
git tag -a "maskwork-v$version" "$commit" -m "Maskwork packages $version"
# Development moves on: the shared version, and the template's default (what new plugins build against).
sed -i "s:<MaskworkAbstractionsVersion>$version</MaskworkAbstractionsVersion>:<MaskworkAbstractionsVersion>$next</MaskworkAbstractionsVersion>:" Directory.Build.props
sed -i "s:<MaskworkVersion>$version</MaskworkVersion>:<MaskworkVersion>$next</MaskworkVersion>:" plugin-template/templates/maskwork-plugin/Directory.Build.props
sed -i "s:\"defaultValue\": \"$version\",:\"defaultValue\": \"$next\",:;s:\"replaces\": \"$version\",:\"replaces\": \"$next\",:" plugin-template/templates/maskwork-plugin/.template.config/template.json
sed -i "0,/^## /s//## Unreleased ($next)\n\n## /" CHANGELOG.md
git add -A build/releases build/package-baseline.props CHANGELOG.md Directory.Build.props plugin-template
git commit -q -m "Release $version (tag maskwork-v$version, packed from $commit); development moves to $next"
echo "released $version from $commit; now developing $next" >&2
