#!/usr/bin/env bash
# The quick start's second command: fine-tune the encoder that ./run.sh pretrained, against the same model trained
# from scratch with the same budget (finetune defaults: 4 epochs on 10,000 labelled Fashion-MNIST images, test accuracy
# at the best validation epoch). ./run.sh prints this command with its run folder.
#
#   ./finetune.sh [RUN]     RUN defaults to the newest runs/quickstart-* folder
set -euo pipefail
given=${1:+$(realpath -m -- "$1")} # resolved before the cd below, so a path relative to the caller works
cd "$(dirname "$0")"
case "${1:-}" in -h|--help) sed -n '2,6p' "$0"; exit 0 ;; esac
MW=host/Maskwork.Host/bin/Release/net10.0/maskwork
[[ -x $MW ]] || { echo "finetune.sh: $MW is not built; run ./run.sh first" >&2; exit 1; }
RUN=${given:-$(ls -dt runs/quickstart-* 2>/dev/null | head -n 1)}
[[ -n $RUN && -f $RUN/config.json ]] || { echo "finetune.sh: no pretraining run${1:+ at $1}; run ./run.sh first or pass its run folder" >&2; exit 1; }

echo "== fine-tune, pretrained encoder of $RUN" >&2
ftp=$("$MW" finetune --run "$RUN" --name pretrained --json | tail -n 1)
echo "== fine-tune, the same model from scratch, same budget" >&2
fts=$("$MW" finetune --run "$RUN" --name scratch --from-scratch --json | tail -n 1)
acc() { sed -E 's/.*"accuracy":([0-9.]+).*/\1/' <<<"$1"; }
echo
echo "fine-tuned accuracy (test, best val epoch): pretrained $(acc "$ftp")  from scratch $(acc "$fts")"
echo "pictures: $RUN/finetune-pretrained/accuracy.png  $RUN/finetune-scratch/accuracy.png"
