#!/usr/bin/env bash
# gst_bench.sh — video between two processes, vddssink/vddssrc against
# shmsink/shmsrc (issue #24): 1080p and 4K I420, 1 and 3 readers, in one run.
# For each case: frames/s (frames over the writer's wall time), CPU per frame
# of the writer and of each reader (user + system from /usr/bin/time, over the
# frames written), and copies per frame, counted: every memcpy/memmove of at
# least 1 MiB in each process (an LD_PRELOAD counter built here), and, for
# vddssink, its own zero-copy/copied counters.
# Both get the same memory: vddssink slots=GSTB_SLOTS, shmsink an area of as
# many frames (plus vdds's 1 KiB header each). A "vdds+huge" row runs
# vddssink huge-pages=true when huge pages can be had: as root the script
# raises vm.nr_hugepages by what the topic needs and puts it back at exit.
# A "floor" row is videotestsrc ! fakesink alone: what making the frames costs.
# Usage: bench/gst_bench.sh [BUILD_DIR]   (default <repo>/build, gstvdds built)
# Environment: GSTB_FRAMES_1080 (default 900), GSTB_FRAMES_4K (default 600):
# enough that start-up does not weigh; GSTB_SLOTS (default 8).
# Prints a markdown section (bench/RESULTS.md keeps one per run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
export GST_PLUGIN_PATH=$build/gst/plugin
work=$(mktemp -d /tmp/vdds-gstbench-XXXXXX)
# one registry, made once by the checks below (a scan per process would be measured)
export GST_REGISTRY=$work/registry.bin
slots=${GSTB_SLOTS:-8}
hp_file=/proc/sys/vm/nr_hugepages
hp_before=$(cat $hp_file 2>/dev/null || echo 0)
cleanup() {
	if [ "$(cat $hp_file 2>/dev/null || echo 0)" != "$hp_before" ]; then
		echo "$hp_before" >$hp_file 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
# huge_ok W H: huge pages enough for a topic of these frames (raised if root)
huge_ok() {
	local need free
	need=$(((slots * ($1 * $2 * 3 / 2 + 1024) + 8 * 1024 * 1024) / (2 * 1024 * 1024) + 2))
	free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
	if [ "${free:-0}" -lt "$need" ] && [ -w $hp_file ]; then
		echo $(($(cat $hp_file) + need - free)) >$hp_file 2>/dev/null || true
		free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
	fi
	[ "${free:-0}" -ge "$need" ]
}
for el in vddssink vddssrc shmsink shmsrc videotestsrc fakesink; do
	gst-inspect-1.0 $el >/dev/null 2>&1 || { echo "missing GStreamer element $el" >&2; exit 1; }
done

# the copy counter: big copies are what a transport does to a frame
cat >"$work/cnt.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
static atomic_ulong calls, bytes;
static void *(*real_cpy)(void *, const void *, size_t);
static void *(*real_mov)(void *, const void *, size_t);
static void count(size_t n) { if (n >= (1u << 20)) { calls++; bytes += n; } }
void *memcpy(void *d, const void *s, size_t n)
{
	if (!real_cpy) real_cpy = (void *(*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "memcpy");
	count(n);
	return real_cpy(d, s, n);
}
void *memmove(void *d, const void *s, size_t n)
{
	if (!real_mov) real_mov = (void *(*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "memmove");
	count(n);
	return real_mov(d, s, n);
}
__attribute__((destructor)) static void report(void)
{
	const char *f = getenv("GSTB_COUNT");
	FILE *o = f ? fopen(f, "w") : NULL;
	if (o) { fprintf(o, "%lu %lu\n", (unsigned long)calls, (unsigned long)bytes); fclose(o); }
}
C
cc -O2 -shared -fPIC -o "$work/cnt.so" "$work/cnt.c" -ldl

# run NAME PIPELINE...: in the background, timed and counted
run() {
	local name=$1
	shift
	GSTB_COUNT=$work/$name.cnt LD_PRELOAD=$work/cnt.so \
		/usr/bin/time -f "%e %U %S" -o "$work/$name.time" \
		timeout 30 gst-launch-1.0 -q "$@" >"$work/$name.out" 2>&1 &
}
cpu_us() { tail -n 1 "$work/$1.time" | awk -v n="$2" '{ printf "%.0f", ($2 + $3) * 1e6 / n }'; }
copies() { awk -v n="$2" '{ printf "%.2f", $1 / n }' "$work/$1.cnt" 2>/dev/null || echo "?"; }

# case MECH W H FRAMES READERS: one line of the table; also fps in $fps, CPU sum in $cpu
# (MECH: vdds, vdds+huge, shm, floor)
one_case() {
	local mech=$1 w=$2 h=$3 n=$4 r=$5 i size caps huge=false
	size=$((w * h * 3 / 2))
	caps="video/x-raw,format=I420,width=$w,height=$h,framerate=30/1"
	rm -rf "$work"/run "$work"/sock "$work"/w.* "$work"/r[0-9]*.*
	export VDDS_DIR=$work/run
	[ "$mech" = vdds+huge ] && huge=true
	if [ "$mech" = floor ]; then
		r=0
		run w videotestsrc num-buffers=$n pattern=black ! $caps ! fakesink sync=false \
			enable-last-sample=false
	elif [ "${mech%+huge}" = vdds ]; then
		for i in $(seq "$r"); do
			GST_DEBUG=vdds:4 GST_DEBUG_NO_COLOR=1 run r$i vddssrc topic=bench ! fakesink sync=false enable-last-sample=false
		done
		GST_DEBUG=vdds:4 GST_DEBUG_NO_COLOR=1 run w videotestsrc num-buffers=$n pattern=black ! \
			$caps ! vddssink topic=bench sync=false wait-subscribers=$r slots=$slots huge-pages=$huge
	else
		run w videotestsrc num-buffers=$n pattern=black ! $caps ! shmsink \
			socket-path=$work/sock shm-size=$((slots * (size + 1024))) wait-for-connection=true sync=false
		for _ in $(seq 500); do [ -S "$work/sock" ] && break; sleep 0.01; done
		for i in $(seq "$r"); do
			run r$i shmsrc socket-path=$work/sock is-live=true ! $caps ! fakesink sync=false enable-last-sample=false
		done
	fi
	wait
	fps=$(tail -n 1 "$work/w.time" | awk -v n="$n" '{ printf "%.1f", n / $1 }')
	local wcpu rcpu=0 rcopy=0 got=""
	wcpu=$(cpu_us w "$n")
	for i in $(seq "$r"); do
		rcpu=$((rcpu + $(cpu_us r$i "$n")))
		rcopy=$(awk -v a="$rcopy" -v b="$(copies r$i "$n")" 'BEGIN { printf "%.2f", a + b }')
		[ "$mech" != shm ] && got="$got$(sed -n 's/.*received \([0-9]*\).*/\1/p' "$work/r$i.out") "
	done
	cpu=$((wcpu + rcpu))
	local note=""
	# a pipeline that hung (shmsink can wait forever for room) is not a result
	timedout=0
	grep -q 'status 124' "$work"/*.time 2>/dev/null && timedout=1 note="TIMED OUT (30 s): "
	[ "${mech%+huge}" = vdds ] && note="${note}sink: $(sed -n 's/.*published [0-9]* (\(.*\)), dropped [0-9]*, \(blocked.*\)/\1; \2/p' "$work/w.out"); frames per reader: $got"
	[ "$mech" = vdds+huge ] && note="$note; $(grep -q 'huge pages not had' "$work/w.out" && echo 'huge pages NOT had' || echo 'on huge pages')"
	printf '| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n' "${w}x$h" "$mech" "$r" "$fps" \
		"$wcpu" "$([ "$r" -gt 0 ] && echo $((rcpu / r)) || echo -)" "$(copies w "$n")" \
		"$([ "$r" -gt 0 ] && awk -v a="$rcopy" -v r="$r" 'BEGIN { printf "%.2f", a / r }' || echo -)" "$cpu" "$note"
}

echo "## GStreamer: vddssink/vddssrc against shmsink/shmsrc ($(date -u +%Y-%m-%d))"
echo
echo "\`bench/gst_bench.sh\` on $(nproc) CPUs (load average at start: $(cut -d' ' -f1-3 /proc/loadavg));"
echo "\`videotestsrc pattern=black num-buffers=N ! I420 ! sink sync=false\` → \`src ! fakesink sync=false enable-last-sample=false\`;"
echo "$slots slots for vddssink, an area of $slots frames for shmsink; vm.nr_hugepages $hp_before before the run."
echo
echo "| frame | transport | readers | frames/s | writer CPU µs/frame | reader CPU µs/frame (each) | writer copies/frame | reader copies/frame (each) | all processes' CPU µs/frame | counted by the element |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
ratios=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for res in "1920 1080 ${GSTB_FRAMES_1080:-900}" "3840 2160 ${GSTB_FRAMES_4K:-600}"; do
	set -- $res
	one_case floor "$1" "$2" "$3" 0
	floor=$cpu
	for r in 1 3; do
		one_case vdds "$1" "$2" "$3" $r
		vfps=$fps vcpu=$cpu
		hfps=- hcpu=-
		if huge_ok "$1" "$2"; then
			one_case vdds+huge "$1" "$2" "$3" $r
			hfps=$fps hcpu=$cpu
		fi
		one_case shm "$1" "$2" "$3" $r
		# shmsink/shmsrc hang now and then (the writer waits for room
		# forever): the hung row is printed, and the case run once more
		[ "$timedout" = 1 ] && one_case shm "$1" "$2" "$3" $r
		ratios+=("| ${1}x$2 | $r | $(ratio "$vfps" "$fps") | $(ratio "$vcpu" "$cpu") | $([ "$hfps" = - ] && echo - || ratio "$hfps" "$fps") | $([ "$hcpu" = - ] && echo - || ratio "$hcpu" "$cpu") | $(ratio "$floor" "$cpu") |")
	done
done
echo
echo "| frame | readers | frames/s vdds / shm | CPU per frame (all processes) vdds / shm | frames/s vdds+huge / shm | CPU vdds+huge / shm | CPU floor / shm |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ratios[@]}"
