#!/bin/sh
# run.sh — builds the benchmarks and runs the whole matrix (latency, payload
# sizes, throughput, syscalls, instructions, memory; vdds against raw
# mechanisms and iceoryx; issue #14's adaptive wait, publisher death and fds
# per topic), then writes bench/RESULTS.md and bench/*.png; then
# the overflow policies (bench/policies.sh) and last the Python package's
# section (bench/py_bench.py).
# Usage: bench/run.sh [BUILD_DIR]   (default: <repo>/build)
# Environment: VDDS_BENCH_ROUNDS (default 5), VDDS_BENCH_ITERS (default 30000),
# VDDS_BENCH_ADAPT_ROUNDS (default 3), VDDS_BENCH_KILLS (default 1000 per way),
# VDDS_BENCH_NO_INSTALL=1 to never apt-get install what is missing,
# VDDS_BENCH_KEEP=1 to keep the work directory (raw results, logs, plot data),
# VDDS_BENCH_NOTE="..." a line for RESULTS.md's header (e.g. that the machine was busy).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
cmdline="bench/run.sh${1:+ $1}"
rounds=${VDDS_BENCH_ROUNDS:-5}
adapt_rounds=${VDDS_BENCH_ADAPT_ROUNDS:-3}
adapt_idle_ms=1000
kills=${VDDS_BENCH_KILLS:-1000}
iters=${VDDS_BENCH_ITERS:-30000}
warmup=2000
payloads="64 4096 1048576 16777216"
start=$(date +%s)

say() { echo "run.sh: $*" >&2; }

