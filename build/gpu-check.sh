#!/usr/bin/env bash
# The GPU check (DESIGN.md §7): Maskwork on CUDA through a PyTorch install's own libtorch.
#
#   build/gpu-check.sh pack [ARCHIVE]   here: pack the built host and bench (no libtorch: the GPU machine
#                                       brings its own), a .NET runtime, TorchSharp's native shim sources,
#                                       the PyTorch MAE peer and this script into ARCHIVE
#                                       (default artifacts/gpu-check.tar.xz, well under 60 MB)
#   build/gpu-check.sh run  [ARCHIVE]   on a GPU machine with PyTorch (CUDA): unpack, rebuild the shim against
#                                       the local libtorch when its version is not 2.10, then run `doctor --json`,
#                                       `mae-step` on cuda in fp32 and bf16, and the PyTorch MAE peer on the same
#                                       card; prints one JSON line per step and a summary line. Downloads nothing.
#
# Build first: dotnet build host/Maskwork.Host -c Release && dotnet build bench/Maskwork.Bench -c Release.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-pack}"
archive="${2:-$repo/artifacts/gpu-check.tar.xz}"

# Native libraries that come from the user's libtorch on the GPU machine, never from this archive.
is_libtorch() { case "$(basename "$1")" in libLibTorchSharp.so) return 1 ;; libtorch*|libc10*|libgomp*|libshm*|libnnapi*|libaoti*|libbackend_with_compiler*|libjitbackend_test*) return 0 ;; *) return 1 ;; esac; }

copy_app() { # copy_app FROM TO: a build folder without libtorch
  mkdir -p "$2"
  (cd "$1" && find . -type f) | while read -r f; do
    is_libtorch "$f" && continue
    mkdir -p "$2/$(dirname "$f")" && cp "$1/$f" "$2/$f"
  done
}

pack() {
  local host="$repo/host/Maskwork.Host/bin/Release/net10.0" bench="$repo/bench/Maskwork.Bench/bin/Release/net10.0"
  [ -f "$host/maskwork.dll" ] || { echo "build the host first: dotnet build host/Maskwork.Host -c Release" >&2; exit 1; }
  [ -f "$bench/Maskwork.Bench.dll" ] || { echo "build the bench first: dotnet build bench/Maskwork.Bench -c Release" >&2; exit 1; }
  local stage; stage="$(mktemp -d)"; trap 'rm -rf "$stage"' RETURN
  local root="$stage/gpu-check"
  mkdir -p "$root"
  copy_app "$host" "$root/app"
  copy_app "$bench" "$root/bench"
  # The .NET runtime the apps were built for (no SDK): the muxer, hostfxr and the shared frameworks they name.
  local dotnet_root; dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  mkdir -p "$root/dotnet/shared"
  cp "$dotnet_root/dotnet" "$root/dotnet/" && cp -r "$dotnet_root/host" "$root/dotnet/"
  for fw in $(grep -ho '"name": *"[^"]*"' "$host/maskwork.runtimeconfig.json" "$bench/Maskwork.Bench.runtimeconfig.json" | sed 's/.*"\([^"]*\)"$/\1/' | sort -u); do
    local ver; ver="$(grep -h -A1 "\"$fw\"" "$host/maskwork.runtimeconfig.json" | grep -o '[0-9][0-9.]*' | head -n1)"
    local have; have="$(ls "$dotnet_root/shared/$fw" | sort -V | tail -n1)"
    mkdir -p "$root/dotnet/shared/$fw" && cp -r "$dotnet_root/shared/$fw/$have" "$root/dotnet/shared/$fw/"
    echo "runtime: $fw $have (asked: ${ver:-any})" >&2
  done
  # TorchSharp's native shim sources (src/Native of the TorchSharp version referenced), for build-libtorchsharp.sh.
  mkdir -p "$root/build"
  cp "$repo/build/build-libtorchsharp.sh" "$repo/build/gpu-check.sh" "$root/build/"
  if [ -n "${TORCHSHARP_GIT:-}" ]; then
    git --git-dir="$TORCHSHARP_GIT" archive "${TORCHSHARP_COMMIT:-HEAD}" src/Native | tar -x -C "$stage"
  else
    git clone -q --filter=blob:none --no-checkout https://github.com/dotnet/TorchSharp "$stage/ts" &&
      git -C "$stage/ts" checkout -q "${TORCHSHARP_COMMIT:-c20b6a1c}" -- src/Native && mv "$stage/ts/src" "$stage/src"
  fi
  [ -f "$stage/src/Native/CMakeLists.txt" ] || { echo "TorchSharp's src/Native could not be fetched (set TORCHSHARP_GIT to a TorchSharp git directory)" >&2; exit 1; }
  mv "$stage/src/Native" "$root/build/libtorchsharp-native"
  mkdir -p "$root/peers" && cp "$repo/../shared/peers/mae_torch.py" "$root/peers/" 2>/dev/null || cp "${MAE_PEER:?set MAE_PEER to mae_torch.py}" "$root/peers/"
  mkdir -p "$(dirname "$archive")"
  tar -C "$stage" -cf - gpu-check | xz -T0 -6 > "$archive.tmp" && mv "$archive.tmp" "$archive"
  echo "$archive: $(du -m "$archive" | cut -f1) MB" >&2
  echo "$archive"
}

