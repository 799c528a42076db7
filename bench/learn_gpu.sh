#!/usr/bin/env bash
# A learning run on one GPU, timed from the start of training, stopped after SECONDS of wall time
# (issues 11, 12, 21). Usage: bench/learn_gpu.sh GAME OUT_DIR SECONDS [simple_dqn flags], for example
#   bench/learn_gpu.sh pong "$OUT" 330 --preset cpu --num_envs 16 --replay_on_gpu true
# PYTHONPATH must reach the requirements. Writes OUT_DIR/GAME_gpu.csv, its _games.csv, the log,
# and copies the best and the last epoch's snapshots there.
set -uo pipefail
game=${1:?usage: bench/learn_gpu.sh GAME OUT_DIR SECONDS [flags]}
out=${2:?usage: bench/learn_gpu.sh GAME OUT_DIR SECONDS [flags]}
seconds=${3:?usage: bench/learn_gpu.sh GAME OUT_DIR SECONDS [flags]}
shift 3
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi -L
timeout "$seconds" python3 -m simple_dqn "roms/$game.bin" --backend gpu --random_seed 1 --epochs 100 \
    --save_weights_prefix "snapshots/${game}_gpu" --csv_file "$out/${game}_gpu.csv" "$@" > "$out/${game}_gpu.log" 2>&1
grep -E "^20.*(Epoch|Numerics|epoch_time|All done)" "$out/${game}_gpu.log" | tail -40
python3 - "$out" "$game" <<'PY'
import csv, shutil, sys
out, game = sys.argv[1:]
rows = [r for r in csv.DictReader(open(f"{out}/{game}_gpu.csv")) if r["phase"] == "test"]
for r in rows:
    print(r["epoch"], r["total_train_steps"], r["weight_updates"], r["average_reward"], r["total_time"])
best = max(rows, key=lambda r: float(r["average_reward"]))
for epoch in sorted({best["epoch"], rows[-1]["epoch"]}):
    shutil.copy(f"snapshots/{game}_gpu_{epoch}.safetensors", out)
PY
