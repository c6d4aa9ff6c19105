#!/usr/bin/env bash
# pipelines.sh CASE — vddssink and vddssrc in real gst-launch-1.0 processes,
# in a runtime directory of their own. Every check compares frame checksums,
# counts and exit codes, never time; every process runs under a watchdog
# (timeout), so a hang is a failure. Exit 77: GStreamer or an element missing.
#   checksums     300 frames of 1080p ball into two readers, each frame's sha1
#                 (md5) equal to the same pipeline without vdds; readers start first
#   reader_first  a reader waits for a writer whose runtime directory does not
#                 exist yet, without spinning once it does, then gets every frame
#   writer_killed the writer SIGKILLed mid-stream: the on-publisher-gone=eos
#                 reader ends with EOS (exit 0), the =error one with an error
#   slow_reader   drop-oldest: a reader sleeping 30 ms a frame loses frames,
#                 the other reader gets all 300, the writer drops none
set -uo pipefail
case=${1:?case}
for tool in gst-launch-1.0 gst-inspect-1.0; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed (gstreamer1.0-tools)"; exit 77; }
done
for el in vddssink vddssrc videotestsrc checksumsink identity; do
	gst-inspect-1.0 $el >/dev/null 2>&1 ||
		{ echo "SKIP: GStreamer element $el not found (GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-})"; exit 77; }
done
work=$(mktemp -d /tmp/vdds-gstp-XXXXXX)
export VDDS_DIR=$work/run
bg=()
cleanup() {
	for p in "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
failed=0
bad() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}
# launch NAME PIPELINE...: gst-launch in the background under a watchdog,
# output in $work/NAME.out, pid in pid_NAME
launch() {
	local name=$1
	shift
	timeout -s KILL 90 gst-launch-1.0 -q "$@" >"$work/$name.out" 2>&1 &
	bg+=($!)
	eval "pid_$name=$!"
}
# finish NAME: its exit code in rc
finish() {
	local p
	eval "p=\$pid_$1"
	wait "$p"
	rc=$?
}
sums() { awk '{print $2}' "$work/$1.out"; }
frames() { grep -c '^[0-9]*:[0-9]*:[0-9.]* [0-9a-f]\{32\}$' "$work/$1.out"; }
hd="video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
small="video/x-raw,format=I420,width=320,height=240,framerate=100/1"
topic=gstp$$

case $case in
checksums)
	mkdir -m 700 "$VDDS_DIR"
	launch r1 vddssrc topic=$topic do-timestamp=false ! checksumsink hash=md5 sync=false
	launch r2 vddssrc topic=$topic do-timestamp=false ! checksumsink hash=md5 sync=false
	launch w videotestsrc num-buffers=300 pattern=ball ! $hd ! \
		vddssink topic=$topic wait-subscribers=2 sync=false
	timeout 90 gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=ball ! $hd ! \
		checksumsink hash=md5 sync=false >"$work/ref.out" 2>&1
	[ "$(frames ref)" -eq 300 ] || bad "reference pipeline gave $(frames ref) frames"
	finish w
	[ "$rc" -eq 0 ] || bad "writer exit $rc: $(cat "$work/w.out")"
	for r in r1 r2; do
		finish $r
		[ "$rc" -eq 0 ] || bad "$r exit $rc: $(tail -3 "$work/$r.out")"
		[ "$(frames $r)" -eq 300 ] || bad "$r got $(frames $r) frames, not 300"
		cmp -s "$work/ref.out" "$work/$r.out" ||
			bad "$r: frames differ from the pipeline without vdds: $(diff "$work/ref.out" "$work/$r.out" | head -4)"
	done
	;;
