#!/usr/bin/env bash
# Builds everything and runs every test project; ends with one line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
source build/prereqs.sh
mw_require_dotnet || exit 1
mw_apt_install dataset-fashion-mnist fonts-dejavu-core ffmpeg mricron-data openmpi-bin libopenmpi-dev || exit 1
# The worker tests: the dashboard in headless chromium, the stand-in systemd parent in python3.
mw_apt_install chromium python3 || exit 1
# The vision-language tests read the Tux Paint stamps (about 800 captioned PNGs).
mw_apt_install tuxpaint-stamps-default || exit 1
# ... and the Google emoji (npm emoji-datasource-google, fetched once with npm pack into ~/.cache/maskwork/npm).
build/fetch-emoji.sh >/dev/null || echo "warning: the emoji package could not be fetched; the emoji reader tests will be skipped" >&2

echo "== building Platform.sln (Release)" >&2
if ! dotnet build Platform.sln -c Release -v quiet -nologo -clp:ErrorsOnly; then
  echo "0 passed, 1 failed"; exit 1
fi

passed=0; failed=0; skipped=0; status=0
for proj in tests/*/*.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name" >&2
  log=$(mktemp)
  dotnet test "$proj" -c Release --no-build -nologo 2>&1 | tee "$log" | grep -E -A3 "^\s*(Failed [A-Z]|Passed!|Failed!)" | grep -vE "^\s+at |^--$" >&2
  line=$(grep -E "(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+" "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$name: no test summary (crash or build problem); last lines:" >&2; tail -n 20 "$log" >&2
    failed=$((failed + 1)); status=1
  else
    f=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line"); p=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line"); s=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" -eq 0 ] || status=1
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
