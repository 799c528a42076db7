#!/usr/bin/env bash
# Pong to a 30-game test average >= +18 on one GPU, timed from the start of training
# (issues 11 and 12): the lapan preset over 8 games, the replay memory on the GPU.
# Usage: bench/pong_gpu.sh OUT_DIR [more simple_dqn flags]; PYTHONPATH must reach the
# requirements. Writes OUT_DIR/pong_gpu.csv, its _games.csv, the log, the best snapshot.
set -uo pipefail
out=${1:?usage: bench/pong_gpu.sh OUT_DIR [flags]}
shift
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi -L
timeout "${PONG_SECONDS:-540}" python3 -m simple_dqn roms/pong.bin --preset lapan --num_envs 8 \
    --replay_on_gpu true --backend gpu --random_seed 1 --epochs 20 --save_weights_prefix snapshots/pong_gpu \
    --csv_file "$out/pong_gpu.csv" "$@" > "$out/pong_gpu.log" 2>&1
grep -E "^20.*(Epoch|num_games|epoch_time|All done)" "$out/pong_gpu.log" | tail -80
python3 - "$out" <<'PY'
import csv, shutil, sys
out = sys.argv[1]
rows = [r for r in csv.DictReader(open(f"{out}/pong_gpu.csv")) if r["phase"] == "test"]
for r in rows:
    print(r["epoch"], r["total_train_steps"], r["weight_updates"], r["average_reward"], r["epoch_time"])
best = max(rows, key=lambda r: float(r["average_reward"]))
for epoch in sorted({best["epoch"], rows[-1]["epoch"]}):
    shutil.copy(f"snapshots/pong_gpu_{epoch}.safetensors", out)
PY