reader_first)
	# no runtime directory yet: the reader cannot watch it, its timer finds
	# the publisher
	launch r1 vddssrc topic=$topic do-timestamp=false ! checksumsink hash=md5 sync=false
	sleep 1
	kill -0 "$pid_r1" 2>/dev/null || bad "the reader did not wait: $(cat "$work/r1.out")"
	# the directory appears (inotify can watch it now), still no writer: the
	# reader sleeps, it does not spin (read syscalls of its process, counted)
	mkdir -m 700 "$VDDS_DIR"
	sleep 0.3
	reader=$(pgrep -P "$pid_r1")
	before=$(sed -n 's/^syscr: //p' "/proc/$reader/io")
	sleep 1
	after=$(sed -n 's/^syscr: //p' "/proc/$reader/io")
	[ $((after - before)) -lt 100 ] || bad "waiting reader made $((after - before)) reads in 1 s: it spins"
	launch w videotestsrc num-buffers=50 pattern=ball ! $small ! \
		vddssink topic=$topic wait-subscribers=1 sync=false
	timeout 90 gst-launch-1.0 -q videotestsrc num-buffers=50 pattern=ball ! $small ! \
		checksumsink hash=md5 sync=false >"$work/ref.out" 2>&1
	finish w
	[ "$rc" -eq 0 ] || bad "writer exit $rc"
	finish r1
	[ "$rc" -eq 0 ] || bad "reader exit $rc: $(tail -3 "$work/r1.out")"
	cmp -s "$work/ref.out" "$work/r1.out" || bad "reader's frames differ ($(frames r1) of 50)"
	;;
writer_killed)
	mkdir -m 700 "$VDDS_DIR"
	launch w videotestsrc is-live=true pattern=ball ! $small ! \
		vddssink topic=$topic wait-subscribers=2
	launch re vddssrc topic=$topic on-publisher-gone=eos ! checksumsink hash=md5 sync=false
	launch rx vddssrc topic=$topic on-publisher-gone=error ! checksumsink hash=md5 sync=false
	for _ in $(seq 300); do
		[ "$(frames re)" -ge 20 ] && [ "$(frames rx)" -ge 20 ] && break
		sleep 0.1
	done
	[ "$(frames re)" -ge 20 ] && [ "$(frames rx)" -ge 20 ] || bad "readers got no frames"
	# the writer itself, not its watchdog
	kill -9 "$(pgrep -P "$pid_w")"
	finish re
	[ "$rc" -eq 0 ] || bad "on-publisher-gone=eos reader: exit $rc (137: hung): $(tail -3 "$work/re.out")"
	finish rx
	[ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] || bad "on-publisher-gone=error reader: exit $rc (137: hung)"
	grep -q "publisher gone" "$work/rx.out" || bad "no 'publisher gone' error: $(tail -3 "$work/rx.out")"
	;;
slow_reader)
	mkdir -m 700 "$VDDS_DIR"
	launch fast vddssrc topic=$topic ! checksumsink hash=md5 sync=false
	launch slow vddssrc topic=$topic ! identity sleep-time=30000 ! checksumsink hash=md5 sync=false
	GST_DEBUG=vdds:4 GST_DEBUG_NO_COLOR=1 launch w videotestsrc is-live=true \
		num-buffers=300 pattern=ball ! $small ! vddssink topic=$topic \
		overflow=drop-oldest slots=16 wait-subscribers=2
	timeout 90 gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=ball ! $small ! \
		checksumsink hash=md5 sync=false >"$work/ref.out" 2>&1
	finish w
	[ "$rc" -eq 0 ] || bad "writer exit $rc"
	grep -q "published 301 (zero-copy 300, copied 0), dropped 0" "$work/w.out" ||
		bad "writer did not publish 300 frames: $(grep published "$work/w.out")"
	finish fast
	[ "$rc" -eq 0 ] || bad "fast reader exit $rc"
	# a live writer stamps other times: the frames' checksums are compared
	cmp -s <(sums ref) <(sums fast) ||
		bad "fast reader: $(frames fast) of 300 frames, or not the same"
	finish slow
	[ "$rc" -eq 0 ] || bad "slow reader exit $rc"
	n=$(frames slow)
	[ "$n" -gt 0 ] && [ "$n" -lt 300 ] || bad "slow reader got $n frames: drop-oldest took none back"
	;;
*)
	echo "unknown case $case"
	exit 2
	;;
esac
[ $failed -eq 0 ] && echo "$case: passed" || echo "$case: $failed failed"
[ $failed -eq 0 ]
