# report.awk — turns bench/run.sh's result lines into RESULTS.md (part=md) or
# into the data files plot.gp draws (part=plot, into dir). POSIX awk (mawk).
# Input: meta.txt (key=value lines), then the raw result lines.

function field(name,   i, kv) {
	for (i = 1; i <= NF; i++) {
		if (index($i, name "=") == 1)
			return substr($i, length(name) + 2)
	}
	return ""
}

# Sort a[1..n] numerically in place; return the middle one (the lower middle
# of an even count).
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n ? a[int((n + 1) / 2)] : ""
}

FNR == NR {
	eq = index($0, "=")
	meta[substr($0, 1, eq - 1)] = substr($0, eq + 1)
	next
}

{ kind = field("kind"); rnd = field("round") + 0 }
rnd > nrounds { nrounds = rnd }

kind == "lat" {
	k = field("mode") SUBSEP field("payload") SUBSEP field("cpus")
	if (!(k in nruns)) { lkeys[++nlkeys] = k; nruns[k] = 0 }
	run[k, ++nruns[k]] = $0
	p50r[k, rnd] = field("p50")
}

kind == "tput" {
	k = field("wait") SUBSEP field("subs")
	n = ++ntput[k]
	tput[k, n] = $0
}

kind == "sys" { sys[field("wait"), field("subs")] = $0 }
kind == "sysfan" { sysfan[field("wait"), field("subs")] = $0 }
kind == "cg" { cg[field("mode")] = $0 }
kind == "rtsys" { rtsys[++nrtsys] = $0 }
kind == "skip" { skip[field("what")] = field("reason") }
kind == "adapt" {
	k = field("mode") SUBSEP field("spin_ns")
	if (!(k in nadapt)) { akeys[++nakeys] = k; nadapt[k] = 0 }
	adapt[k, ++nadapt[k]] = $0
}
kind == "death" { death[field("mode")] = $0; dorder[++ndeath] = field("mode") }
kind == "fds" { fds = $0 }
{ lines[++nlines] = $0 }

# The run whose p50 is the median of its rounds, as a line.
function median_run(k,   i, j, n, t, r) {
	n = nruns[k]
	for (i = 1; i <= n; i++) r[i] = run[k, i]
	for (i = 2; i <= n; i++) {
		t = r[i]
		$0 = t; tv = field("p50") + 0
		for (j = i - 1; j >= 1; j--) {
			$0 = r[j]
			if (field("p50") + 0 <= tv) break
			r[j + 1] = r[j]
		}
		r[j + 1] = t
	}
	return r[int((n + 1) / 2)]
}

function p50_of(mode, payload, cpus,   k) {
	k = mode SUBSEP payload SUBSEP cpus
	if (!(k in nruns)) return ""
	$0 = median_run(k)
	return field("p50")
}

# Median over rounds of p50(num) / p50(den), each taken in the same round;
# sets RLO and RHI to the range. "" when either is missing.
function ratio(nm, np, nc, dm, dp, dc,   r, n, q, a, b, m) {
	n = 0
	for (r = 1; r <= nrounds; r++) {
		a = (nm SUBSEP np SUBSEP nc, r) in p50r ? p50r[nm, np, nc, r] : ""
		b = (dm SUBSEP dp SUBSEP dc, r) in p50r ? p50r[dm, dp, dc, r] : ""
		if (a != "" && b != "" && b > 0)
			q[++n] = a / b
	}
	if (n == 0) return ""
	m = median(q, n)
	RLO = q[1]; RHI = q[n]
	return m
}

function verdict(v, limit) {
	return v == "" ? "n/a" : (v + 0 <= limit + 0 ? "PASS" : "**MISS**")
}

# Print one target row and remember its result for "What is missed": id keys
# the explanation in bench/MISSES.md; shown is the measured value as printed.
function row(id, what, limit_txt, shown, range, result) {
	printf "| %s | %s | %s | %s | %s |\n", what, limit_txt, shown, range, result
	if (result ~ /MISS/) {
		nmiss++; miss_id[nmiss] = id; miss_what[nmiss] = what
		miss_txt[nmiss] = shown " against " limit_txt (range ~ /–/ ? " (range " range ")" : "")
	} else if (result ~ /^n\/a/) {
		nna++; na_what[nna] = what; na_why[nna] = result
	}
}

function target_ratio(id, what, limit, nm, np, nc, dm, dp, dc,   v) {
	v = ratio(nm, np, nc, dm, dp, dc)
	if (v == "") {
		row(id, what, sprintf("≤ %.2f", limit), "—", "—", "n/a (not measured)")
		return
	}
	row(id, what, sprintf("≤ %.2f", limit), sprintf("%.2f", v), sprintf("%.2f–%.2f", RLO, RHI),
		verdict(v, limit))
}

