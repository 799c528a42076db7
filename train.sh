#!/usr/bin/env bash
# Train an agent: ./train.sh <rom> [label] [options]
# Writes results/<game>[_label].csv and snapshots/<game>[_label]_<epoch>.safetensors.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: ./train.sh <rom or game> [label] [options]" >&2
    exit 2
fi
rom="$1"
shift
name="$(basename "$rom" .bin)"
name="${name#ALE/}"
name="${name//\//_}"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    name="${name}_$1"
    shift
fi
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn "$rom" --save_weights_prefix "$here/snapshots/$name" --csv_file "$here/results/$name.csv" "$@"
