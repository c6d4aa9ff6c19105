#!/usr/bin/env bash
# record_test.sh VDDS CLI_PEER CASE — `vdds record`, `vdds play` and `vdds
# mcap recover` the way a person uses them, against real publishers and
# subscribers (cli_peer, which log every payload they publish or receive),
# with @mcap/core (tests/cli/mcap_check.mjs) as the independent MCAP reader
# and writer. Every check compares payloads, counts or exit codes and
# messages. Exit 77: cannot run here (no npm registry for @mcap/core).
set -uo pipefail
vdds=$1 peer=$2 case=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cli/harness.sh
source "$here/harness.sh" rec
# run ARGS...: the vdds command, its stdout, stderr and exit code kept
run() {
	"$vdds" "$@" >"$work/out" 2>"$work/err"
	rc=$?
}
# expect RC 'stderr text' DESCRIPTION: the last run's exit code and message
expect() {
	if [ "$rc" -ne "$1" ]; then
		bad "$3: exit $rc, wanted $1 (stderr: $(head -c 400 "$work/err"))"
	elif [ -n "$2" ] && ! grep -qF -- "$2" "$work/err"; then
		bad "$3: stderr lacks '$2': $(head -c 400 "$work/err")"
	else
		ok
	fi
}
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
# wait_pid PID SECONDS: wait for it to end, at most SECONDS (a watchdog: a
# process that ignores what should end it is a failure, not a hang); sets rc
wait_pid() {
	for _ in $(seq $(($2 * 50))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1" 2>/dev/null
		rc=999
		return 1
	fi
	wait "$1"
	rc=$?
}
json() {
	"$py" -c "import json,sys; j=json.load(open('$work/out')); sys.exit(0 if ($1) else 1)" ||
		{ echo "    json was: $(head -c 600 "$work/out")"; return 1; }
}
# same_payloads MODE GOT WANT...: per topic, the payload sequence of GOT
# ("topic hex ..." lines) equals (MODE all) or is a non-empty prefix of
# (MODE prefix) that of the WANT logs concatenated
same_payloads() {
	"$py" - "$@" <<'PY'
import sys
from collections import defaultdict
mode, got, wants = sys.argv[1], sys.argv[2], sys.argv[3:]
def per_topic(paths):
    d = defaultdict(list)
    for p in paths:
        for l in open(p):
            f = l.split()
            if f: d[f[0]].append(f[1])
    return d
g, w = per_topic([got]), per_topic(wants)
ok = True
for t in sorted(set(g) | set(w)):
    a, b = g.get(t, []), w.get(t, [])
    good = a == b if mode == "all" else (0 < len(a) <= len(b) and a == b[:len(a)])
    print("  %s: %d got, %d published%s" % (t, len(a), len(b), "" if good else "  <- differs"))
    ok = ok and good
sys.exit(0 if ok else 1)
PY
}

# the @mcap/core reader and writer, installed once per build (npm ci)
need_node() {
	command -v node >/dev/null && command -v npm >/dev/null ||
		{ echo "SKIP: nodejs/npm missing"; exit 77; }
	cache=${VDDS_CLI_CACHE:-$work/npm}
	mkdir -p "$cache"
	cp "$here/package.json" "$here/package-lock.json" "$here/mcap_check.mjs" "$cache/"
	if ! cmp -s "$here/package-lock.json" "$cache/node_modules/.package-lock.json.vdds" 2>/dev/null; then
		(cd "$cache" && npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1 || {
			echo "SKIP: npm could not install @mcap/core (registry unreachable?): $(tail -n 3 "$work/npm.log")"
			exit 77
		}
		cp "$here/package-lock.json" "$cache/node_modules/.package-lock.json.vdds"
	fi
}
# mcap_check FILE: @mcap/core's indexed and stream readers; JSON in out,
# the indexed reader's messages in $work/dump
mcap_check() {
	node "$cache/mcap_check.mjs" "$1" --dump "$work/dump" >"$work/out" 2>"$work/err"
	rc=$?
	expect 0 "" "@mcap/core reads $(basename "$1")"
}
# play_all FILE N TOPICS: play FILE to a fresh subscriber of TOPICS taking N;
# its log in $work/replay
play_all() {
	start "$peer" sub "$3" --count "$2" --log "$work/replay"
	local spid=$last
	run play "$1" --wait-subs 1 --rate 20
	expect 0 "played $2 messages" "play $(basename "$1")"
	wait_pid "$spid" 60
	check "the subscriber took all $2 played messages" test "$rc" -eq 0
}

# record PATTERN and a topic appearing 0.5 s later; end it with signal $1
# once both publishers are done: every message in the file
record_and_signal() {
	local sig=$1
	need_node
	start "$peer" pub pose --count 400 --rate 200 --wait-subs 1 --log "$work/pose.log"
	local p1=$last
	wait_topic pose
	"$vdds" record -o "$work/r.mcap" pose 'cam_*' >"$work/out" 2>"$work/rerr" &
	local rpid=$!
	bg+=("$rpid")
	sleep 0.5
	start "$peer" pub cam_front --count 400 --rate 200 --wait-subs 1 --log "$work/cam.log"
	local p2=$last
	wait_pid "$p1" 30 && wait_pid "$p2" 30
	sleep 0.2 # the last samples taken
	kill "-$sig" "$rpid"
	wait_pid "$rpid" 10
	cp "$work/rerr" "$work/err"
	expect 0 "stopped by SIG$sig" "record ended by SIG$sig exits 0"
	check "record said how much it wrote" grep -qF "wrote 800 messages on 2 topics" "$work/err"
	mcap_check "$work/r.mcap"
	cat "$work/out"
	check "@mcap/core: stream and indexed readers both see 400 + 400, statistics too, CRCs good" json \
		"j['channels'] == {'pose': 400, 'cam_front': 400} and j['indexed_channels'] == j['channels'] and j['statistics_messages'] == 800 and j['chunks'] >= 1 and j['compression'] == ['zstd'] and j['data_crc_ok']"
	check "the indexed reader's payloads are the publishers' own" same_payloads all "$work/dump" "$work/pose.log" "$work/cam.log"
	play_all "$work/r.mcap" 800 pose,cam_front
	check "vdds play publishes every payload again" same_payloads all "$work/replay" "$work/pose.log" "$work/cam.log"
}

case_sigint() { record_and_signal INT; }
case_sighup() { record_and_signal HUP; }

# SIGTERM in the middle of a recording: a complete file holding a prefix of
# what each publisher sent
case_sigterm() {
	need_node
	start "$peer" pub t1,t2 --count 2000 --rate 500 --wait-subs 1 --log "$work/pub.log"
	local ppid=$last
	wait_topic t1 && wait_topic t2
	"$vdds" record -o "$work/r.mcap" 't[0-9]' --compression lz4 >"$work/out" 2>"$work/rerr" &
	local rpid=$!
	bg+=("$rpid")
	sleep 1.5
	kill -TERM "$rpid"
	wait_pid "$rpid" 10
	cp "$work/rerr" "$work/err"
	expect 0 "stopped by SIGTERM" "record ended by SIGTERM mid-stream exits 0"
	wait_pid "$ppid" 30
	mcap_check "$work/r.mcap"
	cat "$work/out"
	check "@mcap/core: lz4 chunks, both readers agree" json \
		"j['compression'] == ['lz4'] and j['indexed_channels'] == j['channels'] and j['messages'] == j['statistics_messages'] > 0 and j['data_crc_ok']"
	check "the file holds a prefix of each topic, payload for payload" same_payloads prefix "$work/dump" "$work/pub.log"
}

# --reconnect across a publisher restart: both publishers' messages
case_reconnect() {
	need_node
	"$vdds" record -o "$work/r.mcap" --reconnect --compression none rc >"$work/out" 2>"$work/rerr" &
	local rpid=$!
	bg+=("$rpid")
	start "$peer" pub rc --count 300 --rate 300 --wait-subs 1 --size 100 --log "$work/a.log"
	wait_pid "$last" 30
	sleep 0.3
	start "$peer" pub rc --count 300 --rate 300 --wait-subs 1 --size 50 --log "$work/b.log"
	wait_pid "$last" 30
	sleep 0.3
	kill -INT "$rpid"
	wait_pid "$rpid" 10
	cp "$work/rerr" "$work/err"
	expect 0 "wrote 600 messages on 1 topic to" "record --reconnect across a restart"
	mcap_check "$work/r.mcap"
	cat "$work/out"
	check "@mcap/core: 600 messages, uncompressed chunks" json \
		"j['indexed_channels'] == {'rc': 600} and j['channels'] == {'rc': 600} and j['compression'] == ['']"
	check "both publishers' payloads, in order" same_payloads all "$work/dump" "$work/a.log" "$work/b.log"
	play_all "$work/r.mcap" 600 rc
	check "vdds play gives them all again" same_payloads all "$work/replay" "$work/a.log" "$work/b.log"
}

# --split-size: several parts, each complete alone, none lost or doubled
case_split() {
	need_node
	start "$peer" pub s1,s2 --count 3000 --rate 1000 --wait-subs 1 --size 300 --log "$work/pub.log"
	local ppid=$last
	wait_topic s1 && wait_topic s2
	run record -o "$work/part.mcap" s1 s2 --split-size 200K
	expect 0 "messages on 2 topics to" "record --split-size"
	wait_pid "$ppid" 30
	local parts=("$work"/part_*.mcap)
	echo "parts: ${#parts[@]}"
	check "at least 3 parts (900 KB in 200 KB parts)" test "${#parts[@]}" -ge 3
	: >"$work/all"
	local total=0 p
	for p in "${parts[@]}"; do
		mcap_check "$p"
		json "j['indexed_messages'] == j['messages'] == j['statistics_messages'] and j['data_crc_ok']" ||
			bad "part $(basename "$p") not whole"
		total=$((total + $("$py" -c "import json; print(json.load(open('$work/out'))['messages'])")))
		cat "$work/dump" >>"$work/all"
	done
	check "the parts hold 3000 messages in all (got $total)" test "$total" -eq 3000
	check "the parts in order are the publisher's payloads, none lost or doubled" \
		same_payloads all "$work/all" "$work/pub.log"
	# one part alone, played
	mcap_check "${parts[1]}"
	local n2
	n2=$("$py" -c "import json; print(json.load(open('$work/out'))['messages'])")
	cp "$work/dump" "$work/part1"
	play_all "${parts[1]}" "$n2" s1,s2
	check "the second part alone plays back whole" same_payloads all "$work/replay" "$work/part1"
	# --split-duration 1 over about 2.5 s: three parts or more, none lost
	rm -f "$work"/part_*.mcap
	start "$peer" pub d1 --count 500 --rate 200 --wait-subs 1 --log "$work/d.log"
	ppid=$last
	wait_topic d1
	run record -o "$work/dur" d1 --split-duration 1
	expect 0 "wrote 500 messages on 1 topic to" "record --split-duration"
	wait_pid "$ppid" 30
	parts=("$work"/dur_*)
	echo "parts: ${#parts[@]}"
	check "at least 2 parts of a second" test "${#parts[@]}" -ge 2
	: >"$work/all"
	for p in "${parts[@]}"; do
		mcap_check "$p"
		cat "$work/dump" >>"$work/all"
	done
	check "the parts hold every message once, in order" same_payloads all "$work/all" "$work/d.log"
}

# SIGKILL: everything up to the last flush (once a second) is played back
# and recovered
case_sigkill() {
	need_node
	start "$peer" pub k --count 100000 --rate 1000 --wait-subs 1 --size 64 --log "$work/pub.log"
	local ppid=$last
	wait_topic k
	"$vdds" record -o "$work/r.mcap" k >"$work/out" 2>"$work/rerr" &
	local rpid=$!
	bg+=("$rpid")
	sleep 3.5
	kill -9 "$rpid"
	wait "$rpid" 2>/dev/null
	kill -TERM "$ppid" # its log is lost; the count is checked by time instead
	run mcap recover "$work/r.mcap" "$work/rec.mcap"
	expect 0 "bytes after the last complete record lost" "mcap recover of a SIGKILLed recording"
	local n
	n=$(sed -n 's/.*recovered \([0-9]*\) messages.*/\1/p' "$work/err")
	echo "recovered: ${n:-?} messages of about 3500 published before the kill"
	# at 1000 Hz for 3.5 s, flushed at least every second: >= 2 s worth
	check "recover kept everything before the last flush (>= 2000, got ${n:-0})" test "${n:-0}" -ge 2000
	mcap_check "$work/rec.mcap"
	check "@mcap/core reads the recovered file whole" json "j['indexed_messages'] == j['messages'] == ${n:-0}"
	check "its payloads are k's first ones, seq by seq" "$py" - "$work/dump" <<'PY'
import sys
rows = [l.split()[1] for l in open(sys.argv[1])]
def payload(i):  # cli_peer's payload i (from 1), 64 bytes
    return bytes(((i * 131 + k * 7) & 255) for k in range(64)).hex()
sys.exit(0 if rows == [payload(i + 1) for i in range(len(rows))] else 1)
PY
	start "$peer" sub k --count "${n:-1}" --log "$work/replay"
	local spid=$last
	run play "$work/r.mcap" --wait-subs 1 --rate 50
	expect 0 "is cut short" "play of the SIGKILLed file says it is cut short"
	check "play plays as many as recover kept" grep -qF "played ${n:-x} messages" "$work/err"
	wait_pid "$spid" 30
	check "and they arrive" test "$rc" -eq 0
}

# files written by @mcap/core's writer, each compression and unchunked,
# played back message for message; --topics, --start and --end
case_foreign() {
	need_node
	local m
	for m in zstd lz4 none unchunked; do
		node "$cache/mcap_check.mjs" write "$work/w.mcap" "$m" 300 "$work/w.log" ||
			{ bad "@mcap/core could not write $m"; continue; }
		play_all "$work/w.mcap" 300 w1,w2
		check "play of @mcap/core's $m file: every payload, per topic in order" \
			same_payloads all "$work/replay" "$work/w.log"
	done
	# 2 ms apart: +0.1 .. +0.3 s is messages 50..150; w1 the even ones
	node "$cache/mcap_check.mjs" write "$work/w.mcap" zstd 300 "$work/w.log"
	"$py" -c "
l = open('$work/w.log').read().splitlines()
open('$work/want', 'w').write(''.join(x + '\n' for i, x in enumerate(l) if 50 <= i <= 150 and i % 2 == 0))"
	start "$peer" sub w1 --count 51 --log "$work/replay"
	local spid=$last
	run play "$work/w.mcap" --wait-subs 1 --topics w1 --start +0.1 --end +0.3
	expect 0 "played 51 messages on 1 topic from" "play --topics --start --end"
	wait_pid "$spid" 30
	check "play --topics w1 --start +0.1 --end +0.3: exactly those" same_payloads all "$work/replay" "$work/want"
	# the chunk index takes play straight to the chunks of the range: every
	# other chunk (but the first, whose first message is the base of +T)
	# overwritten whole, header too, and the same messages come, no word of
	# damage or of a file cut short (a scan would hit the first one)
	"$py" - "$work/w.mcap" <<'PY' || bad "damaging the chunks outside the range"
import struct, sys
p = bytearray(open(sys.argv[1], "rb").read())
off, first, damaged = 8, True, 0
while p[off] != 0x0F:  # to the Data End
    op, n = struct.unpack_from("<BQ", p, off)
    if op == 0x06:
        t0, t1 = struct.unpack_from("<QQ", p, off + 9)
        if first:
            base, first = t0, False
        elif t1 < base + 100_000_000 or t0 > base + 300_000_000:
            p[off:off + 9 + n] = b"\xee" * (9 + n)
            damaged += 1
    off += 9 + n
open(sys.argv[1], "wb").write(p)
print("damaged %d chunks outside the range" % damaged)
sys.exit(0 if damaged >= 2 else 1)
PY
	start "$peer" sub w1 --count 51 --log "$work/replay"
	spid=$last
	run play "$work/w.mcap" --wait-subs 1 --topics w1 --start +0.1 --end +0.3
	expect 0 "played 51 messages on 1 topic from" "play --start --end past damaged chunks outside the range"
	if grep -qiE "cut short|malformed|bad|mismatch" "$work/err"; then
		bad "play through the chunk index: $(head -c 400 "$work/err")"
	else ok; fi
	wait_pid "$spid" 30
	check "through the chunk index: exactly those again" same_payloads all "$work/replay" "$work/want"
	# absolute times: known before the first message, so the first chunk
	# (before the range) is passed over too; now damaged as well
	"$py" - "$work/w.mcap" "$work/range" <<'PY' || bad "damaging the first chunk"
import struct, sys
p = bytearray(open(sys.argv[1], "rb").read())
off = 8
while p[off] != 0x06:
    off += 9 + struct.unpack_from("<Q", p, off + 1)[0]
n, t0, t1 = struct.unpack_from("<QQQ", p, off + 1)
p[off:off + 9 + n] = b"\xee" * (9 + n)
open(sys.argv[1], "wb").write(p)
open(sys.argv[2], "w").write("%d %d" % (t0 + 100_000_000, t0 + 300_000_000))
sys.exit(0 if t1 < t0 + 100_000_000 else 1)
PY
	read -r lo hi <"$work/range"
	start "$peer" sub w1 --count 51 --log "$work/replay"
	spid=$last
	run play "$work/w.mcap" --wait-subs 1 --topics w1 --start "$lo" --end "$hi"
	expect 0 "played 51 messages on 1 topic from" "play --start T --end T with the first chunk damaged too"
	wait_pid "$spid" 30
	check "absolute --start/--end through the chunk index: exactly those" same_payloads all "$work/replay" "$work/want"
}

# -o safety: a symlink is refused, its target untouched; a failing start
# leaves an existing file as it was; a FIFO without a reader and a write
# error (ENOSPC, once)
case_output() {
	start "$peer" pub o --count 0 --linger
	wait_topic o
	echo precious >"$work/target"
	ln -s "$work/target" "$work/link.mcap"
	"$vdds" record -o "$work/link.mcap" o --count 1 >"$work/out" 2>"$work/err" &
	wait_pid $! 10 # o publishes nothing: a record that starts never ends
	expect 1 "it is a symbolic link (not followed)" "record -o SYMLINK"
	check "the link's target is untouched" grep -qx precious "$work/target"
	check "the link is still a link" test -L "$work/link.mcap"
	echo keep >"$work/exists.mcap"
	run record -o "$work/exists.mcap" nobody_here
	expect 1 "no publisher for topic 'nobody_here'" "record that cannot start"
	check "the file at -o is left as it was" grep -qx keep "$work/exists.mcap"
	check "and no temporary file is left" test -z "$(ls -A "$work" | grep '^\.exists')"
	mkfifo "$work/fifo"
	"$vdds" record -o "$work/fifo" o >"$work/out" 2>"$work/err" &
	local rpid=$!
	bg+=("$rpid")
	sleep 0.5
	kill -TERM "$rpid"
	wait_pid "$rpid" 5
	check "record -o FIFO without a reader ends on SIGTERM (rc $rc)" test "$rc" -eq 0
	check "the FIFO is still there" test -p "$work/fifo"
	if [ -w /dev/full ]; then
		start "$peer" pub full --count 100000 --rate 2000 --size 1000
		wait_topic full
		"$vdds" record -o /dev/full full --compression none >"$work/out" 2>"$work/err" &
		rpid=$!
		bg+=("$rpid")
		wait_pid "$rpid" 10
		expect 1 "No space left on device" "record -o /dev/full"
		check "ENOSPC is reported once ($(grep -c 'No space' "$work/err"))" test "$(grep -c 'No space' "$work/err")" -eq 1
	fi
}

# hostile input to play: a file rewritten while it plays, a FIFO claiming a
# huge record, a sparse 512 MiB attachment, SIGTERM while parsing a slow
# stream and while waiting on a FIFO without a writer
case_hostile() {
	need_node
	node "$cache/mcap_check.mjs" write "$work/w.mcap" unchunked 200 "$work/w.log"
	# a channel that is no vdds topic: the one rewritten messages point at
	"$py" - "$work/w.mcap" "$work/h.mcap" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
# insert a Channel id 9 "not/a topic" right after the Header
off = 8 + 9 + struct.unpack_from('<Q', b, 9)[0]
topic, enc = b'not/a topic', b'x'
body = struct.pack('<HH', 9, 0) + struct.pack('<I', len(topic)) + topic + struct.pack('<I', len(enc)) + enc + struct.pack('<I', 0)
b[off:off] = bytes([4]) + struct.pack('<Q', len(body)) + body
# the Data End's CRC no longer holds: 0, "not computed"
off = 8
while b[off] != 15:
    off += 9 + struct.unpack_from('<Q', b, off + 1)[0]
struct.pack_into('<I', b, off + 9, 0)
open(sys.argv[2], 'wb').write(b)
PY
	"$vdds" play "$work/h.mcap" --rate 0.05 >"$work/out" 2>"$work/err" &
	local ppid=$!
	bg+=("$ppid")
	sleep 1
	"$py" - "$work/h.mcap" <<'PY'
import struct, sys
# every Message record's channel id -> 9, in place (same length)
b = bytearray(open(sys.argv[1], 'rb').read())
off = 8
while off < len(b) - 8:
    op, n = b[off], struct.unpack_from('<Q', b, off + 1)[0]
    if op == 5:
        struct.pack_into('<H', b, off + 9, 9)
    if op == 15: break
    off += 9 + n
with open(sys.argv[1], 'r+b') as f: f.write(b)
PY
	wait_pid "$ppid" 60
	expect 1 "changed while playing" "play of a file rewritten under it stops with an error"
	check "it said skipping the channel, name escaped" grep -qF "skipping channel 'not/a topic'" "$work/err"
	# a message that grows on disk past the slot it was surveyed for: its
	# record's length rewritten to swallow the 40 records after it
	cp "$work/w.mcap" "$work/g.mcap"
	"$vdds" play "$work/g.mcap" --rate 0.05 >"$work/out" 2>"$work/err" &
	ppid=$!
	bg+=("$ppid")
	sleep 1
	"$py" - "$work/g.mcap" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
offs, off = [], 8
while b[off] != 15:
    if b[off] == 5: offs.append(off)
    off += 9 + struct.unpack_from('<Q', b, off + 1)[0]
a, z = offs[150], offs[191]
struct.pack_into('<Q', b, a + 1, z - a - 9)  # now longer than any slot (4096)
with open(sys.argv[1], 'r+b') as f: f.write(b)
PY
	wait_pid "$ppid" 60
	expect 1 "changed while playing: a message no longer fits" "play of a message grown under it stops with an error"

	# a FIFO whose record claims 200 MiB and brings 1 MiB: RSS stays small
	mkfifo "$work/f1"
	"$py" - "$work/f1" 2>/dev/null <<'PY' & # dies of EPIPE once play has had enough
import struct, sys
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x89MCAP0\r\n' + bytes([1]) + struct.pack('<Q', 8) + bytes(8))
    f.write(bytes([5]) + struct.pack('<Q', 200 << 20))
    f.write(bytes(1 << 20))
PY
	bg+=($!)
	"$py" - "$vdds" "$work/f1" >"$work/rss" 2>"$work/err" <<'PY'
import os, resource, subprocess, sys
p = subprocess.Popen([sys.argv[1], 'play', sys.argv[2]], stderr=sys.stderr)
_, status, ru = os.wait4(p.pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_maxrss)
PY
	read -r rc rss <"$work/rss"
	echo "play of a FIFO claiming 200 MiB: max RSS ${rss} KiB"
	expect 1 "cut short" "play of a FIFO claiming a 200 MiB record"
	check "its RSS stayed under 48 MiB (got ${rss} KiB)" test "${rss:-999999}" -lt 49152

	# a sparse 512 MiB attachment before the messages
	"$py" - "$work/w.mcap" "$work/att.mcap" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
off = 8 + 9 + struct.unpack_from('<Q', b, 9)[0]
with open(sys.argv[2], 'wb') as f:
    f.write(b[:off] + bytes([9]) + struct.pack('<Q', 512 << 20))
    f.seek(512 << 20, 1)
    f.write(b[off:])
PY
	start "$peer" sub w1,w2 --count 200 --log "$work/replay"
	local spid=$last
	"$py" - "$vdds" "$work/att.mcap" >"$work/rss" 2>"$work/err" <<'PY'
import os, subprocess, sys
p = subprocess.Popen([sys.argv[1], 'play', sys.argv[2], '--wait-subs', '1', '--rate', '20'], stderr=sys.stderr)
_, status, ru = os.wait4(p.pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_maxrss)
PY
	read -r rc rss <"$work/rss"
	echo "play past a sparse 512 MiB attachment: max RSS ${rss} KiB"
	expect 0 "played 200 messages" "play past a sparse 512 MiB attachment"
	check "its RSS stayed under 48 MiB (got ${rss} KiB)" test "${rss:-999999}" -lt 49152
	wait_pid "$spid" 30
	check "and every message arrived" same_payloads all "$work/replay" "$work/w.log"

	# SIGTERM while play parses a stream that never ends
	mkfifo "$work/f2"
	"$py" - "$work/f2" 2>/dev/null <<'PY' &
import struct, sys, time
with open(sys.argv[1], 'wb', buffering=0) as f:
    f.write(b'\x89MCAP0\r\n' + bytes([1]) + struct.pack('<Q', 8) + bytes(8))
    while True:  # metadata records, a trickle, forever
        f.write(bytes([0x0c]) + struct.pack('<Q', 4096) + bytes(4096))
        time.sleep(0.001)
PY
	bg+=($!)
	"$vdds" play "$work/f2" >"$work/out" 2>"$work/err" &
	ppid=$!
	bg+=("$ppid")
	sleep 1
	kill -TERM "$ppid"
	wait_pid "$ppid" 5
	expect 0 "stopped by a signal" "SIGTERM ends play in the middle of parsing a stream"
	# and on a FIFO no writer ever opens
	mkfifo "$work/f3"
	"$vdds" play "$work/f3" >"$work/out" 2>"$work/err" &
	ppid=$!
	bg+=("$ppid")
	sleep 0.5
	kill -TERM "$ppid"
	wait_pid "$ppid" 5
	expect 0 "stopped by a signal" "SIGTERM ends play waiting on a FIFO with no writer"
	mkdir "$work/dir.mcap"
	run play "$work/dir.mcap"
	expect 1 "it is a directory" "play of a directory"
}

# the two tests that used to be cli_test.sh's: record then play with its
# timing, and @mcap/core reading a recording of a topic and a pattern
compare_play() {
	"$py" - "$work/orig" "$work/replay" <<'PY'
import sys
orig = [l.split() for l in open(sys.argv[1])]
rep = [l.split() for l in open(sys.argv[2])]
rep.sort(key=lambda r: int(r[2]))
ok = True
if [(o[0], o[1]) for o in orig] != [(r[0], r[1]) for r in rep]:
    print("payloads or order differ"); ok = False
to = [int(o[2]) for o in orig]
tp = [int(r[2]) for r in rep]
span = (tp[-1] - tp[0]) / (to[-1] - to[0])
print("publish span / original span: %.3f" % span)
if not 0.8 <= span <= 1.2: ok = False
worst = 1.0
for i in range(0, len(to) - 50, 50):
    r = (tp[i + 50] - tp[i]) / (to[i + 50] - to[i])
    worst = r if abs(r - 1) > abs(worst - 1) else worst
print("worst ratio of 50-message inter-arrival windows: %.3f" % worst)
if not 0.8 <= worst <= 1.2: ok = False
sys.exit(0 if ok else 1)
PY
}

case_record_play() {
	start "$peer" pub r1,r2 --count 1000 --rate 200 --wait-subs 1 --log "$work/orig"
	local ppid=$last
	wait_topic r1 && wait_topic r2
	run record -o "$work/rec.mcap" r1 r2
	expect 0 "wrote 1000 messages on 2 topics to $work/rec.mcap" "record of two topics"
	check "record ended as the publisher went away" grep -q "every recorded publisher went away" "$work/err"
	wait "$ppid"
	start "$peer" sub r1,r2 --count 1000 --log "$work/replay"
	local spid=$last
	run play "$work/rec.mcap" --wait-subs 1
	expect 0 "played 1000 messages on 2 topics" "play --rate 1"
	wait "$spid"
	check "play: same payloads, same order, inter-arrival times within 20%" compare_play
}

case_mcap_reader() {
	need_node
	start "$peer" pub m1,m2 --count 400 --wait-subs 1 --type pose
	wait_topic m1 && wait_topic m2
	run record -o "$work/rec.mcap" m1 'm[2-9]' --count 400
	expect 0 "wrote 400 messages on 2 topics" "record a topic and a pattern"
	mcap_check "$work/rec.mcap"
	cat "$work/out"
	check "@mcap/core: two channels, 200 messages each, all CRCs good" json \
		"j['channels'] == {'m1': 200, 'm2': 200} and j['indexed_channels'] == j['channels'] and j['messages'] == 400 and j['statistics_messages'] == 400 and j['statistics_per_channel'] == {'m1': 200, 'm2': 200} and j['data_crc_ok'] and j['summary_crc_checked'] and j['schemas'] == ['pose']"
}

"case_$case"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
