#!/usr/bin/env bash
# Evaluate bicubic and the two shipped lite models on the benchmark sets (benchmark protocol:
# Y channel, shave = scale; stored MATLAB LR files for x2-x4, MATLAB-exact imresize beyond).
# Writes results/lite/{bicubic,lite-liif,lite-msit}.{json,csv}. One thread per model, side by side.
# Usage: scripts/eval_lite.sh [SETS...]   (default: Set5 Set14 B100)
set -euo pipefail
cd "$(dirname "$0")/.."
sets=("${@:-Set5 Set14 B100}")
read -r -a sets <<< "${sets[*]}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p results/lite
common=(--datasets "${sets[@]}" --scales 2 3 4 6 8 --protocol benchmark --lr-source files --no-progress)
msit-lite eval --model bicubic "${common[@]}" --json results/lite/bicubic.json --csv results/lite/bicubic.csv
for m in liif msit; do
  ( time msit-lite eval --checkpoint "checkpoints/lite-$m" "${common[@]}" \
    --json "results/lite/lite-$m.json" --csv "results/lite/lite-$m.csv" ) > "results/lite/lite-$m.txt" 2>&1 &
done
wait
cat results/lite/lite-liif.txt results/lite/lite-msit.txt
