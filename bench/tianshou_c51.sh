#!/usr/bin/env bash
# Tianshou's own C51 on this machine: bench/tianshou_c51.sh --csv_file results/X.csv [options of bench/tianshou_c51.py]
# Installs Tianshou, envpool and PyTorch into bench/.venv-tianshou (bench only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv-tianshou/bin/python" ]; then
    echo "bench: creating bench/.venv-tianshou with tianshou 1.1.0 and envpool 1.2.5 (bench only) ..." >&2
    python3 -m venv "$here/.venv-tianshou"
    "$here/.venv-tianshou/bin/pip" install --quiet --disable-pip-version-check "torch==2.13.0" \
        "tianshou==1.1.0" "envpool==1.2.5" >&2
fi
exec "$here/.venv-tianshou/bin/python" "$here/tianshou_c51.py" "$@"
