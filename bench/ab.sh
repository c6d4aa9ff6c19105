#!/bin/sh
# ab.sh — before/after in one run: builds the benchmarks of two revisions and
# runs the key latency and throughput cases alternately, then prints the
# medians and their ratio (after / before) as a markdown table.
# Usage: bench/ab.sh BEFORE_REF [AFTER_REF]   (default AFTER: the working tree)
# Environment: AB_ROUNDS (default 5), AB_ITERS (default 20000),
# AB_CASES to run a subset (space-separated names from the list below).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || {
	echo "usage: bench/ab.sh BEFORE_REF [AFTER_REF]" >&2
	exit 2
}
rounds=${AB_ROUNDS:-5}
iters=${AB_ITERS:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# A revision's source tree: a git ref exported, or the working tree itself.
tree_of() {
	if [ -z "$1" ]; then
		echo "$repo"
		return
	fi
	mkdir -p "$work/src-$2"
	git -C "$repo" archive "$1" | tar -x -C "$work/src-$2"
	echo "$work/src-$2"
}

build() {
	cmake -S "$1" -B "$work/build-$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDDS_BUILD_TESTS=OFF \
		-DVDDS_BUILD_EXAMPLES=OFF >"$work/cmake-$2.log" 2>&1 &&
		cmake --build "$work/build-$2" -j "$(getconf _NPROCESSORS_ONLN)" \
			--target vdds_pingpong vdds_fanout >>"$work/cmake-$2.log" 2>&1 || {
		tail -n 20 "$work/cmake-$2.log" >&2
		exit 1
	}
}

build "$(tree_of "$1" a)" a
build "$(tree_of "${2:-}" b)" b

# name|program|arguments; latency cases report p50 ns, throughput msgs/s
cases="wait-same|pingpong|--mode vdds-wait --cpus same
wait-cross|pingpong|--mode vdds-wait --cpus cross
fd-epoll-same|pingpong|--mode vdds-epoll --cpus same
fd-epoll-cross|pingpong|--mode vdds-epoll --cpus cross
ws-uring-same|pingpong|--mode vdds-ws-uring --cpus same
ws-epoll-same|pingpong|--mode vdds-ws-epoll --cpus same
spin-cross|pingpong|--mode vdds-spin --cpus cross
fanout-sleep-1|fanout|--subs 1 --wait sleep --millis 400
fanout-sleep-4|fanout|--subs 4 --wait sleep --millis 400
fanout-busy-1|fanout|--subs 1 --wait busy --millis 400"

one() { # side name program args...
	side=$1 name=$2 prog=$3
	shift 3
	if [ "$prog" = pingpong ]; then
		out=$(timeout 120 "$work/build-$side/bench/vdds_pingpong" --iters "$iters" "$@")
		v=$(echo "$out" | sed -n 's/.* p50=\([0-9]*\).*/\1/p')
	else
		out=$(timeout 120 "$work/build-$side/bench/vdds_fanout" "$@")
		v=$(echo "$out" | sed -n 's/.* msgs_per_s=\([0-9]*\).*/\1/p')
	fi
	echo "$name $side $v" >>"$work/raw"
}

r=1
while [ $r -le "$rounds" ]; do
	echo "ab.sh: round $r/$rounds" >&2
	echo "$cases" | while IFS='|' read -r name prog args; do
		if [ -n "${AB_CASES:-}" ] && ! echo " $AB_CASES " | grep -q " $name "; then
			continue
		fi
		# alternate who goes first, so drift within a round cancels
		# shellcheck disable=SC2086 # args is a word list
		if [ $((r % 2)) = 1 ]; then
			one a "$name" "$prog" $args
			one b "$name" "$prog" $args
		else
			one b "$name" "$prog" $args
			one a "$name" "$prog" $args
		fi
	done
	r=$((r + 1))
done

echo "| case | unit | before (${1}) | after (${2:-working tree}) | after / before |"
echo "|---|---|---:|---:|---:|"
echo "$cases" | while IFS='|' read -r name prog args; do
	grep -q "^$name " "$work/raw" || continue
	unit="p50 ns"
	[ "$prog" = fanout ] && unit="msgs/s"
	med() { grep "^$name $1 " "$work/raw" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
	a=$(med a)
	b=$(med b)
	echo "| $name | $unit | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}') |"
done
