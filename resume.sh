#!/usr/bin/env bash
# Resume training from a snapshot: ./resume.sh snapshots/<game>_<epoch>.safetensors [options]
# Continues at epoch <epoch>+1 with the exploration rate of that point, appending to
# results/<game>.csv and saving snapshots/<game>_<epoch>.safetensors as before.
# With a checkpoint beside the snapshot (--checkpoint) everything is restored; otherwise the
# replay memory starts empty (refilled by --random_steps), as in the original.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/snapshot_name.sh"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn --load_weights "$snapshot" --start_epoch "$epoch" \
    --save_weights_prefix "$here/snapshots/$prefix" --csv_file "$here/results/$prefix.csv" ${rest[@]+"${rest[@]}"}
