#!/usr/bin/env bash
# Record one game: ./record.sh snapshots/<game>_<epoch>.safetensors [--record_sound] [options]
# Writes videos/<game>/NNNNNN.png and videos/<game>_<epoch>.mp4 (H.264, 60 fps).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn.tools.record "$@"
