#!/bin/sh
# ab.sh — before/after in one run: builds the benchmarks of two revisions and
# runs their latency and throughput cases alternately, then prints medians,
# spreads and ratios (after / before) as markdown tables.
# Usage: bench/ab.sh BEFORE_REF [AFTER_REF]   (default AFTER: the working tree)
# Environment: AB_ROUNDS (default 5), AB_ITERS (default 20000 round trips),
# AB_MILLIS (default 400, per throughput run), AB_CASES to run a subset
# (space-separated names or shell patterns from the list below, e.g.
# 'wait-* fanout-sleep-*'), AB_RAW=FILE to keep every run's result line,
# AB_PERF=1 to count, with perf stat, the CPU time and context switches of
# every process of each throughput run, per message.
#
# Each revision runs its own bench programs, so a case may only use options
# both have: a case whose mode or option one build's usage text lacks is
# skipped, and said so. Raw cases (eventfd, epoll-read...) are the same
# program in both builds; they give the noise floor, and the vdds cases'
# ratio to their raw counterpart within the same round and build.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || {
	echo "usage: bench/ab.sh BEFORE_REF [AFTER_REF]" >&2
	exit 2
}
rounds=${AB_ROUNDS:-5}
iters=${AB_ITERS:-20000}
millis=${AB_MILLIS:-400}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
say() { echo "ab.sh: $*" >&2; }

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
	if ! cmake -S "$1" -B "$work/build-$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DVDDS_BUILD_TESTS=OFF -DVDDS_BUILD_EXAMPLES=OFF -DVDDS_BUILD_PYTHON=OFF \
		>"$work/cmake-$2.log" 2>&1 ||
	   ! cmake --build "$work/build-$2" -j "$(getconf _NPROCESSORS_ONLN)" \
		--target vdds_pingpong vdds_fanout >>"$work/cmake-$2.log" 2>&1; then
		tail -n 20 "$work/cmake-$2.log" >&2
		exit 1
	fi
	# what this revision's programs accept, for the option check below
	"$work/build-$2/bench/vdds_pingpong" --help >"$work/usage-$2-pingpong" 2>&1 || true
	"$work/build-$2/bench/vdds_fanout" --help >"$work/usage-$2-fanout" 2>&1 || true
}

say "building ${1} and ${2:-the working tree}"
build "$(tree_of "$1" a)" a
build "$(tree_of "${2:-}" b)" b

# name|program|arguments|raw counterpart (a case name, or empty).
# Latency cases report p50 ns of a round trip, throughput cases msgs/s.
m="--millis $millis"
cases="wait-same|pingpong|--mode vdds-wait --cpus same|epoll-set-same
wait-cross|pingpong|--mode vdds-wait --cpus cross|epoll-set-cross
fd-epoll-same|pingpong|--mode vdds-epoll --cpus same|epoll-read-same
fd-epoll-cross|pingpong|--mode vdds-epoll --cpus cross|epoll-read-cross
ws-uring-same|pingpong|--mode vdds-ws-uring --cpus same|uring-poll-same
ws-uring-cross|pingpong|--mode vdds-ws-uring --cpus cross|uring-poll-cross
ws-epoll-same|pingpong|--mode vdds-ws-epoll --cpus same|epoll-same
ws-epoll-cross|pingpong|--mode vdds-ws-epoll --cpus cross|epoll-cross
spin-cross|pingpong|--mode vdds-spin --cpus cross|spin-cross-raw
epoll-set-same|pingpong|--mode epoll-set --cpus same|
epoll-set-cross|pingpong|--mode epoll-set --cpus cross|
epoll-read-same|pingpong|--mode epoll-read --cpus same|
epoll-read-cross|pingpong|--mode epoll-read --cpus cross|
uring-poll-same|pingpong|--mode uring-poll --cpus same|
uring-poll-cross|pingpong|--mode uring-poll --cpus cross|
epoll-same|pingpong|--mode epoll --cpus same|
epoll-cross|pingpong|--mode epoll --cpus cross|
spin-cross-raw|pingpong|--mode spin --cpus cross|
fanout-sleep-1|fanout|--subs 1 --wait sleep $m|
fanout-sleep-2|fanout|--subs 2 --wait sleep $m|
fanout-sleep-4|fanout|--subs 4 --wait sleep $m|
fanout-sleep-8|fanout|--subs 8 --wait sleep $m|
fanout-sleep-16|fanout|--subs 16 --wait sleep $m|
fanout-busy-1|fanout|--subs 1 --wait busy $m|
fanout-busy-8|fanout|--subs 8 --wait busy $m|"