step() { # step NAME COMMAND...: runs it, prints {"step", "exit", "seconds", "json" (its last JSON line) | "tail"}
  local name="$1"; shift
  local out t0 rc; out="$(mktemp)"; t0=$(date +%s%N)
  "$@" >"$out" 2>&1; rc=$?
  local secs; secs=$(( ($(date +%s%N) - t0) / 1000000 ))
  local last; last="$(grep -E '^\{' "$out" | tail -n1)"
  if [ -n "$last" ]; then printf '{"step":"%s","exit":%d,"ms":%d,"json":%s}\n' "$name" "$rc" "$secs" "$last"
  else printf '{"step":"%s","exit":%d,"ms":%d,"tail":%s}\n' "$name" "$rc" "$secs" "$(tail -n 15 "$out" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"; fi
  [ "$rc" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
  rm -f "$out"
  return $rc
}

run() {
  local work; work="$(mktemp -d)"
  if [ -f "$archive" ]; then tar -xJf "$archive" -C "$work"; root="$work/gpu-check"
  elif [ -f "$repo/app/maskwork.dll" ]; then root="$repo" # already unpacked: this script inside it
  else echo "no archive at $archive: run build/gpu-check.sh pack on a build machine first" >&2; exit 1; fi
  local py="${PYTHON:-python3}"
  local torch_lib torch_version
  torch_lib="$(cd / && "$py" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)" \
    || { echo '{"step":"find-pytorch","exit":1,"tail":"python3 cannot import torch: set PYTHON to the interpreter of the PyTorch install"}'; exit 1; }
  torch_version="$(cd / && "$py" -c 'import torch; print(torch.__version__)')"
  printf '{"step":"find-pytorch","exit":0,"json":{"torch":"%s","lib":"%s","cuda":%s}}\n' "$torch_version" "$torch_lib" \
    "$(cd / && "$py" -c 'import torch, json; print(json.dumps({"available": torch.cuda.is_available(), "version": torch.version.cuda, "devices": torch.cuda.device_count(), "name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))')"
  passed=0; failed=0
  export MASKWORK__LIBTORCH="$torch_lib" DOTNET_ROOT="$root/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 MASKWORK_PLAIN_PROGRESS=1
  case "$torch_version" in
    2.10.*) ;; # the packaged shim fits
    *) # The rebuilt shim replaces the packaged one in both apps (TorchSharp's own loader looks for it there).
       step build-shim env OUT="$work/libLibTorchSharp.so" bash "$root/build/build-libtorchsharp.sh" "$torch_lib" "$root/build/libtorchsharp-native" &&
         for app in app bench; do cp "$work/libLibTorchSharp.so" "$work/libLibTorchSharp.so.libtorch-version" "$root/$app/"; done ;;
  esac
  local dn="$root/dotnet/dotnet"
  step doctor "$dn" "$root/app/maskwork.dll" doctor --json
  step mae-step-fp32 "$dn" "$root/bench/Maskwork.Bench.dll" mae-step --device cuda --precision fp32 --batch 128 --threads 1 --steps 20 --warmup 5
  step mae-step-bf16 "$dn" "$root/bench/Maskwork.Bench.dll" mae-step --device cuda --precision bf16 --batch 128 --threads 1 --steps 20 --warmup 5
  # The peer on the same card: its tensors and modules on cuda, its CPU autocast as CUDA autocast, its clock after a synchronize.
  local prelude='import runpy, sys, time, torch
torch.set_default_device("cuda")
_autocast = torch.autocast
torch.autocast = lambda device_type, *a, **k: _autocast("cuda", *a, **k)
_clock = time.perf_counter
time.perf_counter = lambda: (torch.cuda.synchronize(), _clock())[1]
sys.argv = ["mae_torch.py"] + sys.argv[1:]
runpy.run_path("'"$root/peers/mae_torch.py"'", run_name="__main__")'
  step peer-fp32 "$py" -c "$prelude" --batch 128 --threads 1
  step peer-bf16 "$py" -c "$prelude" --batch 128 --threads 1 --bf16
  printf '{"summary":"gpu-check","passed":%d,"failed":%d,"torch":"%s"}\n' "$passed" "$failed" "$torch_version"
  [ "$failed" -eq 0 ]
}

case "$mode" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: build/gpu-check.sh pack|run [ARCHIVE]" >&2; exit 2 ;;
esac
