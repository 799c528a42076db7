# Sourced by test.sh and resume.sh: find the snapshot among the arguments (the first one ending in
# .safetensors, so options may come before it; else the first argument), leave the others in
# $rest, and split the snapshot into $snapshot, $prefix and $epoch by the one rule "the prefix is
# everything before the last _<epoch>".
if [ $# -lt 1 ]; then
    echo "usage: $(basename "$0") <snapshot> [options]" >&2
    exit 2
fi
snapshot=""
rest=()
for arg in "$@"; do
    if [ -z "$snapshot" ] && [ "${arg%.safetensors}" != "$arg" ]; then
        snapshot="$arg"
    else
        rest+=("$arg")
    fi
done
if [ -z "$snapshot" ]; then
    snapshot="$1"
    rest=("${@:2}")
fi
base="$(basename -- "$snapshot" .safetensors)"
prefix="${base%_*}"
epoch="${base##*_}"
case "$epoch" in ''|*[!0-9]*)
    echo "simple_dqn: error: snapshot name $base does not end in _<epoch>; rename it like breakout_12.safetensors" >&2
    exit 2 ;;
esac
