#!/usr/bin/env bash
# Quick start: build, pretrain image/mae on Fashion-MNIST, probe it against a random-init encoder, show where the
# pictures are and the second command (./finetune.sh RUN: fine-tune it against the same model trained from scratch).
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
acc() { sed -E 's/.*"accuracy":([0-9.]+).*/\1/' <<<"$1"; }
echo
echo "linear probe accuracy (Fashion-MNIST test set): pretrained $(acc "$pre")  random init $(acc "$rnd")"
echo "run folder:  $RUN"
echo "pictures:    $RUN/loss.png  $RUN/reconstructions.png"
echo "metrics:     $RUN/metrics.parquet   log: $RUN/log.txt"
echo "next:        ./finetune.sh $RUN   # fine-tune it against the same model trained from scratch"