selected() { # name: in AB_CASES (names or patterns), or AB_CASES unset
	[ -z "${AB_CASES:-}" ] && return 0
	set -f
	for pat in $AB_CASES; do
		# shellcheck disable=SC2254 # the pattern is meant to match
		case $1 in $pat)
			set +f
			return 0
			;;
		esac
	done
	set +f
	return 1
}

# Both builds must know every option a case uses (and pingpong the mode):
# each must appear as a word in the program's usage text.
in_usage() { # word program
	for side in a b; do
		grep -qE -- "(^|[^a-z-])$1([^a-z-]|\$)" "$work/usage-$side-$2" || {
			echo "$side lacks $1"
			return 1
		}
	done
}
supported() { # program args...
	prog=$1 prev=
	shift
	for w in "$@"; do
		case $w in
		--*) in_usage "$w" "$prog" || return 1 ;;
		*) if [ "$prev" = --mode ]; then in_usage "$w" "$prog" || return 1; fi ;;
		esac
		prev=$w
	done
}

: >"$work/cases"
echo "$cases" | while IFS='|' read -r name prog args ref; do
	selected "$name" || continue
	# shellcheck disable=SC2086 # args is a word list
	if why=$(supported "$prog" $args); then
		echo "$name|$prog|$args|$ref" >>"$work/cases"
	else
		say "skipping $name: build $why (before = a, after = b)"
	fi
done
[ -s "$work/cases" ] || {
	say "no case to run"
	exit 2
}

one() { # side round name program args...
	side=$1 round=$2 name=$3 prog=$4
	shift 4
	if [ "$prog" = pingpong ]; then
		set -- "$work/build-$side/bench/vdds_pingpong" --iters "$iters" "$@"
		key=p50
	else
		set -- "$work/build-$side/bench/vdds_fanout" "$@"
		key=msgs_per_s
	fi
	set -- timeout 120 "$@"
	# AB_PERF: the CPU time and context switches of every process of the run
	if [ "$prog" = fanout ] && [ "${AB_PERF:-0}" = 1 ]; then
		set -- perf stat -x, -o "$work/perf" -e task-clock,context-switches -- "$@"
	fi
	# one retry: the VM can stall a process past a start-up timeout; said,
	# as a run that hangs (exit 124) is a finding, not noise
	rc=0
	out=$("$@" 2>"$work/err") || rc=$?
	if [ $rc != 0 ]; then
		say "round $round, $name, build $side: exit $rc (124: hung 120 s), retried: $* ($(tail -n 1 "$work/err"))"
		rc=0
		out=$("$@" 2>"$work/err") || rc=$?
		if [ $rc != 0 ]; then
			say "failed twice (exit $rc), left out: $*"
			return 0
		fi
	fi
	if [ "$1" = perf ]; then # task-clock in ms, per message in us
		out="$out $(awk -F, -v msgs="$(echo "$out" | sed -n 's/.* msgs=\([0-9]*\).*/\1/p')" '
			$3 == "task-clock" { printf "cpu_us_per_msg=%.3f ", $1 * 1000 / msgs }
			$3 == "context-switches" { printf "cs_per_msg=%.4f", $1 / msgs }' "$work/perf")"
	fi
	v=$(echo "$out" | sed -n "s/.* $key=\\([0-9.]*\\).*/\\1/p")
	[ -n "$v" ] || {
		say "no $key in: $out"
		return 0
	}
	echo "$name $side $round $v $out" >>"$work/raw"
}