work=$(mktemp -d)
raw=$work/raw.txt
roudi_pid=
cleanup() {
	if [ -n "$roudi_pid" ]; then
		kill "$roudi_pid" 2>/dev/null || true
		wait "$roudi_pid" 2>/dev/null || true
	fi
	if [ "${VDDS_BENCH_KEEP:-0}" = 1 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$raw"

# ------------------------------------------------------------- what we need
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

install_missing() {
	missing=
	for p in "$@"; do
		have_pkg "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "${VDDS_BENCH_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] ||
	   ! command -v apt-get >/dev/null; then
		say "missing:$missing (install them as root with apt-get)"
		return 1
	fi
	say "installing$missing"
	# shellcheck disable=SC2086 # one word per package
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >"$work/apt.log" 2>&1; then
		apt-get update -qq >>"$work/apt.log" 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >>"$work/apt.log" 2>&1 || {
			say "could not install$missing; see the log below"
			tail -n 5 "$work/apt.log" >&2
			return 1
		}
	fi
}

command -v gnuplot >/dev/null || install_missing gnuplot-nox || true
# the Python section: Debian's python3 with its headers (the extension) and numpy
have_pkg python3-dev && have_pkg python3-numpy || install_missing python3-dev python3-numpy || true
if ! command -v iox-roudi >/dev/null || ! have_pkg libiceoryx-binding-c-dev; then
	install_missing iceoryx libiceoryx-binding-c-dev || true
fi

# ------------------------------------------------------------------- build
say "building in $build"
cmake -S "$repo" -B "$build" -DVDDS_WERROR=ON >"$work/cmake.log" 2>&1 || {
	cat "$work/cmake.log" >&2
	exit 1
}
targets="vdds_pingpong vdds_fanout vdds_info_bench vdds_cli vdds_adaptive vdds_death"
# bench/fds (issue #14, another change): built when this tree has it
fds_target=
for t in vdds_fds fds; do
	# Makefiles list "... NAME", Ninja "NAME: phony"
	if cmake --build "$build" --target help 2>/dev/null | grep -Eq "^(\.\.\. )?$t(:| |\$)"; then
		fds_target=$t
		break
	fi
done
targets="$targets $fds_target"
if cmake --build "$build" --target help 2>/dev/null | grep -q vdds_python; then
	targets="$targets vdds_python" # the Python extension, for the last section
fi
# shellcheck disable=SC2086 # one word per target
cmake --build "$build" -j "$(getconf _NPROCESSORS_ONLN)" --target $targets >"$work/build.log" 2>&1 || {
	cat "$work/build.log" >&2
	exit 1
}
pp=$build/bench/vdds_pingpong
fan=$build/bench/vdds_fanout

# ---------------------------------------------------------------- iceoryx
# iceoryx is one more mechanism of vdds_pingpong (pp_iox.c), built in when
# CMake found its C binding: --help then lists the iox-* modes
iox_note=
if ! "$pp" --help 2>&1 | grep -qw iox-ws; then
	iox_note="iceoryx skipped: the C binding (libiceoryx-binding-c-dev) was not found at build time"
elif ! command -v iox-roudi >/dev/null; then
	iox_note="iceoryx skipped: iox-roudi (package iceoryx) is not installed"
else
	(cd "$work" && exec iox-roudi -m off -l warning -c "$here/roudi.toml") >"$work/roudi.log" 2>&1 &
	roudi_pid=$!
	t=0
	while ! grep -q 'RouDi is ready' "$work/roudi.log" 2>/dev/null; do
		t=$((t + 1))
		if [ $t -gt 50 ] || ! kill -0 "$roudi_pid" 2>/dev/null; then
			iox_note="iceoryx skipped: iox-roudi did not start ($(tail -n 1 "$work/roudi.log"))"
			kill "$roudi_pid" 2>/dev/null || true
			roudi_pid=
			break
		fi
		sleep 0.1
	done
fi
[ -n "$iox_note" ] && say "$iox_note"

# ------------------------------------------------------------ measurements
# No single run may hang the whole script (a lost wakeup would): 5 minutes.
limit="timeout 300"

# One run: the program's result line, tagged; one retry, since the VM can
# stall a process long enough for a start-up timeout.
run() {
	kind=$1
	shift
	if ! line=$($limit "$@" 2>"$work/err"); then
		say "retrying after a failure: $* ($(tail -n 1 "$work/err"))"
		line=$($limit "$@") || { say "failed twice: $*"; exit 1; }
	fi
	echo "kind=$kind round=$round $line" >>"$raw"
}

lat() { run lat "$pp" --iters "$iters" --warmup "$warmup" "$@"; }
lat_iox() {
	[ -n "$roudi_pid" ] || return 0
	run lat "$pp" --iters "$iters" --warmup "$warmup" "$@"
}
lat_payloads() {
	for p in $payloads; do
		lat "$@" --payload "$p"
	done
}

# Each vdds mode runs right after the raw mechanism it is compared with, as
# conditions on this VM drift; the ratios are then taken within a round.
latency_round() {
	for cpus in same cross; do
		say "round $round/$rounds: latency, cpus=$cpus"
		lat --mode eventfd --cpus $cpus
		lat --mode epoll-set --cpus $cpus
		lat_payloads --mode vdds-wait --cpus $cpus
		lat --mode epoll --cpus $cpus
		lat_payloads --mode vdds-ws-epoll --cpus $cpus
		lat --mode uring-poll --cpus $cpus
		lat_payloads --mode vdds-ws-uring --cpus $cpus
		lat --mode epoll-read --cpus $cpus
		lat_payloads --mode vdds-epoll --cpus $cpus
		for p in $payloads; do
			lat_iox --mode iox-ws --cpus $cpus --payload "$p"
		done
		if [ $cpus = cross ]; then # spinning on one CPU costs a tick per wait
			lat --mode spin --cpus cross
			lat_payloads --mode vdds-spin --cpus cross
			lat_iox --mode iox-spin --cpus cross --payload 64
		fi
		lat --mode sem --cpus $cpus
		lat --mode pipe --cpus $cpus
		lat --mode unix --cpus $cpus
	done
}

throughput_round() {
	say "round $round/$rounds: throughput"
	for wait in busy sleep; do
		for subs in 1 2 4 8 16; do
			run tput "$fan" --subs $subs --wait $wait --millis 500
		done
	done
}

# Publisher syscalls per message: strace -c on the publisher's thread only
# (no -f: neither the subscriber processes nor vdds's service thread) at two
# message counts; the difference over the extra messages cancels set-up.
# Paced 1 ms apart, so sleeping subscribers are asleep at every message.
syscalls() {
	if ! command -v strace >/dev/null; then
		echo "kind=skip what=syscalls reason=strace-not-installed" >>"$raw"
		return 0
	fi
	say "syscalls per message (strace)"
	for cfg in "busy 1" "busy 4" "sleep 1" "sleep 4" "sleep 16"; do
		# shellcheck disable=SC2086 # split "wait subs" into $1 and $2
		set -- $cfg
		for n in 200 1200; do
			$limit strace -c -o "$work/strace.$n" "$fan" --subs "$2" --wait "$1" \
				--messages $n --pace-us 1000 >"$work/fan.$n" 2>"$work/err" || {
				cat "$work/err" >&2
				exit 1
			}
		done
		# strace -c table: calls in column 4, the name last; 1200 minus 200
		awk -v subs="$2" -v wait="$1" '
			$NF != "syscall" && $NF != "total" && $4 ~ /^[0-9]+$/ {
				sign = FILENAME ~ /1200$/ ? 1 : -1
				all += sign * $4
				if ($NF == "write") w += sign * $4
				if ($NF == "clock_nanosleep") pace += sign * $4
			}
			END { printf "kind=sys subs=%d wait=%s msgs=1000 syscalls_per_msg=%.3f writes_per_msg=%.3f\n",
				subs, wait, (all - pace) / 1000, w / 1000 }
		' "$work/strace.200" "$work/strace.1200" >>"$raw"
		sed "s/^/kind=sysfan /" "$work/fan.1200" >>"$raw"
	done
}

# User-space instructions per round trip on the echo side (B, the child):
# callgrind at two iteration counts; the difference cancels set-up.
instructions() {
	if ! command -v valgrind >/dev/null; then
		echo "kind=skip what=instructions reason=valgrind-not-installed" >>"$raw"
		return 0
	fi
	say "instructions per round trip (callgrind)"
	for mode in eventfd epoll-set vdds-wait; do
		line="kind=cg mode=$mode"
		for n in 2000 12000; do
			mkdir "$work/cg.$n"
			$limit valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n/out.%p" \
				"$pp" --mode $mode --iters $n --warmup 100 --cpus same \
				>/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
			# B, the echo side, is the process that ran side_b()
			b=$(grep -l 'side_b' "$work/cg.$n"/out.*)
			total=$(sed -n 's/^totals: *//p' "$b")
			line="$line ir$n=$total"
			# inclusive cost of each vdds call, for the breakdown
			callgrind_annotate --inclusive=yes --threshold=100 "$b" 2>/dev/null |
				# the whole function is its largest line: the others are
				# fragments inlined into it from headers; a line may end
				# in its object file ("[libvdds.so]") or not; "=>" lines
				# are call sites
				awk -v n=$n '{ gsub(",", "", $1) }
					!/=>/ { for (i = 2; i <= NF; i++)
						if ($i ~ /:vdds_(pub_loan|pub_publish|sub_wait|sub_take|sub_release)$/) {
							split($i, f, ":")
							if ($1 + 0 > best[f[2]]) best[f[2]] = $1 + 0
						} }
					END { for (k in best) printf " %s_%d=%d", k, n, best[k] }' >"$work/cg.$n/calls"
			line="$line$(cat "$work/cg.$n/calls")"
			rm -r "$work/cg.$n"
		done
		echo "$line" >>"$raw"
	done
}

# System calls per round trip and side, by kind: perf stat on syscall
# tracepoints (counting only: unlike strace, it does not change who sleeps
# when), both processes, at two iteration counts; the difference cancels
# set-up. Skipped where perf or the tracepoints are not available.
rt_syscalls() {
	ev=raw_syscalls:sys_enter
	for sc in read write epoll_wait io_uring_enter futex sendto recvfrom recvmsg; do
		ev="$ev,syscalls:sys_enter_$sc"
	done
	if ! command -v perf >/dev/null ||
	   ! perf stat -x, -o /dev/null -e "$ev" -- true 2>/dev/null; then
		echo "kind=skip what=rtsys reason=perf-or-syscall-tracepoints-not-available" >>"$raw"
		return 0
	fi
	say "syscalls per round trip (perf stat)"
	for c in same cross; do
		for mode in eventfd epoll epoll-set epoll-read uring-poll sem pipe unix spin \
			    vdds-wait vdds-epoll vdds-ws-uring vdds-ws-epoll vdds-spin; do
			case $c-$mode in same-spin | same-vdds-spin) continue ;; esac
			for n in 2000 12000; do
				$limit perf stat -x, -o "$work/perf.$n" -e "$ev" -- \
					"$pp" --mode $mode --iters $n --warmup 10 --cpus $c >/dev/null ||
					exit 1
			done
			awk -F, -v mode=$mode -v cpus=$c '
				/sys_enter/ {
					name = $3; sub(/.*sys_enter_?/, "", name)
					if (name == "") name = "all"
					if (!(name in d)) order[++n] = name
					d[name] += (FILENAME ~ /12000$/ ? 1 : -1) * $1
				}
				END {
					printf "kind=rtsys mode=%s cpus=%s", mode, cpus
					for (i = 1; i <= n; i++) printf " %s=%.2f", order[i], d[order[i]] / 20000
					printf "\n"
				}' "$work/perf.2000" "$work/perf.12000" >>"$raw"
		done
	done
}

# The adaptive wait (issue #14): bench/adaptive.c, each invocation a
# busy-poll subscriber first and then vdds_sub_wait() and the waitset at
# spin_ns 0, 2, 10 and 50 us under a 100 kHz stream; ratios are to that
# invocation's busy-poll case. The first round also measures the CPU over a
# second of silence after the stream.
adaptive() {
	r=1
	while [ $r -le "$adapt_rounds" ]; do
		say "adaptive wait, round $r/$adapt_rounds"
		idle=0
		[ $r = 1 ] && idle=$adapt_idle_ms
		$limit "$build/bench/vdds_adaptive" --messages 50000 --idle-ms $idle >"$work/adapt" \
			2>"$work/err" || {
			say "vdds_adaptive failed: $(tail -n 1 "$work/err")"
			echo "kind=skip what=adaptive reason=vdds_adaptive_failed" >>"$raw"
			return 0
		}
		sed "s/^/kind=adapt round=$r /" "$work/adapt" >>"$raw"
		r=$((r + 1))
	done
}

# Publisher death (issue #14): bench/death.c, $kills SIGKILLs for each of the
# four ways of waiting; kill-to-wake p50/p99/max.
death() {
	say "publisher death: $kills kills per way (bench/death.c)"
	if ! $limit "$build/bench/vdds_death" --kills "$kills" >"$work/death" 2>"$work/err"; then
		say "vdds_death failed: $(tail -n 1 "$work/err")"
		echo "kind=skip what=death reason=vdds_death_failed" >>"$raw"
	fi
	sed "s/^/kind=death /" "$work/death" >>"$raw"
}

# File descriptors per topic (issue #14): bench/fds (vdds_fds), another
# change's program, where this tree has it, run with its defaults (1,000
# topics). The agreed output, one line each (X, Y decimal numbers):
#   fds per published topic: X
#   fds per subscription: Y
# Also understood, as it printed when this was written: lines ending
#   "fds: X per topic" and "fds: Y per subscription".
# Anything else it prints is ignored. Absent, or printing neither: "not
# built" / "no result" in the table, not a failure.
fds() {
	bin=
	for b in "$build/bench/vdds_fds" "$build/bench/fds"; do
		[ -x "$b" ] && bin=$b && break
	done
	if [ -z "$bin" ]; then
		echo "kind=skip what=fds reason=not_built_(no_bench/fds_in_this_tree)" >>"$raw"
		return 0
	fi
	say "fds per topic ($bin)"
	$limit "$bin" >"$work/fds" 2>"$work/err" || say "bench/fds exited non-zero: $(tail -n 1 "$work/err")"
	num='\([0-9][0-9.]*\)'
	t=$(sed -n -e "s/^fds per published topic: *$num.*/\1/p" \
		-e "s/.*fds: *$num per topic\$/\1/p" "$work/fds" | head -n 1)
	u=$(sed -n -e "s/^fds per subscription: *$num.*/\1/p" \
		-e "s/.*fds: *$num per subscription\$/\1/p" "$work/fds" | head -n 1)
	if [ -z "$t$u" ]; then
		echo "kind=skip what=fds reason=no_result_(bench/fds_printed_neither_line)" >>"$raw"
	else
		echo "kind=fds per_topic=$t per_sub=$u" >>"$raw"
	fi
}

# Introspection beside publishing: throughput while `vdds info` runs 1,000
# times, against quiet phases of the same run; then the same with `vdds
# --version` (the same processes started, no introspection) as the control.
introspection() {
	say "introspection: publish throughput beside 1,000 runs of vdds info"
	for control in 0 1; do
		line=$($limit "$build/bench/vdds_info_bench" --vdds "$build/tools/vdds/vdds" \
			--control $control --phases 10 --runs-per-phase 100 | tail -n 1) || exit 1
		echo "kind=info $line" >>"$raw"
		say "$line"
	done
}

round=1
while [ $round -le "$rounds" ]; do
	latency_round
	throughput_round
	round=$((round + 1))
done
round=0
phase() { # run one section, saying how long it took
	t0=$(date +%s)
	"$@"
	say "$1: $(($(date +%s) - t0)) s"
}
phase adaptive
phase death
phase fds
phase syscalls
phase rt_syscalls
phase instructions
phase introspection
if [ -n "$roudi_pid" ]; then
	kill "$roudi_pid"
	wait "$roudi_pid" || true
	roudi_pid=
fi
[ -n "$iox_note" ] && echo "kind=skip what=iceoryx reason=$(echo "$iox_note" | tr ' ' '_')" >>"$raw"

# Each overflow policy with one slow subscriber (issue #10): its own section,
# made by bench/policies.sh (half a minute) and appended to RESULTS.md below;
# a failure is written there, not fatal.
say "overflow policies: bench/policies.sh"
polsec=$work/policies.md
if ! "$here/policies.sh" "$build" >"$polsec" 2>"$work/pol.err"; then
	say "policies.sh failed: $(tail -n 1 "$work/pol.err")"
	printf '## Overflow policies: one slow subscriber (bench/policies.sh)\n\nfailed: %s\n' \
		"$(tail -n 1 "$work/pol.err")" >"$polsec"
fi
elapsed=$(( $(date +%s) - start ))

# ---------------------------------------------------------------- report
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)
if [ -n "$(git -C "$repo" status --porcelain -- . ':!bench' 2>/dev/null)" ]; then
	commit="$commit, with uncommitted changes outside bench/"
