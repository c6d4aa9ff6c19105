#!/bin/sh
# smoke.sh — CTest smoke test for one example: a private runtime dir, optionally
# a publisher in the background, the example run to its end, its output checked.
# Usage: smoke.sh [--pub PUBLISHER ARGS... --] [--expect REGEX]
#                 [--max-empty-percent P] EXAMPLE ARGS...
# --max-empty-percent: the example's last line says "C callbacks, E found
# nothing"; E must be under P% of C.
set -u
dir=$(mktemp -d /tmp/vdds-smoke-XXXXXX) || exit 1
export VDDS_DIR="$dir"
out="$dir/out"
pub_pid=
cleanup() {
	[ -n "$pub_pid" ] && kill "$pub_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

if [ "${1:-}" = "--pub" ]; then
	shift
	pub=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		pub="$pub $1"
		shift
	done
	shift
	# shellcheck disable=SC2086 # the publisher's words are split on purpose
	$pub &
	pub_pid=$!
fi
expect=
if [ "${1:-}" = "--expect" ]; then
	expect=$2
	shift 2
fi
max_empty=
if [ "${1:-}" = "--max-empty-percent" ]; then
	max_empty=$2
	shift 2
fi

"$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ]; then
	echo "smoke: $1 exited with $rc"
	exit 1
fi
if [ -n "$expect" ] && ! grep -Eq "$expect" "$out"; then
	echo "smoke: $1: output does not match /$expect/"
	exit 1
fi
if [ -n "$max_empty" ] && ! sed -n 's/.* \([0-9]*\) callbacks, \([0-9]*\) found nothing.*/\1 \2/p' "$out" |
	awk -v p="$max_empty" 'NF == 2 { seen = 1; ok = $2 * 100 < p * $1 } END { exit !(seen && ok) }'; then
	echo "smoke: $1: callbacks that found nothing not under $max_empty%"
	exit 1
fi
if [ -n "$pub_pid" ]; then
	wait "$pub_pid"
	prc=$?
	pub_pid=
	if [ $prc -ne 0 ]; then
		echo "smoke: the publisher exited with $prc"
		exit 1
	fi
fi
echo "smoke: $1 ok"