function human(b) {
	if (b + 0 >= 1048576) return (b / 1048576) " MiB"
	if (b + 0 >= 1024) return (b / 1024) " KiB"
	return b " B"
}

function cg_per_rt(mode, name,   a, b) {
	if (!(mode in cg)) return ""
	$0 = cg[mode]
	a = field(name "2000"); b = field(name "12000")
	if (a == "" || b == "") return ""
	return (b - a) / 10000
}

# Instructions per round trip inside the five vdds calls (inclusive).
function cg_library(   f, n, v, t, i) {
	n = split("vdds_sub_wait_ vdds_sub_take_ vdds_sub_release_ vdds_pub_loan_ vdds_pub_publish_", f, " ")
	t = 0
	for (i = 1; i <= n; i++) {
		v = cg_per_rt("vdds-wait", f[i])
		if (v == "") return ""
		t += v
	}
	return t
}

# Median over rounds of field f of the adaptive case k (mode, spin); sets
# RLO, RHI. "" when not measured.
function adapt_med(k, f,   i, n, q, v, m) {
	n = 0
	for (i = 1; i <= nadapt[k]; i++) {
		$0 = adapt[k, i]
		v = field(f)
		if (v != "") q[++n] = v
	}
	if (n == 0) return ""
	m = median(q, n)
	RLO = q[1]; RHI = q[n]
	return m
}

function adapt_row(id, what, k, f, limit,   v) {
	v = (k in nadapt) ? adapt_med(k, f) : ""
	if (v == "") {
		row(id, what, sprintf("≤ %.2f", limit), "—", "—",
			"adaptive" in skip ? "n/a: " skip["adaptive"] : "n/a (not measured)")
		return
	}
	row(id, what, sprintf("≤ %.2f", limit), sprintf("%.2f", v), sprintf("%.2f–%.2f", RLO, RHI),
		verdict(v, limit))
}

function fds_row(id, what, f, limit,   v, why) {
	if (fds == "") {
		why = "fds" in skip ? skip["fds"] : "not measured"
		gsub(/_/, " ", why)
		row(id, what, "≤ " limit, "—", "—", "n/a: " why)
		return
	}
	$0 = fds
	v = field(f)
	if (v == "")
		row(id, what, "≤ " limit, "—", "—", "n/a: bench/fds printed no such line")
	else
		row(id, what, "≤ " limit, v, "counted", verdict(v, limit))
}