: >"$work/raw"
r=1
while [ $r -le "$rounds" ]; do
	say "round $r/$rounds"
	while IFS='|' read -r name prog args ref; do
		# alternate who goes first, so drift within a round cancels
		# shellcheck disable=SC2086 # args is a word list
		if [ $((r % 2)) = 1 ]; then
			one a $r "$name" "$prog" $args
			one b $r "$name" "$prog" $args
		else
			one b $r "$name" "$prog" $args
			one a $r "$name" "$prog" $args
		fi
	done <"$work/cases"
	r=$((r + 1))
done
[ -n "${AB_RAW:-}" ] && cp "$work/raw" "$AB_RAW"

# ------------------------------------------------------------------ tables
# Medians are the lower middle of an even count; "min-max" is the spread over
# the rounds. A ratio per round is taken between runs of the same round.
awk -v before="$1" -v after="${2:-working tree}" -v rounds="$rounds" '
function median(v, n,   i, j, t, s) {
	for (i = 1; i <= n; i++) s[i] = v[i]
	for (i = 2; i <= n; i++) {
		t = s[i]
		for (j = i - 1; j >= 1 && s[j] + 0 > t + 0; j--) s[j + 1] = s[j]
		s[j + 1] = t
	}
	lo = s[1]; hi = s[n]
	return n ? s[int((n + 1) / 2)] : ""
}
function num(x) { return x >= 1000 ? sprintf("%.0f", x) : sprintf("%.3g", x) }
function stat(v, n,   m) { # "median (min-max)", and n if rounds were lost
	if (n == 0) return "—"
	m = median(v, n)
	return num(m) " (" num(lo) "–" num(hi) ")" (n < rounds ? " n=" n : "")
}
function spread(v, n,   m) { # ratios: "median (min-max)"
	if (n == 0) return "—"
	m = median(v, n)
	return sprintf("%.3f (%.3f–%.3f)", m, lo, hi) (n < rounds ? " n=" n : "")
}
function field(line, key,   i, f, k) {
	k = split(line, f, " ")
	for (i = 1; i <= k; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
	return ""
}
# The values of case c, side s, over rounds, into v; their count.
function series(c, s, v,   r, n) {
	n = 0
	for (r = 1; r <= rounds; r++) if ((c, s, r) in val) v[++n] = val[c, s, r]
	return n
}
# Per-round ratios num/den (case or side pairs) into v; their count.
function ratios(cn, sn, cd, sd, v,   r, n) {
	n = 0
	for (r = 1; r <= rounds; r++)
		if ((cn, sn, r) in val && (cd, sd, r) in val && val[cd, sd, r] > 0)
			v[++n] = val[cn, sn, r] / val[cd, sd, r]
	return n
}
FNR == NR {
	split($0, cf, "|")
	order[++ncases] = cf[1]; prog[cf[1]] = cf[2]; ref[cf[1]] = cf[4]; incase[cf[1]] = 1
	next
}
{
	val[$1, $2, $3] = $4
	line[$1, $2, $3] = $0
}
END {
	print "Medians over " rounds " rounds, (min–max) beside them. *after / before*: the ratio of the medians;"
	print "*per round*: after / before within each round, median (min–max). p50 ns: lower is better;"
	print "msgs/s: higher is better."
	print ""
	print "| case | unit | before (" before ") | after (" after ") | after / before | per round |"
	print "|---|---|---:|---:|---:|---:|"
	for (i = 1; i <= ncases; i++) {
		c = order[i]
		na = series(c, "a", va); ma = median(va, na)
		nb = series(c, "b", vb); mb = median(vb, nb)
		if (na + nb == 0) continue
		unit = prog[c] == "fanout" ? "msgs/s" : "p50 ns"
		nr = ratios(c, "b", c, "a", vr)
		printf "| %s | %s | %s | %s | %s | %s |\n", c, unit, stat(va, na), stat(vb, nb),
			(na && nb && ma > 0) ? sprintf("%.3f", mb / ma) : "—",
			spread(vr, nr)
	}
	hdr = 0
	for (i = 1; i <= ncases; i++) {
		c = order[i]; d = ref[c]
		if (d == "" || !(d in incase)) continue
		if (!hdr++) {
			print ""
			print "vdds against its raw counterpart: p50 ratio within a round and a build, median (min–max) over the rounds."
			print ""
			print "| case | raw counterpart | before | after |"
			print "|---|---|---:|---:|"
		}
		na = ratios(c, "a", d, "a", va)
		nb = ratios(c, "b", d, "b", vb)
		printf "| %s | %s | %s | %s |\n", c, d, spread(va, na), spread(vb, nb)
	}
	hdr = 0
	for (i = 1; i <= ncases; i++) {
		c = order[i]
		if (prog[c] != "fanout") continue
		if (!hdr++) {
			print ""
			print "Throughput cases, the publisher side (medians over the rounds): *reads/msg* = read() calls of the"
			print "publishing thread per message, i.e. how often it was woken in loan (the return eventfd);"
			print "*wakeups/msg* = eventfd writes to sleeping subscribers; *blocked/msg* = loans that had to wait"
			print "(vdds_pub_stats().blocked, where the build reports it)."
			print ""
			print "| case | before: reads/msg | after: reads/msg | before: wakeups/msg | after: wakeups/msg | before: blocked/msg | after: blocked/msg |"
			print "|---|---:|---:|---:|---:|---:|---:|"
		}
		row = "| " c
		split("syscr_per_msg wakeups_per_msg blocked_per_msg", keys, " ")
		for (k = 1; k <= 3; k++)
			for (s = 1; s <= 2; s++) {
				side = s == 1 ? "a" : "b"
				n = 0
				for (r = 1; r <= rounds; r++)
					if ((c, side, r) in line && (x = field(line[c, side, r], keys[k])) != "")
						v[++n] = x
				row = row " | " (n ? sprintf("%.3f", median(v, n)) : "—")
			}
		print row " |"
	}
	hdr = 0
	for (i = 1; i <= ncases; i++) {
		c = order[i]
		if (prog[c] != "fanout" || !((c, "a", 1) in line) || field(line[c, "a", 1], "cpu_us_per_msg") == "")
			continue
		if (!hdr++) {
			print ""
			print "Throughput cases, every process of the run (AB_PERF=1: perf stat, the publisher and its"
			print "subscribers, start-up included): CPU time (task-clock) and context switches per message,"
			print "medians over the rounds (min–max)."
			print ""
			print "| case | before: CPU µs/msg | after: CPU µs/msg | after / before | before: switches/msg | after: switches/msg |"
			print "|---|---:|---:|---:|---:|---:|"
		}
		row = "| " c
		split("cpu_us_per_msg cs_per_msg", keys, " ")
		for (k = 1; k <= 2; k++) {
			for (s = 1; s <= 2; s++) {
				side = s == 1 ? "a" : "b"
				n = 0
				for (r = 1; r <= rounds; r++)
					if ((c, side, r) in line && (x = field(line[c, side, r], keys[k])) != "")
						v[++n] = x
				m[s] = n ? median(v, n) : ""
				row = row " | " (n ? sprintf(k == 1 ? "%.3f (%.3f–%.3f)" : "%.4f (%.4f–%.4f)", m[s], lo, hi) : "—")
			}
			if (k == 1)
				row = row " | " (m[1] > 0 && m[2] != "" ? sprintf("%.3f", m[2] / m[1]) : "—")
		}
		print row " |"
	}
}' "$work/cases" "$work/raw"
