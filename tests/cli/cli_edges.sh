#!/usr/bin/env bash
# cli_edges.sh VDDS CLI_PEER CASE — the `vdds` command where a person or a
# hostile peer pushes it: mute and full-backlog sockets under ls and info,
# junk and symlinked *.sock files under ls --prune, escape sequences in what
# publishers say, Ctrl-C/SIGTERM during a blocking open, a closed pipe, a
# typed topic, long names, and a --help / man page that list every option.
# Every wait has a watchdog (timeout): a hang fails instead of stalling, and
# the checks count and compare, they do not time. Exit 77: cannot run here.
set -uo pipefail
vdds=$1 peer=$2 case=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cli/harness.sh
source "$here/harness.sh" edges
# run ARGS...: vdds under a 30 s watchdog (124: it hung), output kept
run() {
	timeout -s KILL 30 "$vdds" "$@" >"$work/out" 2>"$work/err"
	rc=$?
}
expect() {
	if [ "$rc" -ne "$1" ]; then
		bad "$3: exit $rc, wanted $1 (stderr: $(head -c 300 "$work/err"))"
	elif [ -n "$2" ] && ! grep -qF -- "$2" "$work/err"; then
		bad "$3: stderr lacks '$2': $(head -c 300 "$work/err")"
	else
		ok
	fi
}
# bgrun ARGS...: vdds in the background as a shell user's would run
# (SIGINT not ignored, as bash does for a script's background jobs), output
# kept; $last its pid. reap PID: its exit code into rc, SIGKILLed (137) by a
# 30 s watchdog if it does not end.
bgrun() {
	env --default-signal=INT "$vdds" "$@" >"$work/out" 2>"$work/err" &
	last=$!
}
reap() {
	for _ in $(seq 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1"
	rc=$?
}
# wait_fd PID WHAT: until PID holds a descriptor whose link contains WHAT
# (signalfd: its signals are blocked for the signalfd; socket; inotify)
wait_fd() {
	local f
	for _ in $(seq 1000); do
		for f in /proc/"$1"/fd/*; do
			case $(readlink "$f" 2>/dev/null) in *"$2"*) return 0 ;; esac
		done
		sleep 0.01
	done
	echo "pid $1 never held a $2 descriptor"
	return 1
}
# sleeping PID: until it sleeps in the kernel (up to 10 s)
sleeping() {
	for _ in $(seq 1000); do
		grep -q '^State:.*S (sleeping)' "/proc/$1/status" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
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
json() {
	"$py" -c "import json,sys; j=json.load(open('$work/out')); sys.exit(0 if ($1) else 1)" ||
		{ echo "    json was: $(head -c 600 "$work/out")"; return 1; }
}
# mute DIR N PREFIX READY: N listeners <PREFIX><i>.sock that never accept nor
# answer; the even ones have their backlog (0: one connection) filled, so a
# blocking connect to them would wait forever
mute() {
	"$py" - "$@" <<'PY' &
import os, socket, sys, time
d, n, prefix, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
keep = []
for i in range(n):
    p = os.path.join(d, '%s%d.sock' % (prefix, i))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(p); s.listen(0); keep.append(s)
    if i % 2 == 0:
        for _ in range(4):  # until the kernel says the backlog is full
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.setblocking(False)
            try:
                c.connect(p); keep.append(c)
            except BlockingIOError:
                break
open(ready, 'w').close()
time.sleep(600)
PY
	bg+=($!)
	wait_file "$4"
}

case_ls_mute() {
	# 50 mute sockets beside a live topic: ls asks them all at once and
	# gives up on all of them together, so it ends however many there are
	start "$peer" pub live --count 0 --linger
	wait_file "$VDDS_DIR/live.sock"
	mute "$VDDS_DIR" 50 mute "$work/ready"
	run ls --json
	expect 0 "" "ls beside 50 mute sockets ends (watchdog 30 s; one at a time took 2 s each)"
	check "ls: the live topic is live, all 50 mute ones unresponsive" \
		json "len(j['topics']) == 51 and [t['state'] for t in j['topics'] if t['topic'] == 'live'] == ['live'] and sum(t['state'] == 'unresponsive' for t in j['topics']) == 50"
	run ls --timeout 300
	expect 0 "" "ls --timeout 300"
	check "ls text: 50 unresponsive lines" test "$(grep -c ' unresponsive ' "$work/out")" -eq 50
	# info on a socket whose backlog is full: a blocking connect would never end
	run info mute0
	expect 1 "vdds: the publisher of 'mute0' did not answer in time" "info on a full backlog"
	run info mute1
	expect 1 "vdds: the publisher of 'mute1' did not answer in time" "info on a mute socket"
	# a signal ends ls and info at once, mid-deadline (as a plain command:
	# by the signal's default action)
	local sig
	for sig in INT TERM; do
		bgrun ls --timeout 600000
		wait_fd $last socket && sleeping $last
		kill -$sig $last
		reap $last
		check "SIG$sig ends ls while it waits for mute sockets (exit $rc, 137: the watchdog)" \
			test "$rc" -eq $((128 + $(kill -l $sig)))
	done
}

case_ls_junk() {
	# outside the runtime directory: a live listener that counts who
	# connects, a dead socket and a precious file
	mkdir -m 700 "$work/outside"
	"$py" - "$work/outside/spy.sock" "$work/spied" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(16)
while True:
    c, _ = s.accept()
    open(sys.argv[2], 'a').write('connected\n')
    c.close()
PY
	bg+=($!)
	wait_file "$work/outside/spy.sock"
	"$py" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' \
		"$work/outside/dead.sock"
	echo precious >"$work/outside/precious"
	echo junk >"$VDDS_DIR/regular.sock"
	mkfifo "$VDDS_DIR/fifo.sock"
	ln -s "$work/outside/spy.sock" "$VDDS_DIR/spy.sock"
	ln -s "$work/outside/dead.sock" "$VDDS_DIR/deadlink.sock"
	ln -s "$work/outside/precious" "$VDDS_DIR/precious.sock"
	ln -s "$work/outside/precious" "$VDDS_DIR/precious.lock"
	# and a real stale socket: a publisher killed with SIGKILL
	start "$peer" pub stale --count 0 --linger
	wait_file "$VDDS_DIR/stale.sock"
	kill -9 "$last"
	wait "$last" 2>/dev/null
	run ls --json
	expect 0 "" "ls among junk"
	check "ls: junk is not-socket, the dead publisher's socket stale" \
		json "[(t['topic'], t['state']) for t in j['topics']] == [('deadlink', 'not-socket'), ('fifo', 'not-socket'), ('precious', 'not-socket'), ('regular', 'not-socket'), ('spy', 'not-socket'), ('stale', 'stale')]"
	check "ls never connected through the .sock symlink out of the directory" \
		test ! -e "$work/spied"
	run ls --prune
	expect 0 "removed stale socket of 'stale'" "ls --prune among junk"
	check "prune removed the dead socket and its lock" \
		test ! -e "$VDDS_DIR/stale.sock" -a ! -e "$VDDS_DIR/stale.lock"
	check "prune removed nothing else" test "$(grep -c removed "$work/err")" -eq 1
	check "prune left the regular file, the FIFO and the symlinks" \
		test -f "$VDDS_DIR/regular.sock" -a -p "$VDDS_DIR/fifo.sock" -a -L "$VDDS_DIR/spy.sock" \
		-a -L "$VDDS_DIR/deadlink.sock" -a -L "$VDDS_DIR/precious.sock" -a -L "$VDDS_DIR/precious.lock"
	check "what the symlinks point at is untouched" \
		test -S "$work/outside/dead.sock" -a "$(cat "$work/outside/precious")" = precious
	check "still nobody connected outside" test ! -e "$work/spied"
	run info spy
	expect 1 "spy.sock is not a socket" "info on a symlinked .sock"
	check "info did not connect through it either" test ! -e "$work/spied"
}

no_esc() { ! grep -q $'[\x1b\x07]' "$1"; }
# esc_clean FILE: no ESC or BEL byte, and the escaped form is there
esc_clean() {
	! grep -q $'[\x1b\x07]' "$1" && grep -qF '\x1b]0;PWNED\x07\x1b[31mRED' "$1"
}

case_escape() {
	local evil=$'\e]0;PWNED\a\e[31mRED'
	# a real publisher may name its type so (the library takes any bytes)
	start "$peer" pub evil --count 0 --linger --type "$evil"
	wait_file "$VDDS_DIR/evil.sock"
	# and a hostile one answers INFO with escapes in its note as well
	"$py" - "$VDDS_DIR/fake.sock" <<'PY' &
import socket, struct, sys
evil = b'\x1b]0;PWNED\x07\x1b[31mRED'
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(4096)
    body = struct.pack('<iIQQIIIIII64sIIIIQQQQ128s', 4242, 0, 0, 4096, 4, 32, 0, 0, 0, 0,
                       evil, 4, 0, 0, 0, 0, 0, 0, 0, b'note ' + evil)
    c.send(struct.pack('<IHHII', 0x53444456, 3, 6, 16 + len(body), 0) + body)  # this vdds's version
    c.close()
PY
	bg+=($!)
	wait_file "$VDDS_DIR/fake.sock"
	run ls
	expect 0 "" "ls with hostile type names"
	check "ls: the type names arrive escaped, no ESC or BEL reaches the terminal" esc_clean "$work/out"
	check "ls: both publishers listed live" test "$(grep -cE '^(evil|fake) +live ' "$work/out")" -eq 2
	run info evil
	expect 0 "" "info of a publisher with a hostile type name"
	check "info: type escaped" esc_clean "$work/out"
	run info fake
	expect 0 "" "info of a hostile peer"
	check "info: type and note escaped" esc_clean "$work/out"
	check "info: the note line is there, escaped" grep -qF 'note:         note \x1b]0;PWNED' "$work/out"
	run info fake --json
	check "info --json carries the exact bytes (JSON escapes)" \
		json "j['layout']['type_name'] == '\x1b]0;PWNED\x07\x1b[31mRED' and j['note'] == 'note \x1b]0;PWNED\x07\x1b[31mRED'"
	# names the user typed: escaped and cut, not echoed back whole
	run info "$(printf 'a%.0s' $(seq 1000))"
	expect 2 "invalid topic name 'aaaa" "info with a 1000-byte name"
	check "the 1000-byte name is cut (message under 400 bytes, ends in ...)" \
		test "$(wc -c <"$work/err")" -lt 400 -a "$(grep -c "a\.\.\.'" "$work/err")" -eq 1
	run echo "x${evil}"
	expect 2 "invalid topic name 'x\x1b]0;PWNED" "echo with escapes in the name"
	check "the name is escaped on stderr" no_esc "$work/err"
	run frob"$evil"
	check "an unknown command is echoed escaped" no_esc "$work/err"
}

case_signals() {
	# echo, hz and bw on a socket whose backlog is full: the open blocks in
	# connect; SIGINT and SIGTERM must still end them, exit 0, promptly
	mute "$VDDS_DIR" 1 full "$work/ready"
	local c sig
	for c in echo hz bw; do
		for sig in INT TERM; do
			bgrun "$c" full0
			wait_fd $last signalfd && wait_fd $last socket
			check "$c is blocked in connect, not busy" sleeping $last
			kill -$sig $last
			reap $last
			expect 0 "stopped by SIG$sig" "$c in a blocking open, SIG$sig"
		done
	done
	# with --reconnect, waiting for a publisher that is not there
	bgrun echo nobody --reconnect
	wait_fd $last inotify && sleeping $last
	kill -TERM $last
	reap $last
	expect 0 "stopped by SIGTERM" "echo --reconnect waiting, SIGTERM"
	# pub waiting for subscribers
	bgrun pub waiter --wait-subs 1 x
	wait_fd $last signalfd
	kill -INT $last
	reap $last
	expect 0 "published 0 samples" "pub --wait-subs, SIGINT"
}

case_pipe() {
	start "$peer" pub e --count 0 --linger
	wait_file "$VDDS_DIR/e.sock"
	start "$peer" pub fast --count 100000000 --rate 2000 --size 100
	wait_file "$VDDS_DIR/fast.sock"
	local c
	for c in echo hz bw; do
		timeout -s KILL 30 "$vdds" "$c" fast 2>"$work/err" | head -n 1 >"$work/out"
		local st=("${PIPESTATUS[@]}")
		rc=${st[0]}
		expect 0 "" "$c | head -1 (exit ${st[0]}, 141 would be SIGPIPE)"
		check "$c | head -1 printed a line" test "$(wc -l <"$work/out")" -eq 1
	done
	timeout -s KILL 30 "$vdds" echo fast >/dev/full 2>"$work/err"
	rc=$?
	expect 1 "vdds: cannot write to standard output: No space left on device" "echo >/dev/full"
	# ls with more output than a pipe holds, into a reader that stops at once
	# (1000 lines, more than a pipe buffer: ls is still writing when it breaks)
	for i in $(seq 1000); do ln -s /nonexistent "$VDDS_DIR/junk$i.sock"; done
	timeout -s KILL 30 "$vdds" ls 2>"$work/err" | (exec 0<&-)
	rc=${PIPESTATUS[0]}
	expect 0 "" "ls into a closed pipe"
}

case_typed() {
	# a typed subscriber names type and size; pub --type-size satisfies it
	timeout -s KILL 30 "$vdds" pub pose --type Pose --type-size 24 --wait-subs 1 --count 3 abc \
		>/dev/null 2>"$work/puberr" &
	local p=$!
	wait_file "$VDDS_DIR/pose.sock"
	run echo pose --type Pose --type-size 24 --count 3 --format hex
	expect 0 "" "echo --type Pose --type-size 24 of pub --type-size 24"
	check "three samples of 24 bytes, the payload repeated" \
		test "$(grep -c "len=24: $(printf 'abc%.0s' $(seq 8) | od -An -tx1 | tr -d ' \n')$" "$work/out")" -eq 3
	wait $p
	check "pub said 24-byte samples" grep -q "published 3 samples of 24 bytes on 'pose'" "$work/puberr"
	start "$vdds" pub pose2 --type Pose --type-size 24 --rate 10 abc
	wait_file "$VDDS_DIR/pose2.sock"
	run echo pose2 --type Pose --type-size 32 --count 1
	expect 1 "expected, publisher has 'Pose' (24 B)" "echo of the wrong size is refused, with the publisher's words"
	run echo pose2 --type Twist --count 1
	expect 1 "publisher has 'Pose'" "echo of the wrong type is refused"
	# a subscriber written with VDDS_TYPED(Pose), 24 bytes: refused by a
	# publisher that names the type but not its size (the old dead end),
	# fed by one that declares both
	local typed
	typed=$(dirname "$peer")/typed_sub
	"$py" -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<3d", 1.5, 2.5, -3))' >"$work/pose.bin"
	start "$vdds" pub nosize --type Pose --rate 10 --file "$work/pose.bin"
	wait_file "$VDDS_DIR/nosize.sock"
	timeout -s KILL 30 "$typed" nosize 1 >"$work/out" 2>"$work/err"
	rc=$?
	expect 1 "publisher has 'Pose' (no size)" "a typed subscriber refuses pub --type without --type-size"
	timeout -s KILL 30 "$vdds" pub typed --type Pose --type-size 24 --wait-subs 1 --count 3 \
		--file "$work/pose.bin" 2>/dev/null &
	p=$!
	timeout -s KILL 30 "$typed" typed 3 >"$work/out" 2>"$work/err"
	rc=$?
	expect 0 "" "a VDDS_TYPED subscriber takes what pub --type Pose --type-size 24 publishes"
	check "it got the three poses, field for field" \
		test "$(cat "$work/out")" = "$(printf '1.5 2.5 -3\n1.5 2.5 -3\n1.5 2.5 -3')"
	wait $p
	run pub p --type Pose --type-size 24 --size 10 x
	expect 2 "--size 10 and --type-size 24 differ" "pub --size against --type-size"
	run pub p --type-size 0 x
	expect 2 "--type-size wants bytes" "pub --type-size 0"
}

# opts_of TEXT: every --option in it, one a line, sorted and unique
opts_of() { grep -oE -- '--[a-z][a-z-]*' | sort -u; }

case_help() {
	"$vdds" --help >"$work/all"
	local man
	man=$(dirname "$vdds")/../share/man/man1/vdds.1
	[ -f "$man" ] || { bad "no man page at $man"; return; }
	# the SYNOPSIS of the man page, \- unescaped
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$man" | sed 's/\\-/-/g; s/\\f[BIR]//g' >"$work/syn"
	local c o
	for c in ls info echo pub hz bw record play; do
		# (an option with a short form, "-o, --output", is listed by either)
		"$vdds" "$c" --help | grep -vE -- '^ +-[a-zA-Z], --' | opts_of | grep -vx -- --help \
			>"$work/want"
		# the command's lines in vdds --help: from "  c " up to the next command
		awk -v c="$c" '$1 == c { on = 1; print; next } /^  [a-z]/ && !/^   / { on = 0 } on && /^    / { print }' \
			"$work/all" | opts_of >"$work/has"
		grep "^vdds $c " "$work/syn" | opts_of >"$work/man"
		while read -r o; do
			check "vdds --help lists $c $o" grep -qx -- "$o" "$work/has"
			check "vdds(1) SYNOPSIS lists $c $o" grep -qx -- "$o" "$work/man"
		done <"$work/want"
	done
}

# the README's `vdds ls` and `vdds info pose` are what the tool prints for the
# run it shows (an untyped publisher at 100 Hz and one echo): the same lines,
# numbers aside
case_readme() {
	local readme
	readme=$(cd "$(dirname "$0")/../.." && pwd)/README.md
	start "$vdds" pub pose --rate 100 'x=1.0 y=2.0'
	wait_file "$VDDS_DIR/pose.sock"
	start "$vdds" echo pose >/dev/null
	for _ in $(seq 500); do
		"$vdds" ls --json | grep -q '"subscribers":1' && break
		sleep 0.01
	done
	local cmd
	for cmd in ls "info pose"; do
		# shellcheck disable=SC2086
		"$vdds" $cmd | sed -E 's/[0-9]+/N/g; s/ +/ /g' >"$work/got"
		awk -v c="\$ vdds $cmd" '$0 == c { on = 1; next } on && /^(\$|```)/ { exit } on { print }' \
			"$readme" | sed -E 's/[0-9]+/N/g; s/ +/ /g' >"$work/doc"
		check "README's vdds $cmd is what vdds $cmd prints ($(diff "$work/doc" "$work/got" | head -5 | tr '\n' ' '))" \
			cmp -s "$work/doc" "$work/got"
	done
}

"case_$case"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
