# bridge_report.awk — bench/run.sh's vdds-bridge section of RESULTS.md, from
# vdds_bridge_pingpong's result lines (tagged round=N). POSIX awk (mawk).
# Variables: rounds, iters, secs.
function field(name,   i) {
	for (i = 1; i <= NF; i++)
		if (index($i, name "=") == 1) return substr($i, length(name) + 2)
	return ""
}
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return a[int((n + 1) / 2)]
}
function human(b) {
	b += 0
	return b >= 1048576 ? b / 1048576 " MiB" : b >= 1024 ? b / 1024 " KiB" : b " B"
}
{
	r = field("round"); m = field("mode"); p = field("payload") + 0
	p50[m, p, r] = field("p50") / 1000
	cpu[m, p, r] = m == "bridge" ? field("bridge_cpu_us_per_msg") : field("dds_cpu_us_per_rt")
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
}
END {
	print ""
	print "## vdds-bridge over Cyclone DDS"
	print ""
	printf "Round trip on loopback, vdds -> vdds-bridge -> DDS -> vdds-bridge -> vdds and back (two bridges,\n"
	printf "two runtime directories, `vdds_bridge_pingpong --mode bridge`), against a direct Cyclone DDS\n"
	printf "ping-pong of the same `vdds::Frame` payloads with the bridge's QoS (reliable, keep-last 16,\n"
	printf "volatile; `--mode dds`); the two one after the other in each of %d rounds, %d round trips each\n", rounds, iters
	printf "(%d for 1 MiB), Cyclone DDS on `lo` with unicast discovery, no CPU pinning; %d s in all. Ratio:\n", iters / 10, secs
	printf "bridge p50 over DDS p50 of the same round, the median over the rounds (range beside it).\n"
	printf "Bridge CPU: user + system time of both bridge processes (every thread, /proc/<pid>/stat) over\n"
	printf "the measured round trips, per message forwarded (each round trip makes four forwards: out and\n"
	printf "in at each bridge); beside it, the two plain DDS programs' CPU per round trip.\n\n"
	print "| payload | DDS p50 (µs) | bridge p50 (µs) | bridge / DDS | range | target | result | bridge CPU per message (µs) | DDS programs' CPU per round trip (µs) |"
	print "|---|---:|---:|---:|---|---|---|---:|---:|"
	for (i = 1; i <= np; i++) {
		p = order[i]; n = 0
		for (r = 1; r <= rounds; r++) {
			if ((("dds", p, r) in p50) && (("bridge", p, r) in p50)) {
				n++
				q[n] = p50["bridge", p, r] / p50["dds", p, r]
				d[n] = p50["dds", p, r]; b[n] = p50["bridge", p, r]
				bc[n] = cpu["bridge", p, r]; dc[n] = cpu["dds", p, r]
			}
		}
		ratio = median(q, n); lo = q[1]; hi = q[n]
		target = p == 64 ? "≤ 1.30" : "—"
		result = p != 64 ? "—" : (ratio <= 1.3 ? "PASS" : "**MISS**")
		printf "| %s | %.1f | %.1f | %.2f | %.2f–%.2f | %s | %s | %.1f | %.1f |\n", human(p),
			median(d, n), median(b, n), ratio, lo, hi, target, result, median(bc, n), median(dc, n)
	}
	print ""
	print "Each direction wakes three processes where DDS alone wakes one: the sending side's bridge (the"
	print "vdds eventfd), the receiving bridge's loop (its listener's eventfd; Cyclone's receive thread"
	print "wakes a plain DDS reader's thread alike) and the receiving vdds process. One point again:"
	print "`build/bench/vdds_bridge_pingpong --mode bridge --payload 64 --iters 3000 --warmup 300`."
}
