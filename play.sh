#!/usr/bin/env bash
# Watch a snapshot play: ./play.sh snapshots/<game>_<epoch>.safetensors [--display auto|window|terminal] [options]
# Keys: a slower, s faster, m manual control (arrows, space), [ ] volume, q quit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn.tools.play "$@"