fi
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel=$(uname -r)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1) ($(getconf _NPROCESSORS_ONLN) online)"
	echo "commit=$commit"
	echo "elapsed=$elapsed"
	echo "cmdline=$cmdline"
	echo "rounds=$rounds"
	echo "note=${VDDS_BENCH_NOTE:-}"
	echo "adapt_rounds=$adapt_rounds"
	echo "adapt_idle_ms=$adapt_idle_ms"
	echo "iters=$iters"
	echo "warmup=$warmup"
	echo "iox=${iox_note:-iceoryx $(dpkg-query -W -f='${Version}' iceoryx 2>/dev/null)}"
} >"$work/meta.txt"
# "What is missed, and why" is made from this run's targets, with the
# explanations bench/MISSES.md keeps per target id
awk -v part=md -v misses="$here/MISSES.md" -f "$here/report.awk" "$work/meta.txt" "$raw" \
	>"$here/RESULTS.md"
# the hand-kept part: before/after runs (bench/ab.sh)
if [ -f "$here/BEFORE_AFTER.md" ]; then
	{ echo; cat "$here/BEFORE_AFTER.md"; } >>"$here/RESULTS.md"
fi
{ echo; cat "$polsec"; } >>"$here/RESULTS.md"
if command -v gnuplot >/dev/null; then
	awk -v part=plot -v dir="$work" -f "$here/report.awk" "$work/meta.txt" "$raw"
	(cd "$work" && gnuplot -e "out='$here/'" "$here/plot.gp") || say "gnuplot failed"