function print_targets(   v, w, s, n, c, cpus, k, i, order, m, ways) {
	print "## Targets"
	print ""
	print "Each ratio is of median round trips (p50) measured in the same round, then the median over the"
	print "rounds (range beside it). Raw counterparts: see *How this was measured*. Limits marked #14 are"
	print "issue #14's; every result is computed from this run."
	print ""
	print "| target | limit | measured | range | result |"
	print "|---|---:|---:|---|---|"
	for (c = 1; c <= 2; c++) {
		cpus = c == 1 ? "same" : "cross"
		target_ratio("wait-epollset", "vdds blocking (vdds_sub_wait) / raw epoll on the same fds (epoll-set), " cpus " CPU",
			1.10, "vdds-wait", 64, cpus, "epoll-set", 0, cpus)
		if (cpus == "same")
			target_ratio("wait-eventfd-same", "vdds blocking / raw eventfd read, same CPU",
				1.20, "vdds-wait", 64, cpus, "eventfd", 0, cpus)
		else
			target_ratio("wait-eventfd-cross", "vdds blocking / raw eventfd read, cross CPU (#14)",
				1.05, "vdds-wait", 64, cpus, "eventfd", 0, cpus)
		target_ratio("ws-uring", "vdds waitset io_uring / raw io_uring multishot poll, " cpus " CPU",
			1.10, "vdds-ws-uring", 64, cpus, "uring-poll", 0, cpus)
		target_ratio("ws-epoll", "vdds waitset epoll / raw eventfd in epoll (ET), " cpus " CPU",
			1.10, "vdds-ws-epoll", 64, cpus, "epoll", 0, cpus)
		target_ratio("fd-epoll", "vdds fd in the user's epoll / raw eventfd in epoll + read, " cpus " CPU",
			1.10, "vdds-epoll", 64, cpus, "epoll-read", 0, cpus)
	}
	target_ratio("spin-raw", "vdds busy-poll round trip / raw shared-memory spin, cross CPU (#14)",
		1.50, "vdds-spin", 64, "cross", "spin", 0, "cross")
	if ("iceoryx" in skip) {
		row("iox", "vdds vs iceoryx", "—", "—", "—", "n/a: " skip["iceoryx"])
	} else {
		target_ratio("iox-ws", "vdds blocking / iceoryx WaitSet, same CPU",
			0.60, "vdds-wait", 64, "same", "iox-ws", 64, "same")
		target_ratio("spin-iox", "vdds busy-poll / iceoryx busy-poll, cross CPU (#14)",
			0.15, "vdds-spin", 64, "cross", "iox-spin", 64, "cross")
	}
	for (c = 1; c <= 2; c++) {
		cpus = c == 1 ? "same" : "cross"
		target_ratio("wait-1m", "vdds blocking, 1 MiB / 64 B, " cpus " CPU",
			1.05, "vdds-wait", 1048576, cpus, "vdds-wait", 64, cpus)
		target_ratio("wait-16m", "vdds blocking, 16 MiB / 64 B, " cpus " CPU",
			1.05, "vdds-wait", 16777216, cpus, "vdds-wait", 64, cpus)
	}
	target_ratio("spin-1m", "vdds busy-poll, 1 MiB / 64 B, cross CPU",
		1.05, "vdds-spin", 1048576, "cross", "vdds-spin", 64, "cross")
	target_ratio("spin-16m", "vdds busy-poll, 16 MiB / 64 B, cross CPU (#14)",
		1.03, "vdds-spin", 16777216, "cross", "vdds-spin", 64, "cross")
	v = cg_library()
	if (v == "")
		row("instr", "user-space instructions of the vdds calls per blocking round trip (callgrind) (#14)",
			"≤ 350", "—", "—", "n/a: " ("instructions" in skip ? skip["instructions"] : "not measured"))
	else
		row("instr", sprintf("user-space instructions of the vdds calls per blocking round trip (callgrind, echo side; with the bench loop %s) (#14)",
			fmt0(cg_per_rt("vdds-wait", "ir"))), "≤ 350", sprintf("%.0f", v), "exact", verdict(v, 350))
	adapt_row("adapt-lat", "adaptive wait, vdds_sub_wait spin_ns 10 µs, 100 kHz stream: latency p50 / busy-poll's (#14)",
		"wait" SUBSEP 10000, "lat_p50_vs_busy", 1.2)
	adapt_row("adapt-cpu", "adaptive wait, vdds_sub_wait spin_ns 10 µs, 100 kHz stream: CPU per message / busy-poll's (#14)",
		"wait" SUBSEP 10000, "cpu_vs_busy", 0.5)
	adapt_row("adapt-lat", "adaptive wait, waitset spin_ns 10 µs, 100 kHz stream: latency p50 / busy-poll's (#14)",
		"ws" SUBSEP 10000, "lat_p50_vs_busy", 1.2)
	adapt_row("adapt-cpu", "adaptive wait, waitset spin_ns 10 µs, 100 kHz stream: CPU per message / busy-poll's (#14)",
		"ws" SUBSEP 10000, "cpu_vs_busy", 0.5)
	split("wait epoll ws-uring ws-epoll", ways, " ")
	for (m = 1; m <= 4; m++) {
		w = "publisher death seen by a subscriber waiting in " ways[m] ", p99 kill-to-wake (#14)"
		if (!(ways[m] in death)) {
			row("death", w, "≤ 1000 µs", "—", "—",
				"death" in skip ? "n/a: " skip["death"] : "n/a (not measured)")
			continue
		}
		$0 = death[ways[m]]
		v = field("p99_us")
		row("death", w " over " field("kills") " kills", "≤ 1000 µs", sprintf("%.0f µs", v),
			sprintf("p50 %.0f, max %.0f", field("p50_us"), field("max_us")), verdict(v, 1000))
	}
	fds_row("fds-topic", "fds per published topic, 1,000 topics (bench/fds) (#14)", "per_topic", 3)
	fds_row("fds-sub", "fds per subscription, 1,000 topics (bench/fds) (#14)", "per_sub", 2)
	split("busy 1,busy 4,sleep 1,sleep 4,sleep 16", order, ",")
	for (i = 1; i <= 5; i++) {
		split(order[i], s, " ")
		k = s[1] SUBSEP s[2]
		if (!(k in sys)) continue
		$0 = sys[k]
		n = s[2] + 0
		if (s[1] == "busy") {
			v = field("syscalls_per_msg")
			row("sys-busy", sprintf("publisher syscalls per message, %d busy subscriber%s", n, (n > 1 ? "s" : "")),
				"0", sprintf("%.3f", v), "counted (strace)", (v + 0 <= 0.01 ? "PASS" : "**MISS**"))
		} else {
			v = field("writes_per_msg") / n
			w = field("syscalls_per_msg") - field("writes_per_msg")
			row("sys-sleep", sprintf("publisher eventfd writes per message per sleeping subscriber, %d subscriber%s", n, (n > 1 ? "s" : "")),
				"1", sprintf("%.3f (other syscalls %.3f)", v, w), "counted (strace)",
				((v >= 0.99 && v <= 1.01 && w <= 0.01) ? "PASS" : "**MISS**"))
		}
	}
	if ("syscalls" in skip)
		row("sys", "publisher syscalls per message", "—", "—", "—", "n/a: " skip["syscalls"])
	print ""
}

