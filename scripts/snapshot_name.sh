# Sourced by test.sh and resume.sh: split the snapshot named in $1 into $snapshot, $prefix and
# $epoch by the one rule "the prefix is everything before the last _<epoch>".
if [ $# -lt 1 ]; then
    echo "usage: $(basename "$0") <snapshot> [options]" >&2
    exit 2
fi
snapshot="$1"
base="$(basename "$snapshot" .safetensors)"
prefix="${base%_*}"
epoch="${base##*_}"
case "$epoch" in ''|*[!0-9]*)
    echo "simple_dqn: error: snapshot name $base does not end in _<epoch>; rename it like breakout_12.safetensors" >&2
    exit 2 ;;
esac
