#!/usr/bin/env bash
# Run the test suite: ./run_tests.sh [pytest options]
# On first use creates .venv and installs requirements.txt (see scripts/bootstrap.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/scripts/bootstrap.sh"
exec python -m pytest tests "$@"