else
	say "gnuplot not installed: no plots"
fi
say "wrote $here/RESULTS.md and the plots in $elapsed s"

# ------------------------------------------------------------------ Python
# The Python package (issue #11) against plain Python mechanisms, in its own
# section appended to RESULTS.md: bench/py_bench.py, run by Debian's python3 on
# the extension this build made. Skipped, and said so, where the build has no
# Python package or numpy is missing; a failure is written there, not fatal.
py=/usr/bin/python3
pysec=$work/python.md
pyhead="## Python package (bench/py_bench.py)"
if ls "$build"/python/vdds/_vdds*.so >/dev/null 2>&1 && "$py" -c 'import numpy' 2>/dev/null; then
	say "Python: bench/py_bench.py (about a minute)"
	if ! PYTHONPATH="$build/python" timeout 900 "$py" "$here/py_bench.py" >"$pysec" 2>"$work/py.err"; then
		say "py_bench.py failed: $(tail -n 1 "$work/py.err")"
		printf '%s\n\nfailed: %s\n' "$pyhead" "$(tail -n 1 "$work/py.err")" >"$pysec"
	fi
else
	printf '%s\n\nskipped: no Python extension in %s (python3-dev) or no numpy (python3-numpy)\n' \
		"$pyhead" "$build" >"$pysec"
