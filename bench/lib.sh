# Shared by the peer comparisons (bench/compare.sh, bench/compare-video.sh): the peer's Debian packages,
# the Release build of Maskwork.Bench and the load lines. Source it from the repository root.

py=/usr/bin/python3

# Installs the peer's Debian packages (python3-torch, libopenblas0-pthread) when missing. $1: who asks.
bench_peer_packages() {
  local missing=() pkg sudo_cmd=()
  for pkg in python3-torch libopenblas0-pthread; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "$1: installing the peer's packages: ${missing[*]}" >&2
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y "${missing[@]}" >&2
  fi
}

# Builds the bench in Release and sets $bench to its executable.
bench_build() {
  dotnet build -c Release bench/Maskwork.Bench -nologo -v q >&2
  bench=bench/Maskwork.Bench/bin/Release/net10.0/Maskwork.Bench
}

# Prints the load average to stderr: timings are only comparable on a quiet machine. $1: before|after.
bench_load() { echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg)" >&2; }
