#!/usr/bin/env bash
# Plot learning curves: ./plot.sh results/breakout.csv [more.csv ...] [options]
# Writes results/breakout.png (or --png_file); see ./plot.sh --help.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m simple_dqn.tools.plot "$@"
