#!/usr/bin/env bash
# Profile random mode, no network calls: the cost of the environment.
# Pong, 1000 steps, under cProfile sorted by cumulative time: ./profile_random.sh [options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m cProfile -s cumtime -m simple_dqn roms/pong.bin --random_steps 1000 --train_steps 0 --test_steps 0 --replay_size 10000 --epochs 1 --backend cpu "$@"
