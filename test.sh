#!/usr/bin/env bash
# Test a snapshot: ./test.sh snapshots/<game>_<epoch>.safetensors [options]
# Plays test_steps steps (or --test_games N whole games) and prints the results; writes
# results/<game>_test.csv (and results/<game>_test_games.csv with --test_games).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: ./test.sh <snapshot> [options]" >&2
    exit 2
fi
snapshot="$1"
shift
base="$(basename "$snapshot" .safetensors)"
prefix="${base%_*}"
epoch="${base##*_}"
case "$epoch" in ''|*[!0-9]*)
    echo "simple_dqn: error: snapshot name $base does not end in _<epoch>; rename it like breakout_12.safetensors" >&2
    exit 2 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn --load_weights "$snapshot" --random_steps 0 --train_steps 0 \
    --start_epoch "$((epoch > 0 ? epoch - 1 : 0))" --epochs "$((epoch > 0 ? epoch : 1))" \
    --csv_file "$here/results/${prefix}_test.csv" "$@"
