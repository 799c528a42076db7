#!/usr/bin/env bash
# Visualise the convolutional filters: ./nvis.sh snapshots/<game>_<epoch>.safetensors [--visualization_filters N]
# Writes results/<game>.html (or --visualization_file), one self-contained page.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn.tools.nvis "$@"
