#!/usr/bin/env bash
# A grid of training runs on Ray Tune: ./sweep.sh --games pong breakout --seeds 3 [--grid option=v1,v2] [train options]
# Writes sweeps/<name>/results/*.csv, snapshots/, tensorboard/ and sweep.csv; see ./sweep.sh --help.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn.tools.sweep "$@"
