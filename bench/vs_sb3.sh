#!/usr/bin/env bash
# Compare with Stable-Baselines3's DQN: bench/vs_sb3.sh [options of bench/vs_sb3.py]
# Installs this project's requirements and stable-baselines3 into bench/.venv (bench only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then
    echo "bench: creating bench/.venv with the requirements and stable-baselines3 (bench only) ..." >&2
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/../requirements.txt" \
        "stable-baselines3==2.9.2" >&2
fi
exec "$here/.venv/bin/python" "$here/vs_sb3.py" "$@"
