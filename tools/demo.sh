#!/bin/sh
# make demo: the main job end to end on the built-in phantom data.
#   tools/demo.sh BUILD_DIR OUT_DIR
# 1. netdx synth    phantom mammograms with lesion masks (100 patients)
# 2. netdx patches  sliding-window patches, labels, patient split
# 3. netdx train    the small `tiny` CNN, 64 px patches, validation AUC
# 4. netdx dissect  the units of its last convolutional block on the
#                   validation patches: units.csv, unit images, index.html
# 5. netdx survey   a reader survey over the dissection (45 units + 3
#                   repeats), 3 simulated readers, answers.jsonl; an existing
#                   OUT_DIR/survey.sqlite is kept (never overwritten)
# 6. netdx report   the BI-RADS comparison of those answers into
#                   OUT_DIR/report/index.html, titled as simulated
# 7. netdx explain  one test-split mammogram (the first with a malignant
#                   patch): heat map, top units, the simulated readers'
#                   labels, into OUT_DIR/explain/index.html
# Every stage writes plain files into OUT_DIR and can be re-run alone.
set -eu
B=${1:-build}
OUT=${2:-demo}
N=$B/netdx
SEED=1

$N info
echo "== 1/7 synth"
$N synth --out "$OUT/data" --patients 100 --seed $SEED
echo "== 2/7 patches"
$N patches --data "$OUT/data"
echo "== 3/7 train"
$N train --arch tiny --data "$OUT/data" --input-size 64 --epochs 5 --batch 32 \
    --lr 0.01 --flips --seed $SEED --out "$OUT/model.safetensors"
echo "== 4/7 dissect"
$N dissect --model "$OUT/model.safetensors" --data "$OUT/data" --split val \
    --layer features.17 --topk 32 --out "$OUT/dissection"
echo "== 5/7 survey"
if [ -e "$OUT/survey.sqlite" ]; then
    echo "$OUT/survey.sqlite exists: kept as it is (remove it to build a new one)"
else
    $N survey init --db "$OUT/survey.sqlite" --dissection "$OUT/dissection" \
        --data "$OUT/data" --model "$OUT/model.safetensors" --units 45 --repeats 3 --seed $SEED
    $N survey simulate --db "$OUT/survey.sqlite" --readers 3 --seed $SEED
fi
$N survey export --db "$OUT/survey.sqlite" --out "$OUT/answers.jsonl"
echo "== 6/7 report"
$N report --survey "$OUT/answers.jsonl" --dissection "$OUT/dissection" --out "$OUT/report"
echo "== 7/7 explain"
IMAGE=$(awk -F, '$9 == "test" && $8 == 1 { print $3; exit }' "$OUT/data/patches.csv")
[ -n "$IMAGE" ] || IMAGE=$(awk -F, '$9 == "test" { print $3; exit }' "$OUT/data/patches.csv")
$N explain --model "$OUT/model.safetensors" --image "$OUT/data/$IMAGE" \
    --labels "$OUT/answers.jsonl" --dissection "$OUT/dissection" --out "$OUT/explain"
echo
echo "survey: add a reader and serve it (the link is printed once):"
echo "  $N survey reader add --db $OUT/survey.sqlite YOUR_NAME --role radiologist --admin"
echo "  $N survey serve --db $OUT/survey.sqlite     # then open the link in a browser"
echo
echo "demo done: $OUT/data (phantoms, patches.csv), $OUT/model.safetensors"
echo "(with metrics.json, roc.png, loss.png beside it), $OUT/dissection/index.html,"
echo "$OUT/survey.sqlite, $OUT/answers.jsonl (3 simulated readers), $OUT/report/index.html"
echo "and $OUT/explain/index.html (one test mammogram explained)"
