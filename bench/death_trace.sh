#!/bin/sh
# death_trace.sh — where kill-to-wake goes (issue #14): runs vdds_death under
# kernel tracepoints (a private tracefs instance; no kprobes needed) and splits
# each kill into phases, printed as medians and p90 over the kills:
#   kill -> victim runs      kill(2) entered by the killer until a publisher
#                            thread is switched in (signal delivery, scheduling)
#   -> do_exit (last thread) until the last thread's sched_process_exit
#                            (group_dead; the other thread must exit first)
#   -> mm torn down          until that thread's last mmap_lock release
#                            (exit_mm/exit_mmap: every mapping unmapped, pages
#                            and page tables freed) — before any fd is closed
#   -> subscriber woken      until the subscriber's sched_wakeup by the dying
#                            publisher (exit_files: the socket's hang-up)
#   -> subscriber runs       until it is switched in
# Usage: bench/death_trace.sh [BUILD_DIR] [vdds_death arguments...]
#        (default: --kills 100 --mode wait). Needs root and tracefs.
#        DEATH_TRACE_KEEP=FILE keeps the raw trace.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- --kills 100 --mode wait
T=/sys/kernel/tracing
[ -d $T/instances ] || T=/sys/kernel/debug/tracing
inst=$T/instances/vdds_death_$$
mkdir "$inst"
trap 'echo 0 >"$inst/tracing_on"; rmdir "$inst"' EXIT
echo 8192 >"$inst/buffer_size_kb"
echo 0 >"$inst/tracing_on"
en() { echo "$2" >"$inst/events/$1/filter"; echo 1 >"$inst/events/$1/enable"; }
en syscalls/sys_enter_kill 'sig == 9'
en sched/sched_process_exit 'comm == "death-pub"'
en sched/sched_wakeup 'comm == "vdds_death" || comm == "death-pub"'
en sched/sched_switch 'next_comm == "vdds_death" || next_comm == "death-pub"'
en mmap_lock/mmap_lock_released 'common_pid != 0'
echo 1 >"$inst/tracing_on"
"$build/bench/vdds_death" "$@"
echo 0 >"$inst/tracing_on"
[ -n "${DEATH_TRACE_KEEP:-}" ] && cp "$inst/trace" "$DEATH_TRACE_KEEP"
# ftrace text: "comm-pid [cpu] flags time: event: fields"
awk '
function ts(   t) { t = $0; sub(/^.*\] [^ ]+ +/, "", t); sub(/:.*/, "", t); return t * 1e6 }
function med(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return sprintf("%8.1f %8.1f", a[int((n + 1) / 2)], a[int(n * 0.9 + 0.999)])
}
/sys_kill\(|sys_enter_kill/ && /death-kill/ { if (state) flush(); state = 1; t0 = ts(); trun = texit = tmm = twake = tsub = ""; next }
!state { next }
/sched_switch/ && /next_comm=death-pub/ && trun == "" { trun = ts() }
/sched_process_exit/ && /group_dead=true/ { texit = ts() }
/mmap_lock_released/ && /^ *death-pub/ && texit != "" && twake == "" { tmm = ts() }
/sched_wakeup/ && /comm=vdds_death/ && /^ *death-pub/ && twake == "" { twake = ts() }
/sched_switch/ && /next_comm=vdds_death/ && twake != "" && tsub == "" { tsub = ts(); flush() }
function flush() {
	if (trun != "" && texit != "" && twake != "" && tsub != "") {
		n++; a1[n] = trun - t0; a2[n] = texit - trun; a3[n] = (tmm == "" ? texit : tmm) - texit
		a4[n] = twake - (tmm == "" ? texit : tmm); a5[n] = tsub - twake; a6[n] = tsub - t0
	}
	state = 0
}
END {
	printf "%d kills traced; microseconds:          median      p90\n", n
	if (!n) exit
	print "kill -> a publisher thread runs      " med(a1, n)
	print "-> do_exit of its last thread        " med(a2, n)
	print "-> its mm torn down (exit_mm)        " med(a3, n)
	print "-> subscriber woken (exit_files)     " med(a4, n)
	print "-> subscriber runs                   " med(a5, n)
	print "kill -> subscriber runs, in all      " med(a6, n)
}' "$inst/trace"
