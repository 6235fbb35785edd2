#!/usr/bin/env bash
# Quick start: build, pretrain image/mae on Fashion-MNIST, probe it against a random-init encoder, fine-tune it against
# the same model trained from scratch, show where the pictures are.
set -euo pipefail
cd "$(dirname "$0")"
source build/prereqs.sh
mw_require_dotnet
mw_apt_install dataset-fashion-mnist fonts-dejavu-core

echo "== building (Release)" >&2
dotnet build host/Maskwork.Host -c Release -v quiet -nologo -clp:ErrorsOnly
MW=host/Maskwork.Host/bin/Release/net10.0/maskwork
RUN=${1:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}

echo "== pretraining image/mae on fashion-mnist -> $RUN" >&2
"$MW" pretrain --recipe image/mae --data fashion-mnist --out "$RUN"
echo "== linear probe, pretrained encoder" >&2
pre=$("$MW" probe --run "$RUN" --method linear --json | tail -n 1)
echo "== linear probe, randomly initialised encoder of the same recipe" >&2
rnd=$("$MW" probe --run "$RUN" --method linear --random-init --json | tail -n 1)
echo "== fine-tune, pretrained encoder (finetune defaults: 4 epochs on 10,000 labelled images)" >&2
ftp=$("$MW" finetune --run "$RUN" --name pretrained --json | tail -n 1)
echo "== fine-tune, the same model from scratch, same budget" >&2
fts=$("$MW" finetune --run "$RUN" --name scratch --from-scratch --json | tail -n 1)
acc() { sed -E 's/.*"accuracy":([0-9.]+).*/\1/' <<<"$1"; }
echo
echo "linear probe accuracy (Fashion-MNIST test set): pretrained $(acc "$pre")  random init $(acc "$rnd")"
echo "fine-tuned accuracy (test, best val epoch):     pretrained $(acc "$ftp")  from scratch $(acc "$fts")"
echo "run folder:  $RUN"
echo "pictures:    $RUN/loss.png  $RUN/reconstructions.png  $RUN/finetune-pretrained/accuracy.png"
echo "metrics:     $RUN/metrics.parquet   log: $RUN/log.txt"
