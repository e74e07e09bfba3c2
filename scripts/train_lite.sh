#!/usr/bin/env bash
# Train lite models in the background, one CPU thread each, side by side:
#   runs/lite-msit  (configs/lite-msit.yaml)   runs/lite-liif  (configs/lite-liif.yaml)
# and, after stage 1 has been copied to checkpoints/lite-msit (see checkpoints/lite-msit/MODEL_CARD.md):
#   LITE_RUNS="msit-rim msit-cont" scripts/train_lite.sh
#   runs/lite-msit-rim  (stage 2, RIM, --init checkpoints/lite-msit)
#   runs/lite-msit-cont (its control: plain convs continued for the same steps, --init checkpoints/lite-msit)
#   runs/lite-msit-nofem (FEM removed, continued like -cont: the FEM on/off pair of notebook 10)
# Logs go to runs/lite-*/train.log (plus log.csv / val.csv / tb/). Safe to re-run: each run
# continues from its last checkpoint (--resume), and a finished run exits at once.
# Usage: [LITE_RUNS="msit liif"] scripts/train_lite.sh [extra msit-lite train args, e.g. --data-root DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
read -r -a runs <<< "${LITE_RUNS:-msit liif}"
for name in "${runs[@]}"; do
  out="runs/lite-$name"
  init=()
  case "$name" in
    msit-rim|msit-cont|msit-nofem) init=(--init checkpoints/lite-msit) ;;
  esac
  mkdir -p "$out"
  if [ -f "$out/train.pid" ] && kill -0 "$(cat "$out/train.pid")" 2>/dev/null; then
    echo "lite-$name is already running (pid $(cat "$out/train.pid"))"
    continue
  fi
  nohup python -m msit_lite train --config "configs/lite-$name.yaml" --out "$out" --resume \
    --threads 1 --device cpu --no-progress "${init[@]}" "$@" >> "$out/train.log" 2>&1 &
  echo $! > "$out/train.pid"
  echo "started lite-$name (pid $!), log: $out/train.log"
done
