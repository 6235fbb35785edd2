#!/usr/bin/env bash
# Maskwork's video-step vs the plain-PyTorch peer (../shared/peers/videomae_torch.py), interleaved,
# same machine, same run: fp32 and bf16, VideoMAE (--dual off) and VideoMAE V2 (--dual on), the peer's
# VideoMAE-Tiny configuration (8 grey 64x64 frames, 256 tubelets, batch 16, 2 threads). Prints every
# JSON line, then a table with medians of the clips/s ratios.
#
#   bench/compare-video.sh [--repeat N] [--batch B] [--threads T] [--steps S] [--warmup W] [--dual-only]
#
# Installs the peer's Debian packages (python3-torch, libopenblas0-pthread) when missing and runs it with
# Debian's /usr/bin/python3 (MASKWORK_VIDEO_PEER overrides the script). Exit status 0 when the acceptance
# ratio (>= 1.2x with --dual, fp32 and bf16) is met, 3 when not. Only a quiet machine gives absolute
# numbers; the load average is printed before and after, and the ratios are what to read under load.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=3 batch=16 threads=2 steps=20 warmup=5 duals=("" "--dual")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --dual-only) duals=("--dual"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "compare-video.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

peer=${MASKWORK_VIDEO_PEER:-../shared/peers/videomae_torch.py}
[[ -f $peer ]] || { echo "compare-video.sh: peer $peer not found (set MASKWORK_VIDEO_PEER)" >&2; exit 1; }
source bench/lib.sh
bench_peer_packages compare-video.sh
bench_build

results=$(mktemp)
trap 'rm -f "$results"' EXIT
bench_load before
for ((r = 1; r <= repeat; r++)); do
  for dual in "${duals[@]}"; do
    for precision in fp32 bf16; do
      flag=(); [[ $precision == bf16 ]] && flag=(--bf16)
      d=(); [[ -n $dual ]] && d=(--dual)
      ours=$("$bench" video-step "${d[@]}" --precision "$precision" --batch "$batch" --threads "$threads" --steps "$steps" --warmup "$warmup" | tail -n 1)
      theirs=$("$py" "$peer" "${d[@]}" "${flag[@]}" --batch "$batch" --threads "$threads" --steps "$steps" --warmup "$warmup" | tail -n 1)
      echo "$ours"; echo "$theirs"
      printf '%s\t%s\t%s\t%s\t%s\n' "$r" "${dual:-plain}" "$precision" "$ours" "$theirs" >> "$results"
    done
  done
done
bench_load after

"$py" - "$results" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print()
print("| masking | precision | Maskwork clips/s | PyTorch peer clips/s | ratio (per run) | median ratio | data share | target |")
print("|---|---|---|---|---|---|---|---|")
ok = True
for dual in ("plain", "--dual"):
    for p in ("fp32", "bf16"):
        pairs = [(json.loads(o), json.loads(t)) for _, d, pr, o, t in rows if d == dual and pr == p]
        if not pairs: continue
        ours = [o["clips_per_s"] for o, _ in pairs]; peer = [t["clips_per_s"] for _, t in pairs]
        ratios = [a / b for a, b in zip(ours, peer)]
        med = statistics.median(ratios)
        target = "≥ 1.2×" if dual == "--dual" else "—"
        if dual == "--dual": ok &= med >= 1.2
        share = statistics.median(o["data_share"] for o, _ in pairs)
        print(f"| {'dual (V2)' if dual == '--dual' else 'tube (V1)'} | {p} | {statistics.median(ours):.1f} | {statistics.median(peer):.1f} | {', '.join(f'{x:.2f}' for x in ratios)} | {med:.2f}× | {share:.1%} | {target} |")
sys.exit(0 if ok else 3)
PY
