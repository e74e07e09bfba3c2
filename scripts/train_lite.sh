#!/usr/bin/env bash
# Train the two lite models side by side in the background, one CPU thread each:
#   runs/lite-msit  (configs/lite-msit.yaml)   runs/lite-liif  (configs/lite-liif.yaml)
# Logs go to runs/lite-*/train.log (plus log.csv / val.csv / tb/). Safe to re-run: each run
# continues from its last checkpoint (--resume), and a finished run exits at once.
# Usage: scripts/train_lite.sh [extra msit-lite train args, e.g. --data-root DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for name in msit liif; do
  out="runs/lite-$name"
  mkdir -p "$out"
  if [ -f "$out/train.pid" ] && kill -0 "$(cat "$out/train.pid")" 2>/dev/null; then
    echo "lite-$name is already running (pid $(cat "$out/train.pid"))"
    continue
  fi
  nohup python -m msit_lite train --config "configs/lite-$name.yaml" --out "$out" --resume \
    --threads 1 --device cpu --no-progress "$@" >> "$out/train.log" 2>&1 &
  echo $! > "$out/train.pid"
  echo "started lite-$name (pid $!), log: $out/train.log"
done
