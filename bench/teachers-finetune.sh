#!/usr/bin/env bash
# Fine-tunes the runs that bench/teachers-probe.sh pretrained (issue 22's second measure): for each seed, image/mae at
# STEPS, every teacher recipe, and the same encoder from scratch (the random-init baseline), each with `maskwork
# finetune`'s defaults (4 epochs on 10,000 labelled Fashion-MNIST images, test accuracy at the best val epoch, as
# ./finetune.sh). One JSON line per fine-tune in finetune.jsonl, then a table. Run it after teachers-probe.sh with the
# same --out, --steps and --seeds.
#
#   bench/teachers-finetune.sh [--steps N] [--seeds "0 1"] [--recipes "data2vec mr-mae ..."] [--out DIR] [--append]
# --append: add these seeds to the fine-tunes already in DIR/finetune.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=500 seeds="0" out=${TMPDIR:-/tmp}/teachers-probe append=0
recipes="data2vec mr-mae maskalign jepa self-distill dmae"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --recipes) recipes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --append) append=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "teachers-finetune.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mw="$out/host/maskwork"
[[ -x $mw ]] || { echo "teachers-finetune.sh: $mw is missing: run bench/teachers-probe.sh --out $out first" >&2; exit 1; }
results="$out/finetune.jsonl"; (( append )) || : > "$results"
echo "teachers-finetune: steps $steps, seeds $seeds, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# finetune RUN LABEL [--from-scratch]: one fine-tune of a run's last checkpoint; one result line.
finetune() {
  local run=$1 label=$2; shift 2
  [[ -f $out/runs/$run/checkpoints/last.ckpt ]] || { echo "teachers-finetune.sh: $out/runs/$run has no checkpoint: skipped" >&2; return 0; }
  local t0=$SECONDS name=${1:+scratch}; name=${name:-pretrained}
  local line; line=$(nice -n 19 "$mw" finetune --run "$out/runs/$run" --name "$name" --json "$@" 2>>"$out/finetune-log.txt" | tail -n 1)
  /usr/bin/python3 - "$label" "$seed" "$line" $((SECONDS - t0)) >>"$results" <<'PY'
import json, sys
label, seed, line, wall = sys.argv[1:]
print(json.dumps({"recipe": label, "seed": int(seed), "finetune_accuracy": json.loads(line)["accuracy"], "wall_s": int(wall)}))
PY
}

for seed in $seeds; do
  finetune "mae-s$seed-at$steps" "from scratch" --from-scratch
  finetune "mae-s$seed-at$steps" "image/mae@$steps"
  for r in $recipes; do finetune "$r-s$seed" "image/$r"; done
done

/usr/bin/python3 bench/seed_table.py "$results" finetune_accuracy fine-tune
