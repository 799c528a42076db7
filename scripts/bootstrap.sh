# Sourced by the shell scripts: make sure a Python environment with simple_dqn is active.
# Reuses an active virtual environment; otherwise creates .venv on first use and installs
# requirements.txt into it. Copies ale-py's bundled ROMs into roms/ (byte-identical to the
# original simple_dqn's roms/).
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_stamp_of() { cat "$_root/requirements.txt" "$_root/pyproject.toml" | cksum | cut -d' ' -f1; }

if [ -z "${VIRTUAL_ENV:-}" ]; then
    if [ ! -x "$_root/.venv/bin/python" ]; then
        echo "simple_dqn: first use: creating .venv and installing requirements.txt (a few minutes)..." >&2
        python3 -m venv "$_root/.venv" || { echo "simple_dqn: error: cannot create .venv; install python3-venv" >&2; exit 2; }
    fi
    # shellcheck disable=SC1091
    . "$_root/.venv/bin/activate"
fi

_stamp_file="$VIRTUAL_ENV/.simple_dqn_installed"
if [ "$(cat "$_stamp_file" 2>/dev/null)" != "$(_stamp_of)" ]; then
    echo "simple_dqn: installing requirements.txt into $VIRTUAL_ENV ..." >&2
    python -m pip install --quiet --disable-pip-version-check -r "$_root/requirements.txt" >&2 \
        && python -m pip install --quiet --disable-pip-version-check --no-deps -e "$_root" >&2 \
        || { echo "simple_dqn: error: installing the requirements failed (see above)" >&2; exit 2; }
    _stamp_of > "$_stamp_file"
fi

if ! ls "$_root"/roms/*.bin >/dev/null 2>&1; then
    python - "$_root/roms" <<'PY' >&2
import pathlib, shutil, sys
import ale_py
src = pathlib.Path(ale_py.__file__).parent / "roms"
dst = pathlib.Path(sys.argv[1])
dst.mkdir(exist_ok=True)
for rom in src.glob("*.bin"):
    shutil.copyfile(rom, dst / rom.name)
print(f"simple_dqn: copied {len(list(src.glob('*.bin')))} ROMs from ale-py into roms/")
PY
fi
