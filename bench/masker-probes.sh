#!/usr/bin/env bash
# Masker comparison on Fashion-MNIST (issue 13): image/mae, image/colormae, image/mae-progressive and
# image/hpm at patch 4 on 28×28 (7×7 tokens, where mask patterns can differ), the same budget for every
# recipe (steps × batch; HPM's extra no-grad scoring pass is not counted), each pretrained and then
# linear-probed on frozen features of a fixed Fashion-MNIST train/test subset, for each seed
# (bench case `masker-probe`: the host's trainer and probe code). One JSON line per run, then a table.
#
#   bench/masker-probes.sh [--steps N] [--seeds "0 1"] [--probe-train N] [--probe-test N] [--out DIR]
#
# Runs a private copy of the built bench (rebuilding the tree meanwhile does not disturb it).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=1000 seeds="0 1" out=${TMPDIR:-/tmp}/masker-probes ptrain=10000 ptest=5000
recipes="image/mae image/colormae image/mae-progressive image/hpm"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --recipes) recipes=$2; shift 2 ;;
    --probe-train) ptrain=$2; shift 2 ;;
    --probe-test) ptest=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "masker-probes.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

dotnet build bench/Maskwork.Bench -c Release -v quiet -nologo -clp:ErrorsOnly >&2
mkdir -p "$out"
bench="$out/bench"
rm -rf "$bench"; cp -r bench/Maskwork.Bench/bin/Release/net10.0 "$bench"
results="$out/results.jsonl"; : > "$results"
echo "masker-probes: steps $steps, seeds $seeds, probe $ptrain/$ptest, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

for seed in $seeds; do
  for recipe in $recipes; do
    "$bench/Maskwork.Bench" masker-probe --json --recipe "$recipe" --seed "$seed" --steps "$steps" \
      --probe-train "$ptrain" --probe-test "$ptest" 2>>"$out/log.txt" | tail -n 1 | tee -a "$results"
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\n| recipe | " + " | ".join(f"seed {s}" for s in sorted({r['seed'] for r in rows})) + " | mean | final loss (mean) |")
print("|---|" + "---|" * (len({r['seed'] for r in rows}) + 2))
for recipe in dict.fromkeys(r["recipe"] for r in rows):
    rs = sorted((r for r in rows if r["recipe"] == recipe), key=lambda r: r["seed"])
    accs = [r["probe_accuracy"] for r in rs]
    print(f"| `{recipe}` | " + " | ".join(f"{a:.4f}" for a in accs) + f" | {statistics.mean(accs):.4f} | {statistics.mean(r['final_loss'] for r in rs):.4f} |")
PY
