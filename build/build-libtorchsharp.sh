#!/usr/bin/env bash
# Rebuilds TorchSharp's native shim (libLibTorchSharp.so) against a libtorch already on this machine,
# for a libtorch other than the 2.10.x that TorchSharp 0.107's packaged shim is built for (DESIGN.md §7).
#
#   build/build-libtorchsharp.sh LIBTORCH_LIB [SOURCES]
#
# LIBTORCH_LIB  the folder with libtorch_cpu.so (a PyTorch install's torch/lib, or libtorch/lib). Its
#               headers and TorchConfig.cmake are found next to it (../include, ../share/cmake/Torch).
# SOURCES       TorchSharp's src/Native folder (CMakeLists.txt, LibTorchSharp/). Default: build/libtorchsharp-native
#               if present (gpu-check.sh carries it), else a shallow clone of github.com/dotnet/TorchSharp at
#               the commit of the TorchSharp version in Directory.Packages.props.
#
# Writes LIBTORCH_LIB/libLibTorchSharp.so (or $OUT when set), which Maskwork's Libtorch setting then uses.
# Needs cmake and a C++17 compiler (g++ or clang++).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lib="${1:?usage: build/build-libtorchsharp.sh LIBTORCH_LIB [SOURCES]}"
lib="$(cd "$lib" && pwd)"
src="${2:-}"
out="${OUT:-$lib/libLibTorchSharp.so}"
# TorchSharp 0.107.0 (the version Maskwork references): the commit its src/Native was read from.
torchsharp_commit="${TORCHSHARP_COMMIT:-c20b6a1c}"

[ -f "$lib/libtorch_cpu.so" ] || { echo "$lib has no libtorch_cpu.so: name the folder holding libtorch's libraries (torch/lib)" >&2; exit 1; }
cmake_dir=""
for d in "$lib/../share/cmake/Torch" "$lib/../../share/cmake/Torch"; do
  [ -f "$d/TorchConfig.cmake" ] && { cmake_dir="$(cd "$d" && pwd)"; break; }
done
[ -n "$cmake_dir" ] || { echo "no TorchConfig.cmake next to $lib (looked in ../share/cmake/Torch): a libtorch or PyTorch install with headers is needed" >&2; exit 1; }
command -v cmake >/dev/null || { echo "cmake is missing (apt-get install cmake, or pip install cmake)" >&2; exit 1; }
command -v c++ >/dev/null || command -v g++ >/dev/null || { echo "no C++ compiler (apt-get install g++)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "$src" ] && [ -d "$here/libtorchsharp-native" ]; then src="$here/libtorchsharp-native"; fi
if [ -z "$src" ]; then
  echo "fetching TorchSharp $torchsharp_commit's src/Native ..." >&2
  git clone -q --filter=blob:none --no-checkout https://github.com/dotnet/TorchSharp "$work/ts"
  git -C "$work/ts" checkout -q "$torchsharp_commit" -- src/Native
  src="$work/ts/src/Native"
fi
[ -f "$src/CMakeLists.txt" ] && [ -d "$src/LibTorchSharp" ] || { echo "$src is not TorchSharp's src/Native" >&2; exit 1; }
cp -r "$src" "$work/native"
# Newer libtorch headers bring new warnings; TorchSharp's build treats warnings as errors.
sed -i 's/^\s*add_definitions(-Werror).*$//' "$work/native/CMakeLists.txt"

# The C++ ABI must match libtorch's: PyTorch says which it was built with; libtorch zips name it in their symbols.
abi=1
if [ -f "$lib/../__init__.py" ] && command -v python3 >/dev/null; then
  abi=$(cd / && PYTHONPATH="$(cd "$lib/../.." && pwd)" python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)
fi
sed -i "s/-D_GLIBCXX_USE_CXX11_ABI=1/-D_GLIBCXX_USE_CXX11_ABI=$abi/" "$work/native/CMakeLists.txt"

mkdir -p "$work/build" "$work/install"
echo "building libLibTorchSharp.so against $lib (TorchConfig: $cmake_dir, C++11 ABI $abi) ..." >&2
export __CMakeBinDir="$work/install"
cmake -S "$work/native" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLIBTORCH_PATH="$cmake_dir/../../.." -DCMAKE_PREFIX_PATH="$cmake_dir" -DLIBTORCH_ARCH=x64 >"$work/cmake.log" 2>&1 \
  || { tail -n 40 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j "$(nproc)" >"$work/make.log" 2>&1 || { grep -m 20 -E "error|Error" "$work/make.log" >&2; tail -n 20 "$work/make.log" >&2; exit 1; }
built="$(find "$work/build" -name 'libLibTorchSharp.so' | head -n 1)"
[ -n "$built" ] || { echo "the build produced no libLibTorchSharp.so" >&2; exit 1; }
cp "$built" "$out.tmp" && mv "$out.tmp" "$out"
# Which libtorch this shim is for (Maskwork's Libtorch setting checks it): PyTorch's version.py, else libtorch's build-version.
version=""
[ -f "$lib/../version.py" ] && version="$(sed -n "s/^__version__ *= *['\"]\([^'\"]*\)['\"].*/\1/p" "$lib/../version.py" | head -n1)"
[ -z "$version" ] && for f in "$lib/build-version" "$lib/../build-version"; do [ -f "$f" ] && version="$(tr -d '[:space:]' < "$f")" && break; done
[ -n "$version" ] && echo "$version" > "$out.libtorch-version"
echo "$out (for libtorch ${version:-unknown})"
