#!/usr/bin/env bash
# Fixed-seed runs whose CSV rows and weights a refactor must not change; prints their digests.
#   bench/fingerprint.sh OUT_FOLDER          (run before and after a change, then diff the two outputs)
# Catch with 1 and 3 games (random starts, checkpoints), Pong with 1 game and with 2 on ALE's vector environment.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"; out="$(mkdir -p "$1" && cd "$1" && pwd)"
PY=${PYTHON:-python}
C="catch --replay_size 20000 --random_steps 500 --train_steps 800 --test_steps 400 --epochs 2 --exploration_decay_steps 1500 --target_steps 100 --train_frequency 2 --optimizer adam --learning_rate 0.001 --screen_width 36 --screen_height 36 --random_seed 1 --threads 1 --log_level WARNING --overwrite"
for n in 1 3; do
  PYTHONPATH=src $PY -m simple_dqn $C --random_starts 5 --num_envs $n --csv_file "$out"/catch$n.csv --save_weights_prefix "$out"/catch$n --checkpoint >/dev/null
done
PYTHONPATH=src $PY -m simple_dqn roms/pong.bin --num_envs 2 --frame_pooling max --replay_size 5000 --random_steps 300 --train_steps 600 --test_steps 300 --epochs 1 --train_frequency 4 --random_seed 1 --threads 1 --log_level WARNING --overwrite --csv_file "$out"/pong2.csv --save_weights_prefix "$out"/pong2 >/dev/null
PYTHONPATH=src $PY -m simple_dqn roms/pong.bin --num_envs 1 --replay_size 5000 --random_steps 300 --train_steps 400 --test_steps 300 --epochs 1 --train_frequency 4 --random_seed 1 --threads 1 --log_level WARNING --overwrite --csv_file "$out"/pong1.csv --save_weights_prefix "$out"/pong1 >/dev/null
cd "$out" && for f in *.csv; do cut -d, -f1-13 $f | md5sum | sed "s/-/$f/"; done; $PY "$here/bench/fingerprint_weights.py" *.safetensors