# "What is missed, and why": every target this run missed, with what it
# measured, and the explanation bench/MISSES.md keeps under the target's id
# ("## id" headings); then the targets that could not be measured.
function print_misses(   i, line, id, text, seen, shown) {
	print "## What is missed, and why"
	print ""
	print "Generated from this run's targets above: every **MISS** with its measured value, then the"
	print "explanation kept in bench/MISSES.md under the target's id (written from earlier"
	print "investigations; the figures here are this run's)."
	print ""
	id = ""
	while (misses != "" && (getline line < misses) > 0) {
		if (line ~ /^## /) { id = substr(line, 4); continue }
		if (id == "" || line == "") continue
		if (seen[id]) text[id] = text[id] "\n  " line
		else { text[id] = line; seen[id] = 1 }
	}
	if (nmiss == 0)
		print "Nothing: every target measured in this run passed."
	for (i = 1; i <= nmiss; i++) {
		print "- **" miss_what[i] "**: " miss_txt[i] "."
		if (miss_id[i] in shown)
			print "  Why: as for *" shown[miss_id[i]] "* above."
		else if (seen[miss_id[i]])
			print "  " text[miss_id[i]]
		else
			print "  No explanation in bench/MISSES.md (id `" miss_id[i] "`) yet."
		if (!(miss_id[i] in shown)) shown[miss_id[i]] = miss_what[i]
	}
	if (nna > 0) {
		print ""
		print "Not measured in this run:"
		print ""
		for (i = 1; i <= nna; i++)
			print "- " na_what[i] ": " na_why[i]
	}
	print ""
}

function print_adaptive(   i, k, f, idle, r1, r2, r3) {
	print "## Adaptive wait under a 100 kHz stream (bench/adaptive.c)"
	print ""
	if (nakeys == 0) {
		print "not measured" ("adaptive" in skip ? ": " skip["adaptive"] : "")
		print ""
		return
	}
	print "The publisher (CPU 0) publishes 64 B every 10 µs, paced by a busy-wait on the clock (a late"
	print "publisher skips the ticks it missed rather than bursting); the subscriber (CPU 1) busy-polls or"
	print "waits in vdds_sub_wait() / the waitset (default backend) with spin_ns. Latency: the publisher's"
	print "clock right before publish to the subscriber's right after take. CPU: the subscriber's"
	print "CLOCK_PROCESS_CPUTIME_ID over the measured messages. Ratios are to the busy-poll case of the"
	print "same invocation, median over " meta["adapt_rounds"] " rounds (the run with the median ratio shown in the other"
	print "columns). *pub wakeups/msg*: eventfd writes by the publisher, i.e. how often the subscriber"
	print "was asleep. *idle CPU*: the subscriber's CPU over " meta["adapt_idle_ms"] " ms of silence after the stream."
	print ""
	print "| wait | spin_ns | rate, Hz | p50, ns | p99, ns | CPU/msg, ns | CPU share | pub wakeups/msg | p50 / busy | p99 / busy | CPU / busy | idle CPU, µs |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nakeys; i++) {
		k = akeys[i]
		split(k, f, SUBSEP)
		r1 = adapt_med(k, "lat_p50_vs_busy"); r2 = adapt_med(k, "lat_p99_vs_busy")
		r3 = adapt_med(k, "cpu_vs_busy"); idle = adapt_med(k, "idle_cpu_us")
		$0 = adapt_median_run(k)
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f[1] (field("backend") != "-" ? " (" field("backend") ")" : ""), f[2],
			commas(field("rate_hz")), commas(field("p50_ns")), commas(field("p99_ns")),
			field("cpu_ns_per_msg"), field("cpu_share"), field("pub_wakeups_per_msg"),
			fmt2(r1), fmt2(r2), fmt2(r3), idle == "" ? "—" : idle
	}
	print ""
}

