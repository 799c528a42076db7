#!/usr/bin/env bash
# Train an agent: ./train.sh <rom> [label] [options] (options may also come first)
# Writes results/<game>[_label].csv and snapshots/<game>[_label]_<epoch>.safetensors.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: ./train.sh <rom or game> [label] [options]" >&2
    exit 2
fi
# The ROM is the first argument naming a game (a .bin file, an ALE/ id or catch; options may come
# before it), else the first argument; a label is the argument right after it, unless an option.
at=1
i=1
for arg in "$@"; do
    case "$arg" in *.bin|ALE/*|catch) at=$i; break ;; esac
    i=$((i + 1))
done
rom="${!at}"
rest=("${@:1:at-1}")
shift "$at"
name="$(basename "$rom" .bin)"
name="${name#ALE/}"
name="${name//\//_}"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    name="${name}_$1"
    shift
fi
set -- ${rest[@]+"${rest[@]}"} "$@"
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn "$rom" --save_weights_prefix "$here/snapshots/$name" --csv_file "$here/results/$name.csv" "$@"
