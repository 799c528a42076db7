#!/usr/bin/env bash
# Resume training from a snapshot: ./resume.sh snapshots/<game>_<epoch>.safetensors [options]
# Continues at epoch <epoch>+1 with the exploration rate of that point, appending to
# results/<game>.csv and saving snapshots/<game>_<epoch>.safetensors as before.
# The replay memory starts empty (refilled by --random_steps), as in the original.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: ./resume.sh <snapshot> [options]" >&2
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
exec python -m simple_dqn --load_weights "$snapshot" --start_epoch "$epoch" \
    --save_weights_prefix "$here/snapshots/$prefix" --csv_file "$here/results/$prefix.csv" "$@"
