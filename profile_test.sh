#!/usr/bin/env bash
# Profile test mode with exploration 0: the cost of prediction.
# Pong, 1000 steps, under cProfile sorted by cumulative time: ./profile_test.sh [options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m cProfile -s cumtime -m simple_dqn roms/pong.bin --random_steps 0 --train_steps 0 --test_steps 1000 --exploration_rate_test 0 --replay_size 10000 --epochs 1 --backend cpu "$@"
