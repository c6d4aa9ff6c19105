#!/usr/bin/env bash
# cli_test.sh VDDS CLI_PEER CASE — one behaviour of the installed `vdds`
# command, against real publisher and subscriber processes (cli_peer) in a
# private runtime directory. Every check compares bytes, counts or exit codes
# and messages; the hz, bw and play checks alone look at timing, with the
# tolerances issue #12 names, over windows of many samples. Exit 77: cannot
# run here (not root for another uid; no npm registry for the reader).
set -uo pipefail
vdds=$1 peer=$2 case=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cli/harness.sh
source "$here/harness.sh" cli
# run ARGS...: the vdds command, its stdout, stderr and exit code kept
run() {
	"$vdds" "$@" >"$work/out" 2>"$work/err"
	rc=$?
}
# expect RC 'stderr text' DESCRIPTION: the last run's exit code and message
expect() {
	if [ "$rc" -ne "$1" ]; then
		bad "$3: exit $rc, wanted $1 (stderr: $(head -c 300 "$work/err"))"
	elif [ -n "$2" ] && ! grep -qF -- "$2" "$work/err"; then
		bad "$3: stderr lacks '$2': $(head -c 300 "$work/err")"
	elif [ "$1" -ne 0 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
		bad "$3: not one line on stderr: $(cat "$work/err")"
	else
		ok
	fi
}
# start: a background process, remembered for cleanup; $last is its pid
start() {
	"$@" &
	last=$!
	bg+=("$last")
}
wait_file() {
	for _ in $(seq 1000); do
		[ -e "$1" ] && return 0
		sleep 0.01
	done
	echo "timed out waiting for $1"
	return 1
}
wait_topic() { wait_file "$VDDS_DIR/$1.sock"; }
# json PYTHON-EXPR: evaluate with j = the JSON object in $work/out
json() {
	"$py" -c "import json,sys; j=json.load(open('$work/out')); sys.exit(0 if ($1) else 1)" ||
		{ echo "    json was: $(head -c 600 "$work/out")"; return 1; }
}

case_ls() {
	start "$peer" pub a --count 0 --linger
	start "$peer" pub b --count 0 --linger
	local bpid=$last
	start "$peer" pub c --count 0 --linger
	local cpid=$last
	wait_topic a && wait_topic b && wait_topic c
	run ls --json
	expect 0 "" "ls --json"
	check "ls lists exactly the three live topics" \
		json "[(t['topic'], t['state']) for t in j['topics']] == [('a','live'),('b','live'),('c','live')]"
	check "ls gives each publisher's pid" json "j['topics'][1]['pid'] == $bpid"
	kill -9 "$cpid"
	wait "$cpid" 2>/dev/null
	run ls --json
	check "a SIGKILLed publisher's socket is stale" \
		json "[(t['topic'], t['state']) for t in j['topics']] == [('a','live'),('b','live'),('c','stale')]"
	run ls
	check "the table says stale" grep -qE '^c +stale' "$work/out"
	check "the table says live" grep -qE "^b +live +$bpid +0 +64/64" "$work/out"
	# d: a stale socket whose topic lock a starting publisher holds
	start "$peer" pub d --count 0 --linger
	wait_topic d
	kill -9 "$last"
	wait "$last" 2>/dev/null
	start "$py" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
time.sleep(60)' "$VDDS_DIR/d.lock"
	local fpid=$last
	sleep 0.2
	run ls --prune
	expect 0 "removed stale socket of 'c'" "ls --prune"
	check "prune removed c's socket and lock" test ! -e "$VDDS_DIR/c.sock" -a ! -e "$VDDS_DIR/c.lock"
	check "prune kept the live ones" test -S "$VDDS_DIR/a.sock" -a -S "$VDDS_DIR/b.sock" \
		-a -e "$VDDS_DIR/a.lock" -a -e "$VDDS_DIR/b.lock"
	check "prune kept d: its lock is held" test -S "$VDDS_DIR/d.sock" -a -e "$VDDS_DIR/d.lock"
	check "prune said nothing of a, b, d" test "$(grep -c removed "$work/err")" -eq 1
	kill "$fpid"
	wait "$fpid" 2>/dev/null
	run ls --prune --json
	expect 0 "removed stale socket of 'd'" "ls --prune once the lock is free"
	check "after pruning, ls lists a and b only" \
		json "[(t['topic'], t['state']) for t in j['topics']] == [('a','live'),('b','live')]"
	check "and no file of c or d is left" test -z "$(ls "$VDDS_DIR" | grep -E '^[cd]\.')"
}

case_info() {
	start "$peer" pub t --count 5 --wait-subs 2 --slots 16 --type pose --linger
	local ppid=$last
	start "$peer" sub t --count 5 --hold 3 --ready "$work/ra"
	local apid=$last
	start "$peer" sub t --count 5 --stay --ready "$work/rb"
	local bpid=$last
	wait_file "$work/ra" && wait_file "$work/rb"
	run info t --json
	expect 0 "" "info --json"
	check "info: publisher pid, uid" json "j['pid'] == $ppid and j['uid'] == $(id -u) and j['topic'] == 't'"
	check "info: layout" json "j['layout'] == {'slot_size': 4096, 'slot_count': 16, 'max_subscribers': 32, 'type_name': 'pose', 'type_size': 0, 'overflow': 'block', 'history': 0}"
	check "info: published 5, 2 subscribers" \
		json "j['stats']['published'] == 5 and j['stats']['subscribers'] == 2 and len(j['subscribers']) == 2"
	check "info: the subscriber holding 3 shows held 3, the other 0" \
		json "sorted((s['pid'], s['held']) for s in j['subscribers']) == sorted([($apid, 3), ($bpid, 0)])"
	check "info: nothing queued, nothing lost" \
		json "all(s['queued'] == 0 and s['lost'] == 0 and s['uid'] == $(id -u) for s in j['subscribers'])"
	# as of the publisher's last call: 5 slots went out and, idle since, it
	# has reclaimed none of those released
	check "info: free slots as the data path last saw them" \
		json "j['stats']['free_slots'] == 11 and j['stats']['loaned_slots'] == 0"
	run info t
	expect 0 "" "info"
	check "info text: published" grep -q '^published: *5$' "$work/out"
	check "info text: the holder's line" grep -qE "^ +$apid +$(id -u) +[0-9]+ +3 +0 +0$" "$work/out"
	kill -9 "$apid"
	wait "$apid" 2>/dev/null
	for _ in $(seq 500); do
		run info t --json
		json "len(j['subscribers']) == 1" >/dev/null 2>&1 && break
		sleep 0.01
	done
	check "info: a dead subscriber is gone, counted as a disconnect" \
		json "[s['pid'] for s in j['subscribers']] == [$bpid] and j['stats']['disconnects'] == 1"
}

# compare_echo FORMAT: $work/echo (vdds echo's output) against $work/publog
compare_echo() {
	"$py" - "$1" "$work/publog" "$work/echo" <<'PY'
import base64, json, re, sys
fmt, publog, out = sys.argv[1:]
want = [bytes.fromhex(l.split()[1]) if l.split()[1] != '-' else b'' for l in open(publog)]
data = open(out, 'rb').read()
got, seqs = [], []
if fmt == 'raw':
    ok = data == b''.join(want)
    sys.exit(0 if ok else 1)
for line in data.decode('ascii').splitlines():
    if fmt == 'json':
        o = json.loads(line)
        got.append(base64.b64decode(o['data'])); seqs.append(o['seq'])
        assert o['len'] == len(got[-1]) and o['topic'] == 'e'
        continue
    m = re.fullmatch(r'seq=(\d+) time=\d+\.\d{9} len=(\d+): (.*)', line)
    assert m, line
    seqs.append(int(m[1]))
    body = m[3]
    if fmt == 'hex':
        b = bytes.fromhex(body)
    else:
        b, i = bytearray(), 0
        while i < len(body):
            c = body[i]
            if c != '\\':
                assert 0x20 <= ord(c) < 0x7f
                b.append(ord(c)); i += 1; continue
            e = body[i + 1]
            if e == 'x':
                b.append(int(body[i + 2:i + 4], 16)); i += 4
            else:
                b.append({'\\': 92, 'n': 10, 't': 9, 'r': 13}[e]); i += 2
    assert len(b) == int(m[2])
    got.append(bytes(b))
sys.exit(0 if got == want and seqs == list(range(1, len(want) + 1)) else 1)
PY
}

case_echo() {
	local fmt
	for fmt in text hex raw json; do
		rm -f "$VDDS_DIR"/*
		start "$peer" pub e --count 60 --wait-subs 1 --log "$work/publog"
		local ppid=$last
		wait_topic e
		run echo e --count 60 --format "$fmt"
		cp "$work/out" "$work/echo"
		wait "$ppid"
		expect 0 "" "echo --format $fmt"
		check "echo --format $fmt prints exactly the published payloads in order" compare_echo "$fmt"
	done
	# the publisher goes away: exit 0, with a message
	start "$peer" pub g --count 5 --wait-subs 1
	wait_topic g
	run echo g
	expect 0 "the publisher of 'g' went away" "echo ends when the publisher goes"
	check "echo printed the 5 samples before that" test "$(wc -l <"$work/out")" -eq 5
	# SIGINT and SIGTERM end it cleanly
	start "$peer" pub h --count 0 --linger
	wait_topic h
	local sig
	for sig in INT TERM; do
		"$vdds" echo h >"$work/out" 2>"$work/err" &
		local epid=$!
		sleep 0.5
		kill -$sig $epid
		wait $epid
		rc=$?
		expect 0 "stopped by SIG$sig" "echo on SIG$sig"
	done
	run echo h --timeout 300
	expect 1 "vdds: no sample on 'h' within 300 ms" "echo --timeout"
	# --reconnect waits for a publisher that is not there yet
	"$vdds" echo r --reconnect --count 3 >"$work/out" 2>"$work/err" &
	local epid=$!
	sleep 0.3
	start "$peer" pub r --count 3 --wait-subs 1
	wait $epid
	rc=$?
	expect 0 "waiting for a publisher of 'r'" "echo --reconnect"
	check "echo --reconnect got the 3 samples" test "$(wc -l <"$work/out")" -eq 3
}

# sub_got LOGFILE EXPECTED-FILE...: the subscriber's payloads, in order
sub_got() {
	local log=$1
	shift
	"$py" - "$log" "$@" <<'PY'
import sys
log, files = sys.argv[1], sys.argv[2:]
got = [bytes.fromhex(l.split()[1]) if l.split()[1] != '-' else b'' for l in open(log)]
want = [open(f, 'rb').read() for f in files]
sys.exit(0 if got == want else 1)
PY
}

case_pub() {
	printf 'hello, world' >"$work/w1"
	start "$peer" sub p1 --count 1 --log "$work/s1"
	local spid=$last
	run pub p1 --wait-subs 1 "hello, world"
	expect 0 "published 1 sample of 12 bytes on 'p1'" "pub DATA"
	wait "$spid"
	check "pub DATA is received byte for byte" sub_got "$work/s1" "$work/w1"

	head -c 10000 /dev/urandom >"$work/w2"
	start "$peer" sub p2 --count 1 --log "$work/s2"
	spid=$last
	run pub p2 --wait-subs 1 --file "$work/w2"
	expect 0 "" "pub --file"
	wait "$spid"
	check "pub --file is received byte for byte" sub_got "$work/s2" "$work/w2"

	printf 'line 1\nline 2\0\377\\ end' >"$work/w3"
	start "$peer" sub p3 --count 1 --log "$work/s3"
	spid=$last
	"$vdds" pub p3 --wait-subs 1 - <"$work/w3" 2>"$work/err"
	rc=$?
	expect 0 "" "pub - (stdin)"
	wait "$spid"
	check "pub - is received byte for byte" sub_got "$work/s3" "$work/w3"

	printf 'ababababab' >"$work/w4"
	start "$peer" sub p4 --count 3 --log "$work/s4"
	spid=$last
	run pub p4 --wait-subs 1 --count 3 --size 10 --rate 200 ab
	expect 0 "published 3 samples of 10 bytes" "pub --count --size --rate"
	wait "$spid"
	check "pub --size repeats the payload" sub_got "$work/s4" "$work/w4" "$work/w4" "$work/w4"

	start "$peer" pub owned --count 0 --linger
	local opid=$last
	wait_topic owned
	run pub owned x
	expect 1 "vdds: topic 'owned' already has a publisher (pid $opid) in $VDDS_DIR" "pub on an owned topic"
}

case_hz_bw() {
	# 100 Hz for 8 s, 1000-byte samples: 100,000 bytes a second
	start "$peer" pub rate --rate 100 --count 800 --size 1000 --wait-subs 2
	wait_topic rate
	"$vdds" hz rate --count 500 >"$work/hz" 2>"$work/hzerr" &
	local hpid=$!
	"$vdds" bw rate --count 500 >"$work/bw" 2>"$work/bwerr" &
	local wpid=$!
	wait $hpid
	rc=$?
	cp "$work/hzerr" "$work/err"
	expect 0 "" "hz --count"
	wait $wpid
	rc=$?
	cp "$work/bwerr" "$work/err"
	expect 0 "" "bw --count"
	local hz bps mean
	hz=$(tail -n 1 "$work/hz" | sed -n 's/^rate: \([0-9.]*\) Hz .*std dev: [0-9.]* ms  window: [0-9]*$/\1/p')
	bps=$(tail -n 1 "$work/bw" | sed -n 's/^bw: [0-9.]* KiB\/s (\([0-9]*\) B\/s)  mean: \([0-9]*\) B .*/\1/p')
	mean=$(tail -n 1 "$work/bw" | sed -n 's/.*mean: \([0-9]*\) B .*/\1/p')
	echo "hz: $(tail -n 1 "$work/hz")"
	echo "bw: $(tail -n 1 "$work/bw")"
	check "hz on a 100 Hz publisher reports 100 +- 10 (got '$hz')" \
		"$py" -c "import sys; sys.exit(0 if 90 <= float('${hz:-0}') <= 110 else 1)"
	check "bw reports 100000 B/s within 10% (got '$bps')" \
		"$py" -c "import sys; sys.exit(0 if 90000 <= float('${bps:-0}') <= 110000 else 1)"
	check "bw reports the mean size, 1000 B (got '$mean')" test "${mean:-0}" -eq 1000
}

case_errors() {
	run
	expect 2 "vdds: missing COMMAND: ls, info, echo, pub, hz, bw, record or play (see vdds --help)" "no command"
	run --help
	check "vdds --help" grep -q "^usage: vdds COMMAND" "$work/out"
	run frob
	expect 2 "vdds: unknown command 'frob'" "unknown command"
	local c
	for c in ls info echo pub hz bw record play; do
		run "$c" --help
		if [ "$rc" -eq 0 ] && grep -q "^usage: vdds $c" "$work/out"; then ok; else bad "$c --help"; fi
	done
	run info cam/left
	expect 2 "invalid topic name 'cam/left': a topic is 1 to 64 of A-Z a-z 0-9 _ . - and does not start with '.' (no '/')" "info with a '/' in the topic"
	run info
	expect 2 "vdds info: missing TOPIC" "info without a topic"
	run echo e --format yaml
	expect 2 "--format is text, hex, raw or json, not 'yaml'" "echo with a bad format"
	run hz e --window 0
	expect 2 "--window wants a count" "hz with a bad window"
	run ls --frob
	expect 2 "unknown option '--frob'" "ls with a bad option"
	run pub p
	expect 2 "nothing to publish" "pub without data"
	run pub p --rate fast x
	expect 2 "--rate wants a rate" "pub with a bad rate"
	run pub p x --file /etc/hostname
	expect 2 "DATA or --file, not both" "pub with two payloads"
	run record t
	expect 2 "missing -o FILE.mcap" "record without -o"
	run play
	expect 2 "missing FILE.mcap" "play without a file"
	run info nobody_here
	expect 1 "vdds: no publisher for topic 'nobody_here' in $VDDS_DIR" "info on a missing topic"
	for c in echo hz bw; do
		run "$c" nobody_here
		expect 1 "vdds: no publisher for topic 'nobody_here' in $VDDS_DIR" "$c on a missing topic"
	done
	run record -o "$work/x.mcap" nobody_here
	expect 1 "vdds: no publisher for topic 'nobody_here' in $VDDS_DIR" "record of a missing topic"
	check "record left no file behind" test ! -e "$work/x.mcap"
	run pub p --file "$work/none"
	expect 1 "cannot read '$work/none': No such file or directory" "pub of a missing file"
	run play "$work/none.mcap"
	expect 1 "cannot read '$work/none.mcap': No such file or directory" "play of a missing file"
	printf 'not mcap at all' >"$work/bad.mcap"
	run play "$work/bad.mcap"
	expect 1 "bad.mcap: not an MCAP file (no magic)" "play of something else"
	start "$peer" pub t --count 0 --linger
	wait_topic t
	run record -o /nonexistent/dir/x.mcap t
	expect 1 "cannot write '/nonexistent/dir/x.mcap': No such file or directory" "record to a bad path"
	# a publisher of protocol version 1: it answers INFO_REQ (version 2) as
	# its parser does, with REJECT EPROTO "protocol version mismatch"
	"$py" - "$VDDS_DIR/old.sock" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept()
    m = c.recv(4096)
    magic, version, kind, size, _ = struct.unpack_from('<IHHII', m)
    if version != 1:
        reason = b'protocol version mismatch'.ljust(128, b'\0')
        c.send(struct.pack('<IHHIIiI', 0x53444456, 1, 3, 152, 0, 71, 0) + reason)
    c.close()
PY
	bg+=($!)
	wait_topic old
	run info old
	expect 1 "vdds: the publisher of 'old' speaks an older vdds protocol without introspection" "info on a version-1 publisher"
	expect 1 "expected, publisher speaks 1)" "info says which version, in the library's words"
	run ls --json
	check "ls shows the version-1 publisher as old-protocol" \
		json "[(t['topic'], t['state']) for t in j['topics']] == [('old', 'old-protocol'), ('t', 'live')]"
}

case_another_uid() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to run the client as nobody"; exit 77; }
	command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
	# nobody may enter the directories, not list or write them
	chmod 711 "$work" "$VDDS_DIR"
	start "$peer" pub sec --count 0 --linger
	wait_topic sec
	local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups env VDDS_DIR="$VDDS_DIR")
	"${as_nobody[@]}" "$vdds" info sec >"$work/out" 2>"$work/err"
	rc=$?
	expect 1 "vdds: the publisher of 'sec' refuses this user (uid 65534)" "info as nobody (socket 0600)"
	# even when the socket file lets it connect, SO_PEERCRED refuses it, as
	# it refuses such a subscriber
	chmod 666 "$VDDS_DIR/sec.sock"
	"${as_nobody[@]}" "$vdds" info sec >"$work/out" 2>"$work/err"
	rc=$?
	expect 1 "vdds: the publisher of 'sec' refuses this user (uid 65534)" "info as nobody (SO_PEERCRED)"
	"${as_nobody[@]}" "$vdds" echo sec >"$work/out" 2>"$work/err"
	rc=$?
	expect 1 "vdds: the publisher of 'sec' refuses this user (uid 65534)" "echo as nobody, the same"
	run info sec
	expect 0 "" "info as the publisher's own user"
}

"case_$case"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
