#!/usr/bin/env bash
# Run the test suite: ./run_tests.sh [pytest options]
# On first use creates .venv and installs requirements.txt (see scripts/bootstrap.sh).
# Two pytest-xdist workers: most tests are one Python thread driving small networks, so two of them
# keep both cores busy (the runs they start take torch threads from the cores left free);
# -n 0 runs them one at a time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m pytest tests -n 2 "$@"
