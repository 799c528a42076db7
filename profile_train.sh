#!/usr/bin/env bash
# Profile train mode with exploration fixed at 1: the cost of training.
# Pong, 1000 steps, under cProfile sorted by cumulative time: ./profile_train.sh [options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m cProfile -s cumtime -m simple_dqn roms/pong.bin --random_steps 0 --train_steps 1000 --test_steps 0 --exploration_rate_start 1 --exploration_rate_end 1 --replay_size 10000 --epochs 1 --backend cpu "$@"