# The round of case k whose p50 is the median, as a line.
function adapt_median_run(k,   i, j, n, t, tv, r) {
	n = nadapt[k]
	for (i = 1; i <= n; i++) r[i] = adapt[k, i]
	for (i = 2; i <= n; i++) {
		t = r[i]
		$0 = t; tv = field("p50_ns") + 0
		for (j = i - 1; j >= 1; j--) {
			$0 = r[j]
			if (field("p50_ns") + 0 <= tv) break
			r[j + 1] = r[j]
		}
		r[j + 1] = t
	}
	return r[int((n + 1) / 2)]
}

function print_death(   m) {
	print "## Publisher death seen by a waiting subscriber (bench/death.c)"
	print ""
	if (ndeath == 0) {
		print "not measured" ("death" in skip ? ": " skip["death"] : "")
		print ""
		return
	}
	print "A publisher process (default options, every slot written once, its service thread running) is"
	print "SIGKILLed while the subscriber (the main process) waits; kill-to-wake runs from the killer's clock"
	print "right before kill() to the subscriber's right after its wait returned. The killer is one"
	print "long-lived process; nothing is pinned. `bench/death_trace.sh` splits it into kernel phases."
	print ""
	print "| subscriber waits in | kills | p50, µs | p99, µs | max, µs |"
	print "|---|---:|---:|---:|---:|"
	for (m = 1; m <= ndeath; m++) {
		$0 = death[dorder[m]]
		printf "| %s | %s | %s | %s | %s |\n", dorder[m], field("kills"), field("p50_us"),
			field("p99_us"), field("max_us")
	}
	print ""
}

function print_fds(   v) {
	print "## File descriptors per topic (bench/fds)"
	print ""
	if (fds == "") {
		v = "fds" in skip ? skip["fds"] : "no result"
		gsub(/_/, " ", v)
		print "not measured: " v
	} else {
		$0 = fds
		printf "With 1,000 topics: %s fds per published topic, %s per subscription (bench/fds's own lines).\n",
			field("per_topic"), field("per_sub")
	}
	print ""
}

function print_header() {
	print "# vdds benchmark results"
	print ""
	print "Generated by `bench/run.sh`; do not edit by hand. Plots: [round trip by mechanism](rtt_by_mechanism.png),"
	print "[by payload size](latency_by_payload.png), [throughput by subscribers](throughput_by_subscribers.png)."
	print ""
	if (meta["note"] != "") print "**" meta["note"] "**\n"
	print "- date: " meta["date"]
	print "- machine: " meta["cpu"] ", kernel " meta["kernel"]
	print "- commit: " meta["commit"]
	print "- command: `" meta["cmdline"] "` (" meta["elapsed"] " s in all, build included): " meta["rounds"] " rounds of every"
	print "  latency case (" meta["iters"] " round trips after " meta["warmup"] " warm-up each) and of every throughput case"
	print "- " meta["iox"]
	print ""
}

function print_method() {
	print "## How this was measured"
	print ""
	print "- Round trip: process A stamps CLOCK_MONOTONIC, sends message i, waits for B's answer i; B waits, then"
	print "  answers. *same*: both processes pinned to CPU 0; *cross*: A on CPU 0, B on CPU 1."
	print "- Modes. Raw: `eventfd` blocking read/write; `epoll` eventfd in epoll, EPOLLET, never read;"
	print "  `epoll-set` the same plus a connected Unix socket watched for hang-up — exactly the set behind"
	print "  `vdds_sub_fd()`, waited on as `vdds_sub_wait()` does; `epoll-read` eventfd in epoll, level-triggered,"
	print "  cleared with read(); `uring-poll` io_uring multishot poll on the eventfd, never read, ring made with"
	print "  SINGLE_ISSUER|DEFER_TASKRUN; `spin` a word in shared memory (the floor); `sem` POSIX named semaphores"
	print "  (sem_open, the original VDDS mechanism); `pipe`; `unix` datagram socket pair."
	print "  vdds: loan + publish, then `vdds-wait` vdds_sub_wait + take; `vdds-epoll` take until -EAGAIN, then"
	print "  epoll_wait on the user's own epoll holding vdds_sub_fd; `vdds-ws-uring` / `vdds-ws-epoll` the waitset"
	print "  with VDDS_BACKEND forced (the backend is checked); `vdds-spin` busy_poll subscriber spinning on take."
	print "  iceoryx 2.0 C binding: `iox-ws` WaitSet on the subscriber's HAS_DATA state, `iox-spin` spinning on take."
	print "- Spinning modes run across CPUs only: on one CPU each wait would cost a scheduler tick."
	print "- Payloads: only the first 64-byte cache line of every payload is written and read (len is the full"
	print "  size), so the numbers measure the transport, which must not care about size (zero copy)."
	print "  vdds slots are the default 4 KiB up to 4 KiB, else exactly the payload size."
	print "- This VM drifts between latency regimes, so every case runs once per round, a vdds mode right after its"
	print "  raw counterpart; tables show the run with the median p50 over the rounds, ratios are per round."
	print "- Throughput: one publisher (blocking: default BLOCK policy, loan waits for a slot), N subscriber"
	print "  processes, 64 B messages in the default 4 KiB slots, for 0.5 s; every subscriber checks it got every"
	print "  message in order. The publisher is pinned to CPU 0 and every subscriber to CPU 1 (unpinned, the"
	print "  scheduler's placement swung results tenfold from run to run)."
	print "- Syscalls: `strace -c` on the publisher's thread only (no -f), at 200 and 1200 messages paced 1 ms apart"
	print "  (so sleeping subscribers are asleep at every message); the difference over 1000 messages cancels"
	print "  set-up, and the bench's own pacing sleeps (clock_nanosleep) are left out."
	print "- Instructions: callgrind (deterministic; hardware counters are not available in this VM) on the echo"
	print "  side B at 2000 and 12000 round trips, same CPU; the difference / 10000 cancels set-up. The count"
	print "  includes the bench loop and libc's syscall wrappers, as for the raw baseline."
	print ""
}