fi
{ echo; cat "$pysec"; } >>"$here/RESULTS.md"
say "appended the Python section to $here/RESULTS.md"

# ------------------------------------------ vdds-bridge over Cyclone DDS
# (issue #13) Round trips vdds -> vdds-bridge -> DDS -> vdds-bridge -> vdds
# and back against a direct Cyclone DDS ping-pong of the same payloads, the
# two one after the other in each round, on loopback; and the bridges' CPU per
# message. A section of its own, appended to RESULTS.md.
# Environment: VDDS_BENCH_BRIDGE_ROUNDS (default 3), VDDS_BENCH_BRIDGE_ITERS
# (default 3000; a tenth of it for 1 MiB).
bridge_bench() {
	brounds=${VDDS_BENCH_BRIDGE_ROUNDS:-3}
	biters=${VDDS_BENCH_BRIDGE_ITERS:-3000}
	bpp=$build/bench/vdds_bridge_pingpong
	braw=$work/bridge.txt
	bstart=$(date +%s)
	if ! have_pkg cyclonedds-dev || ! have_pkg cyclonedds-tools; then
		install_missing cyclonedds-dev cyclonedds-tools || {
			printf '\n## vdds-bridge over Cyclone DDS\n\nNot measured: %s\n' \
				"Cyclone DDS (cyclonedds-dev, cyclonedds-tools) is not installed." \
				>>"$here/RESULTS.md"
			return 0
		}
		cmake -S "$repo" -B "$build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(getconf _NPROCESSORS_ONLN)" --target vdds_bridge_pingpong \
		>"$work/build-bridge.log" 2>&1 || { cat "$work/build-bridge.log" >&2; exit 1; }
	: >"$braw"
	bround=1
	while [ $bround -le "$brounds" ]; do
		say "vdds-bridge round $bround/$brounds"
		for p in 64 65536 1048576; do
			n=$biters
			[ $p = 1048576 ] && n=$((biters / 10))
			for mode in dds bridge; do
				set -- "$bpp" --mode $mode --payload $p --iters "$n" --warmup $((n / 10))
				if ! line=$($limit "$@" 2>"$work/err"); then
					say "retrying after a failure: $* ($(tail -n 1 "$work/err"))"
					line=$($limit "$@") || { say "failed twice: $*"; exit 1; }
				fi
				echo "round=$bround $line" >>"$braw"
			done
		done
		bround=$((bround + 1))
	done
	awk -v rounds="$brounds" -v iters="$biters" -v secs=$(($(date +%s) - bstart)) \
		-f "$here/bridge_report.awk" "$braw" >>"$here/RESULTS.md"
	say "vdds-bridge section appended to $here/RESULTS.md"
}
bridge_bench
say "all sections in $(($(date +%s) - start)) s"
