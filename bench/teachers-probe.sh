#!/usr/bin/env bash
# Teacher recipes on Fashion-MNIST (issue 22): for each seed, a default image/mae run (the frozen teachers' teacher
# and the baseline), a larger image/mae (DMAE's teacher), then every teacher recipe, each pretrained for the same
# number of steps and linear-probed (the host's `maskwork probe`, Fashion-MNIST test set) against image/mae at the
# same step and a randomly initialised encoder. self-distill starts from mae@STEPS and trains STEPS more, so it is
# also compared with mae@2·STEPS. One JSON line per run in results.jsonl, then a table (accuracy, wall time,
# collapse_warning). Everything through the real CLI, under nice.
#
#   bench/teachers-probe.sh [--steps N] [--big-steps N] [--seeds "0 1"] [--recipes "data2vec mr-mae ..."] [--out DIR]
#                           [--big-teacher RUN_DIR] [--short-mae] [--append]
# --big-teacher: DMAE's teacher for every seed (an existing run) instead of a new 256-d × 8 image/mae per seed;
# --short-mae: train image/mae for STEPS only (no mae@2·STEPS row beside self-distill); --append: add more seeds to an
# earlier run's results in the same --out, with that run's private build (the table covers all of them).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=500 big_steps=250 seeds="0" out=${TMPDIR:-/tmp}/teachers-probe big_teacher="" short_mae=0 append=0
recipes="data2vec mr-mae maskalign jepa self-distill dmae"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --big-steps) big_steps=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --recipes) recipes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --big-teacher) big_teacher=$(realpath -m -- "$2"); shift 2 ;;
    --short-mae) short_mae=1; shift ;;
    --append) append=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "teachers-probe.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
mw="$out/host/maskwork"
results="$out/results.jsonl"
if (( append )); then
  [[ -x $mw && -f $results ]] || { echo "teachers-probe.sh: --append needs an earlier run in $out" >&2; exit 1; }
else
  nice -n 19 dotnet build host/Maskwork.Host -c Release -v quiet -nologo -clp:ErrorsOnly >&2
  rm -rf "$out/host"; cp -r host/Maskwork.Host/bin/Release/net10.0 "$out/host" # a private copy: rebuilding meanwhile does not disturb it
  : > "$results"
fi
echo "teachers-probe: steps $steps, seeds $seeds, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# pretrain NAME RECIPE [--set ...]: one run; prints nothing, records its JSON and wall time.
pretrain() {
  local name=$1 recipe=$2 n=$3; shift 3
  local t0=$SECONDS
  nice -n 19 "$mw" pretrain --recipe "$recipe" --data fashion-mnist --seed "$seed" --steps "$n" --out "$out/runs/$name" --json "$@" \
    2>>"$out/log.txt" | tail -n 1 > "$out/$name.pretrain.json"
  echo $((SECONDS - t0)) > "$out/$name.wall"
}
# probe NAME LABEL [--random-init]: linear probe of a run's last checkpoint; one result line.
probe() {
  local name=$1 label=$2; shift 2
  local acc; acc=$(nice -n 19 "$mw" probe --run "$out/runs/$name" --method linear --json "$@" 2>>"$out/log.txt" | tail -n 1)
  /usr/bin/python3 - "$label" "$seed" "$acc" "$out/$name.pretrain.json" "$out/$name.wall" >>"$results" <<'PY'
import json, sys, os
label, seed, probe, pre, wall = sys.argv[1:]
p = json.loads(open(pre).read() or "{}") if os.path.exists(pre) else {}
print(json.dumps({"recipe": label, "seed": int(seed), "accuracy": json.loads(probe)["accuracy"],
  "wall_s": int(open(wall).read()) if os.path.exists(wall) else None, "final_loss": p.get("final_loss"),
  "collapse_warning": p.get("collapse_warning"), "feature_std": p.get("feature_std"), "teacher_share": p.get("teacher_share")}))
PY
}
# at NAME STEP: a view of run NAME whose last checkpoint is step STEP.
at() {
  local v="$out/runs/$1-at$2"; rm -rf "$v"; mkdir -p "$v/checkpoints"
  cp "$out/runs/$1/config.json" "$v/"; cp "$out/runs/$1/checkpoints/step-$2.ckpt" "$v/checkpoints/last.ckpt"
}

for seed in $seeds; do
  mae=mae-s$seed
  long=$(( short_mae ? 1 : 2 ))
  pretrain "$mae" image/mae $((long * steps)) --set train.checkpoint_every="$steps"
  at "$mae" "$steps" # (no wall time of its own when it is the first half of the 2·STEPS run)
  probe "$mae-at$steps" "image/mae@$steps"
  probe "$mae-at$steps" "random init" --random-init
  if [[ " $recipes " == *" self-distill "* ]] && (( !short_mae )); then probe "$mae" "image/mae@$((2 * steps))"; fi
  big="$out/runs/mae-big-s$seed"
  if [[ -n $big_teacher ]]; then big=$big_teacher
  elif [[ " $recipes " == *" dmae "* ]]; then
    pretrain "mae-big-s$seed" image/mae "$big_steps" --set model.encoder_dim=256 --set model.encoder_depth=8 --set model.encoder_heads=8
  fi
  for r in $recipes; do
    case $r in
      data2vec|jepa) pretrain "$r-s$seed" "image/$r" "$steps" ;;
      mr-mae|maskalign) pretrain "$r-s$seed" "image/$r" "$steps" --set model.teacher="$out/runs/$mae-at$steps" ;;
      self-distill) pretrain "$r-s$seed" "image/$r" "$steps" --set model.teacher="$out/runs/$mae@$steps" ;;
      dmae) pretrain "$r-s$seed" "image/$r" "$steps" --set model.teacher="$big" ;;
      *) echo "teachers-probe.sh: unknown recipe $r" >&2; exit 2 ;;
    esac
    probe "$r-s$seed" "image/$r"
  done
done

/usr/bin/python3 bench/seed_table.py "$results" accuracy probe