function print_latency(   i, k, f, last) {
	print "## Round-trip latency, ns"
	print ""
	print "| mode | payload | CPUs | min | p50 | p99 | p99.9 | max |"
	print "|---|---:|---|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nlkeys; i++) {
		k = lkeys[i]
		split(k, f, SUBSEP)
		if (f[3] != "same") continue
		print_lat_row(k)
	}
	for (i = 1; i <= nlkeys; i++) {
		k = lkeys[i]
		split(k, f, SUBSEP)
		if (f[3] != "cross") continue
		print_lat_row(k)
	}
	print ""
}

function print_lat_row(k) {
	$0 = median_run(k)
	printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", field("mode"),
		field("payload") == 0 ? "—" : human(field("payload")), field("cpus"),
		field("min"), field("p50"), field("p99"), field("p99.9"), field("max")
}

function print_payload(   m, mode, c, cpus, modes, r1, r2, r3) {
	print "## Payload independence: p50 at each size / p50 at 64 B (same round, median over rounds)"
	print ""
	print "| mode | CPUs | 4 KiB | 1 MiB | 16 MiB |"
	print "|---|---|---:|---:|---:|"
	split("vdds-wait vdds-epoll vdds-ws-uring vdds-ws-epoll vdds-spin iox-ws", modes, " ")
	for (c = 1; c <= 2; c++) {
		cpus = c == 1 ? "same" : "cross"
		for (m = 1; m <= 6; m++) {
			mode = modes[m]
			r1 = ratio(mode, 4096, cpus, mode, 64, cpus)
			r2 = ratio(mode, 1048576, cpus, mode, 64, cpus)
			r3 = ratio(mode, 16777216, cpus, mode, 64, cpus)
			if (r1 == "" && r2 == "" && r3 == "") continue
			printf "| %s | %s | %s | %s | %s |\n", mode, cpus, fmt2(r1), fmt2(r2), fmt2(r3)
		}
	}
	print ""
}

# 1234567 -> 1,234,567
function commas(v,   s, r) {
	s = sprintf("%.0f", v)
	r = ""
	while (length(s) > 3) {
		r = "," substr(s, length(s) - 2) r
		s = substr(s, 1, length(s) - 3)
	}
	return s r
}

function fmt2(v) { return v == "" ? "—" : sprintf("%.2f", v) }

# The throughput run with the median msgs/s, as a line.
function tput_median(k,   n, i, j, t, tv, r) {
	n = ntput[k]
	if (!n) return ""
	for (i = 1; i <= n; i++) r[i] = tput[k, i]
	for (i = 2; i <= n; i++) {
		t = r[i]
		$0 = t; tv = field("msgs_per_s") + 0
		for (j = i - 1; j >= 1; j--) {
			$0 = r[j]
			if (field("msgs_per_s") + 0 <= tv) break
			r[j + 1] = r[j]
		}
		r[j + 1] = t
	}
	return r[int((n + 1) / 2)]
}

