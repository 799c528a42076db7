#!/usr/bin/env bash
# Test a snapshot: ./test.sh snapshots/<game>_<epoch>.safetensors [options]
# Plays test_steps steps (or --test_games N whole games) and prints the results; writes
# results/<game>_test.csv (and results/<game>_test_games.csv with --test_games).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/snapshot_name.sh"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn --load_weights "$snapshot" --random_steps 0 --train_steps 0 \
    --start_epoch "$((epoch > 0 ? epoch - 1 : 0))" --epochs "$((epoch > 0 ? epoch : 1))" \
    --csv_file "$here/results/${prefix}_test.csv" ${rest[@]+"${rest[@]}"}
