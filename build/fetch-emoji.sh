#!/usr/bin/env bash
# Fetches the npm package emoji-datasource-google 16.0.0 (Google's emoji as 64x64 PNGs, with emoji.json) for the `emoji`
# reader, once, into ${XDG_CACHE_HOME:-$HOME/.cache}/maskwork/npm/emoji-datasource-google-16.0.0/package (about 22 MB
# unpacked: emoji.json and img/google/64 only). A no-op when it is there. Needs npm (apt-get install npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source build/prereqs.sh
mw_npm_fetch emoji-datasource-google 16.0.0 emoji.json img/google/64
echo "${XDG_CACHE_HOME:-$HOME/.cache}/maskwork/npm/emoji-datasource-google-16.0.0/package"