function print_tput(   s, subs, a, b) {
	print "## Throughput, 64 B messages, one blocking publisher (median of the rounds)"
	print ""
	print "| subscribers | busy: msgs/s | busy: deliveries/s | busy: publisher reads/msg | sleeping: msgs/s | sleeping: deliveries/s | sleeping: wakeups/msg |"
	print "|---:|---:|---:|---:|---:|---:|---:|"
	split("1 2 4 8 16", subs, " ")
	for (s = 1; s <= 5; s++) {
		a = tput_median("busy" SUBSEP subs[s])
		b = tput_median("sleep" SUBSEP subs[s])
		if (a == "" && b == "") continue
		$0 = a; a1 = field("msgs_per_s"); a2 = field("deliveries_per_s"); a3 = field("syscr_per_msg")
		$0 = b; b1 = field("msgs_per_s"); b2 = field("deliveries_per_s"); b3 = field("wakeups_per_msg")
		printf "| %d | %s | %s | %s | %s | %s | %s |\n", subs[s], commas(a1), commas(a2), a3,
			commas(b1), commas(b2), b3
	}
	print ""
	print "*publisher reads/msg*: read() calls of the publishing thread (/proc/thread-self/io), i.e. how often"
	print "it slept in loan waiting for a slot to come back. *wakeups/msg*: vdds_pub_stats().wakeups per message."
	print "Busy subscribers beyond the first share CPU 1 and spin through their whole time slice each, so those"
	print "rows measure the scheduler's time slices, not vdds: busy polling needs a CPU per subscriber."
	print ""
}

function print_sys(   w, s, subs, waits, k, n) {
	print "## Publisher syscalls per message (strace, paced 1 ms)"
	print ""
	if ("syscalls" in skip) {
		print "Skipped: " skip["syscalls"]
		print ""
		return
	}
	print "| subscribers | they | syscalls/msg | of which write/msg | wakeups/msg (vdds_pub_stats) | write syscalls/msg (/proc) |"
	print "|---:|---|---:|---:|---:|---:|"
	split("busy sleep", waits, " ")
	split("1 4 16", subs, " ")
	for (w = 1; w <= 2; w++) {
		for (s = 1; s <= 3; s++) {
			k = waits[w] SUBSEP subs[s]
			if (!(k in sys)) continue
			$0 = sys[k]; a = field("syscalls_per_msg"); b = field("writes_per_msg")
			$0 = sysfan[k]; c = field("wakeups_per_msg"); d = field("syscw_per_msg")
			printf "| %d | %s | %s | %s | %s | %s |\n", subs[s], waits[w], a, b, c, d
		}
	}
	print ""
}

function print_cg(   m, modes, v) {
	print "## User-space instructions per round trip (callgrind, echo side)"
	print ""
	if ("instructions" in skip) {
		print "Skipped: " skip["instructions"]
		print ""
		return
	}
	print "| mode | instructions per round trip |"
	print "|---|---:|"
	split("eventfd epoll-set vdds-wait", modes, " ")
	for (m = 1; m <= 3; m++) {
		v = cg_per_rt(modes[m], "ir")
		if (v != "") printf "| %s | %.0f |\n", modes[m], v
	}
	print ""
	print "vdds-wait by call, inclusive of what each calls (libc wrappers included), per round trip;"
	print "the rest of the vdds-wait total is the bench's own loop (its message checks, the 64 B store):"
	print ""
	print "| vdds_sub_wait | vdds_sub_take | vdds_sub_release | vdds_pub_loan | vdds_pub_publish | vdds calls | bench loop |"
	print "|---:|---:|---:|---:|---:|---:|---:|"
	v = cg_library()
	printf "| %s | %s | %s | %s | %s | %s | %s |\n", fmt0(cg_per_rt("vdds-wait", "vdds_sub_wait_")),
		fmt0(cg_per_rt("vdds-wait", "vdds_sub_take_")), fmt0(cg_per_rt("vdds-wait", "vdds_sub_release_")),
		fmt0(cg_per_rt("vdds-wait", "vdds_pub_loan_")), fmt0(cg_per_rt("vdds-wait", "vdds_pub_publish_")),
		fmt0(v), v == "" ? "—" : fmt0(cg_per_rt("vdds-wait", "ir") - v)
	print ""
}

function print_rtsys(   i, k, names, n, v) {
	print "## System calls per round trip, per process (perf stat on syscall tracepoints)"
	print ""
	if ("rtsys" in skip) {
		print "Skipped: " skip["rtsys"]
		print ""
		return
	}
	print "Both processes counted at 2000 and 12000 round trips; the difference / 10000 / 2. Counting with"
	print "tracepoints does not change the timing the way strace does, so wakeup suppression shows as it is:"
	print "a vdds publisher writes the eventfd only when the subscriber is about to sleep. Spinning modes also"
	print "count what their spin cost while the peer was starting, which varies from run to run."
	print ""
	print "| mode | CPUs | all | read | write | epoll_wait | io_uring_enter | futex | sendto | recvfrom | recvmsg |"
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	n = split("all read write epoll_wait io_uring_enter futex sendto recvfrom recvmsg", names, " ")
	for (i = 1; i <= nrtsys; i++) {
		$0 = rtsys[i]
		printf "| %s | %s |", field("mode"), field("cpus")
		for (k = 1; k <= n; k++) {
			v = field(names[k])
			printf " %s |", (v == "" || v + 0 == 0) ? "·" : sprintf("%.2f", v)
		}
		printf "\n"
	}
	print ""
}

