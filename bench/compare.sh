#!/usr/bin/env bash
# Maskwork's mae-step vs the plain-PyTorch peer (../shared/peers/mae_torch.py), back to back, same
# machine, same run, fp32 and bf16, MAE-Tiny/4 at batch 128 on 2 threads. Prints every JSON line,
# then a table with medians and ratios.
#
#   bench/compare.sh [--repeat N] [--batch B] [--threads T] [--steps S] [--warmup W]
#
# Installs the peer's Debian packages (python3-torch, libopenblas0-pthread) when missing and runs the
# peer with Debian's /usr/bin/python3. MASKWORK_PEER overrides the peer script's path.
# Exit status: 0 when both acceptance ratios are met (fp32 >= 2.2x, bf16 >= 1.1x), 3 when not.
# Timings are only comparable on a quiet machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=3 batch=128 threads=2 steps=20 warmup=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

peer=${MASKWORK_PEER:-../shared/peers/mae_torch.py}
[[ -f $peer ]] || { echo "compare.sh: peer $peer not found (set MASKWORK_PEER)" >&2; exit 1; }
source bench/lib.sh
bench_peer_packages compare.sh
bench_build

results=$(mktemp)
trap 'rm -f "$results"' EXIT
bench_load before
for ((r = 1; r <= repeat; r++)); do
  for precision in fp32 bf16; do
    flag=(); [[ $precision == bf16 ]] && flag=(--bf16)
    ours=$("$bench" mae-step --precision "$precision" --batch "$batch" --threads "$threads" --steps "$steps" --warmup "$warmup" | tail -n 1)
    theirs=$("$py" "$peer" "${flag[@]}" --batch "$batch" --threads "$threads" --steps "$steps" --warmup "$warmup" | tail -n 1)
    echo "$ours"; echo "$theirs"
    printf '%s\t%s\t%s\t%s\n' "$r" "$precision" "$ours" "$theirs" >> "$results"
  done
done
bench_load after

"$py" - "$results" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
targets = {"fp32": 2.2, "bf16": 1.1}
print()
print("| precision | Maskwork img/s | PyTorch peer img/s | ratio (per run) | median ratio | target | met |")
print("|---|---|---|---|---|---|---|")
ok = True
for p in ("fp32", "bf16"):
    pairs = [(json.loads(o), json.loads(t)) for _, pr, o, t in rows if pr == p]
    ours = [o["img_per_s"] for o, _ in pairs]; peer = [t["img_per_s"] for _, t in pairs]
    ratios = [a / b for a, b in zip(ours, peer)]
    med = statistics.median(ratios)
    met = med >= targets[p]; ok &= met
    print(f"| {p} | {statistics.median(ours):.1f} | {statistics.median(peer):.1f} | {', '.join(f'{x:.2f}' for x in ratios)} | {med:.2f}× | ≥ {targets[p]}× | {'yes' if met else 'NO'} |")
last = {p: json.loads(o) for _, p, o, _ in rows}
for p, o in last.items():
    print(f"{p}: step {o['step_ms']} ms = data {o['data_ms']} + forward {o['forward_ms']} + backward {o['backward_ms']} + optimizer {o['optimizer_ms']} (+ scope cleanup); "
          f"{o['gflops']} GFLOP/s of a {o['gemm_peak_gflops']} GFLOP/s GEMM")
sys.exit(0 if ok else 3)
PY
