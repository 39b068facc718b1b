#!/bin/sh
# make demo: the main job end to end on the built-in phantom data.
#   tools/demo.sh BUILD_DIR OUT_DIR
# 1. netdx synth    phantom mammograms with lesion masks (100 patients)
# 2. netdx patches  sliding-window patches, labels, patient split
# 3. netdx train    the small `tiny` CNN, 64 px patches, validation AUC
# 4. netdx dissect  the units of its last convolutional block on the
#                   validation patches: units.csv, unit images, index.html
# 5. netdx report   when OUT_DIR/answers.jsonl exists (the survey's export):
#                   the BI-RADS comparison into OUT_DIR/report/index.html
# Every stage writes plain files into OUT_DIR and can be re-run alone.
set -eu
B=${1:-build}
OUT=${2:-demo}
N=$B/netdx
SEED=1

$N info
echo "== 1/4 synth"
$N synth --out "$OUT/data" --patients 100 --seed $SEED
echo "== 2/4 patches"
$N patches --data "$OUT/data"
echo "== 3/4 train"
$N train --arch tiny --data "$OUT/data" --input-size 64 --epochs 5 --batch 32 \
    --lr 0.01 --flips --seed $SEED --out "$OUT/model.safetensors"
echo "== 4/4 dissect"
$N dissect --model "$OUT/model.safetensors" --data "$OUT/data" --split val \
    --layer features.17 --topk 32 --out "$OUT/dissection"
if [ -f "$OUT/answers.jsonl" ]; then
    echo "== report"
    $N report --survey "$OUT/answers.jsonl" --dissection "$OUT/dissection" --out "$OUT/report"
fi
echo
echo "demo done: $OUT/data (phantoms, patches.csv), $OUT/model.safetensors"
echo "(with metrics.json, roc.png, loss.png beside it), $OUT/dissection/index.html"