function fmt0(v) { return v == "" ? "—" : sprintf("%.0f", v) }

function print_shm(   k, t, l) {
	print "## Shared memory per topic, default options (64 slots of 4 KiB, up to 32 subscribers)"
	print ""
	k = "sleep" SUBSEP "1"
	if (!(k in ntput)) { print "not measured"; print ""; return }
	$0 = tput[k, 1]
	t = field("topic_bytes"); l = field("lane_bytes")
	printf "From the publisher's /proc/self/maps (mappings are whole pages): topic segment %s bytes (%s), one lane\n", commas(t), human(t)
	printf "per subscriber %s bytes (%s). Per topic: %s with 1 subscriber, %s with 16, %s with 32 (the default maximum).\n",
		commas(l), human(l), human(t + l), human(t + 16 * l), human(t + 32 * l)
	print ""
}

function print_raw(   i) {
	print "## All runs"
	print ""
	print "<details><summary>" nlines " result lines</summary>"
	print ""
	print "```"
	for (i = 1; i <= nlines; i++) print lines[i]
	print "```"
	print "</details>"
}

# ------------------------------------------------------------------- plots

function or_nan(v) { return v == "" ? "NaN" : v }

function plot_rtt(   modes, m, n, mode, pay, s, c, f) {
	f = dir "/rtt.dat"
	n = split("eventfd epoll epoll-set epoll-read uring-poll sem pipe unix spin vdds-wait vdds-epoll vdds-ws-uring vdds-ws-epoll vdds-spin iox-ws iox-spin", modes, " ")
	for (m = 1; m <= n; m++) {
		mode = modes[m]
		pay = mode ~ /^(vdds|iox)/ ? 64 : 0
		s = p50_of(mode, pay, "same"); s99 = s == "" ? "" : field("p99")
		c = p50_of(mode, pay, "cross"); c99 = c == "" ? "" : field("p99")
		if (s == "" && c == "") continue
		printf "%s %s %s %s %s %s %s\n", mode, or_nan(s), or_nan(s), or_nan(s99),
			or_nan(c), or_nan(c), or_nan(c99) > f
	}
	close(f)
}

function plot_payload(   modes, m, cpus, c, p, pays, f, v) {
	split("vdds-wait vdds-epoll vdds-ws-uring vdds-ws-epoll vdds-spin iox-ws", modes, " ")
	split("64 4096 1048576 16777216", pays, " ")
	for (c = 1; c <= 2; c++) {
		cpus = c == 1 ? "same" : "cross"
		f = dir "/payload_" cpus ".dat"
		for (p = 1; p <= 4; p++) {
			printf "%s", pays[p] > f
			for (m = 1; m <= 6; m++) {
				v = p50_of(modes[m], pays[p], cpus)
				printf " %s", or_nan(v) > f
			}
			printf "\n" > f
		}
		close(f)
	}
}

function plot_tput(   subs, s, a, b, f, a1, a2, b1, b2) {
	f = dir "/tput.dat"
	split("1 2 4 8 16", subs, " ")
	for (s = 1; s <= 5; s++) {
		a = tput_median("busy" SUBSEP subs[s])
		b = tput_median("sleep" SUBSEP subs[s])
		a1 = a2 = b1 = b2 = ""
		if (a != "") { $0 = a; a1 = field("msgs_per_s"); a2 = field("deliveries_per_s") }
		if (b != "") { $0 = b; b1 = field("msgs_per_s"); b2 = field("deliveries_per_s") }
		printf "%d %s %s %s %s\n", subs[s], or_nan(a1), or_nan(a2), or_nan(b1), or_nan(b2) > f
	}
	close(f)
}

END {
	if (part == "plot") {
		plot_rtt()
		plot_payload()
		plot_tput()
		exit 0
	}
	print_header()
	print_targets()
	print_misses()
	print_method()
	print_latency()
	print_payload()
	print_tput()
	print_sys()
	print_rtsys()
	print_cg()
	print_adaptive()
	print_death()
	print_fds()
	print_shm()
	print "## Plots"
	print ""
	print "![round trip by mechanism](rtt_by_mechanism.png)"
	print ""
	print "![round trip by payload size](latency_by_payload.png)"
	print ""
	print "![throughput by subscriber count](throughput_by_subscribers.png)"
	print ""
	print_raw()
}
