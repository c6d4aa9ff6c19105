#!/bin/sh
# policies.sh — the overflow policies with one slow subscriber (issue #10): publish rate and the
# publisher's CPU time under BLOCK, DROP_OLDEST and FAIL, 1 and 8 subscribers; a markdown section.
# Usage: bench/policies.sh [BUILD_DIR]   (default: <repo>/build, vdds_fanout already built)
# Environment: POLICY_ROUNDS (default 3), POLICY_MILLIS (default 1000 per run),
# POLICY_SLOW_US (default 100), POLICY_RAW=FILE to keep every run's result line.
# bench/run.sh runs it and appends its output to RESULTS.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
fan=$build/bench/vdds_fanout
rounds=${POLICY_ROUNDS:-3}
millis=${POLICY_MILLIS:-1000}
slow=${POLICY_SLOW_US:-100}
# the paced case: a publisher the fast subscribers keep up with (each sample
# followed by a 20 us nanosleep, in practice ~0.5 ms here), a slow one slower
pace=20
paced_slow=5000
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
trap 'exit 130' INT TERM

[ -x "$fan" ] || {
	echo "policies.sh: no $fan (build the vdds_fanout target first)" >&2
	exit 1
}

r=1
while [ $r -le "$rounds" ]; do
	echo "policies.sh: round $r/$rounds" >&2
	for c in "1 block" "1 drop" "1 fail" "8 block" "8 drop" "8 fail" "8 drop paced"; do
		# shellcheck disable=SC2086 # split "subs policy [paced]"
		set -- $c
		more="--slow-us $slow"
		[ $# = 3 ] && more="--slow-us $paced_slow --pace-us $pace"
		# shellcheck disable=SC2086 # more is a word list
		set -- "$fan" --subs "$1" --wait sleep --overflow "$2" $more --millis "$millis"
		# one retry: the VM can stall a process past a start-up timeout
		if ! line=$(timeout 120 "$@") && ! line=$(timeout 120 "$@"); then
			echo "policies.sh: failed twice: $*" >&2
			exit 1
		fi
		echo "round=$r $line" >>"$raw"
	done
	r=$((r + 1))
done
[ -n "${POLICY_RAW:-}" ] && cp "$raw" "$POLICY_RAW"

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)
cat <<EOF
## Overflow policies: one slow subscriber (bench/policies.sh)

- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit
- command: \`bench/policies.sh${1:+ $1}\` ($rounds rounds of each case, run by \`bench/run.sh\` too)
- each case: \`vdds_fanout --subs N --wait sleep --overflow P --slow-us $slow --millis $millis\`: the
  publisher (CPU 0) loans and publishes 64 B samples as fast as it can for $millis ms; every
  subscriber (all on CPU 1) sleeps in vdds_sub_wait when it has nothing to take; one of them (the
  only one, with 1 subscriber) also sleeps $slow µs after each sample it releases. Under FAIL a
  loan refused with -EAGAIN drops that sample and the publisher goes on with the next one (a busy
  loop while no slot is free); under DROP_OLDEST it would be -ENOBUFS.
- *msgs/s*: samples published per second of the publisher's run; *CPU/msg*: the publisher
  process's user + system time (getrusage RUSAGE_SELF; the subscribers are other processes) per
  sample published, and *CPU load* that time over the run's wall time (on this shared VM a
  publisher that never sleeps gets what CPU 0 is left by others, so CPU/msg is the steadier
  figure); *slept/msg*: loans that had to wait (vdds_pub_stats().blocked) per sample;
  *taken back/msg*: vdds_pub_stats().dropped per sample (one per lane a slot is taken back from);
  *refused/msg*: loans refused by FAIL per sample published; *slow one lost* and *the others lost*:
  vdds_sub_stats().lost over what was published, checked against each subscriber's seq gaps.
- *paced*: the same with \`--pace-us $pace --slow-us $paced_slow\`: the publisher sleeps after each
  sample (nanosleep: ~0.5 ms here), so the fast subscribers keep up and only the slow one
  (sleeping $paced_slow µs per sample) falls behind. Unpaced, sleeping subscribers sharing one CPU
  cannot keep up with a DROP_OLDEST publisher that never waits, so they lose samples too.
- medians over the rounds, each column on its own (range beside the first two).

| policy | subscribers | msgs/s | CPU/msg (ns) | CPU load | slept/msg | taken back/msg | refused/msg | slow one lost | the others lost |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
awk '
function field(name,   i) {
	for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2)
	return ""
}
function median(k, c, n,   i, j, t, s) { # of column c of case k over n runs
	for (i = 1; i <= n; i++) s[i] = v[k, c, i]
	for (i = 2; i <= n; i++) {
		t = s[i]
		for (j = i - 1; j >= 1 && s[j] + 0 > t + 0; j--) s[j + 1] = s[j]
		s[j + 1] = t
	}
	lo = s[1]; hi = s[n]
	return s[int((n + 1) / 2)]
}
{
	k = field("overflow") " " field("subs") (field("pace_us") > 0 ? " paced" : "")
	if (!(k in n)) order[++nk] = k
	i = ++n[k]
	msgs = field("msgs"); subs = field("subs")
	v[k, 1, i] = field("pub_msgs_per_s")
	v[k, 2, i] = field("cpu_ns_per_msg")
	v[k, 3, i] = field("cpu_load")
	v[k, 4, i] = field("blocked_per_msg")
	v[k, 5, i] = field("dropped") / msgs
	v[k, 6, i] = field("refused") / msgs
	v[k, 7, i] = 100 * field("slow_lost") / msgs
	v[k, 8, i] = subs > 1 ? 100 * field("fast_lost") / (msgs * (subs - 1)) : -1
}
END {
	name["block"] = "BLOCK"; name["drop"] = "DROP_OLDEST"; name["fail"] = "FAIL"
	for (o = 1; o <= nk; o++) {
		k = order[o]; split(k, p, " ")
		m1 = median(k, 1, n[k]); r1 = sprintf("%.0f (%.0f–%.0f)", m1, lo, hi)
		m2 = median(k, 2, n[k]); r2 = sprintf("%.0f (%.0f–%.0f)", m2, lo, hi)
		m8 = median(k, 8, n[k])
		printf "| %s | %s | %s | %s | %.2f | %.3f | %.3f | %.1f | %.1f %% | %s |\n",
			name[p[1]] (p[3] == "paced" ? ", paced" : ""), p[2], r1, r2,
			median(k, 3, n[k]), median(k, 4, n[k]), median(k, 5, n[k]), median(k, 6, n[k]),
			median(k, 7, n[k]), m8 < 0 ? "—" : sprintf("%.1f %%", m8)
	}
}' "$raw"
echo
echo "<details><summary>every run</summary>"
echo
echo '```'
cat "$raw"
echo '```'
echo "</details>"
