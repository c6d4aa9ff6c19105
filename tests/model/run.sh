#!/usr/bin/env bash
# run.sh — model-check vdds's protocols with Spin (tests/model/*.pml): every
# model exhaustively clean, every mutant caught. CTest runs it as model_check.
#
#   bash tests/model/run.sh            all checks, 2 at a time (VDDS_MODEL_JOBS)
#   bash tests/model/run.sh NAME...    only those (names as in the table below,
#                                      extras included)
#   bash tests/model/run.sh --refs     rewrite the C line numbers in the headers
#   KEEP=1 ...                         keep the work directory (trails, pan)
#
# Each check: spin -a [-D...] model.pml; gcc pan.c (-DCOLLAPSE: exhaustive,
# compressed; never -DBITSTATE); then
#   live    ./pan (assertions, invalid end states) and ./pan -a (acceptance
#           cycles of the model's ltl property, no fairness assumed): both
#           "errors: 0";
#   ltl     ./pan -a only: for a model whose STALL check below covers its
#           end states (STALL only adds behaviour);
#   safety  built with -DSAFETY, ./pan: "errors: 0";
#   fail    built with -DSAFETY, ./pan must report errors > 0 and print the
#           expected violation (so a mutant cannot "fail" for a wrong reason);
#   bug     the same, for a model of main as it is: a known bug (README.md).
# Every search must be complete: a "max search depth too small" fails it.
# Exits 77 (CTest: skipped) when spin or a C compiler is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-gcc}
jobs=${VDDS_MODEL_JOBS:-2}

# name               model            -D flags                  check   expected violation (fail, bug)
checks='
wake                 wake.pml         -                         live    -
wake.no_sub_fence    wake.pml         NO_SUB_FENCE              fail    assertion violated (taken==
wake.no_pub_fence    wake.pml         NO_PUB_FENCE              fail    assertion violated (taken==
wake.no_sync_kick    wake.pml         NO_SYNC_KICK              fail    assertion violated (taken==
wake.no_starved_sync wake.pml         NO_STARVED_SYNC           fail    assertion violated (taken==
slot                 slotwait.pml     -                         ltl     -
slot.stall           slotwait.pml     STALL                     safety  -
slot.no_rearm        slotwait.pml     NO_REARM                  fail    !(((asleep&&
slot.no_pub_fence    slotwait.pml     NO_PUB_FENCE              fail    !(((asleep&&
slot.no_sub_fence    slotwait.pml     NO_SUB_FENCE              fail    !(((asleep&&
slot.gt              slotwait.pml     WM_GT                     safety  -
slot.hostile         slotwait.pml     HOSTILE                   safety  -
slot.hostile_no_held slotwait.pml     HOSTILE,NO_HELD_CHECK     fail    && !((hh&(1<<s)))
plain                slotwait.pml     PLAIN                     ltl     -
plain.stall          slotwait.pml     PLAIN,STALL               safety  -
plain.no_pub_fence   slotwait.pml     PLAIN,NO_PUB_FENCE        fail    !(((asleep&&
plain.no_sub_fence   slotwait.pml     PLAIN,NO_SUB_FENCE        fail    !(((asleep&&
plain.plain_store    slotwait.pml     PLAIN,PLAIN_STORE         safety  -
drop                 drop_oldest.pml  -                         live    -
drop.hostile         drop_oldest.pml  HOSTILE                   safety  -
drop.no_recheck      drop_oldest.pml  NO_RECHECK                fail    assertion violated (res!=2)
drop.fields_after_cas drop_oldest.pml FIELDS_AFTER_CAS          fail    assertion violated ((v==gslot[
drop.sub_store       drop_oldest.pml  SUB_STORE                 fail    assertion violated ((gst[
drop.lost_on_cas     drop_oldest.pml  LOST_ON_CAS_ONLY          fail    assertion violated (lost==stolen[0])
drop.no_seen_check   drop_oldest.pml  HOSTILE,NO_SEEN_CHECK     fail    assertion violated ((gst[
drop.shared_entry    drop_oldest.pml  HOSTILE,SHARED_ENTRY      fail    assertion violated
drop.no_holds_check  drop_oldest.pml  HOSTILE,NO_HOLDS_CHECK    fail    assertion violated (hold[id]&(1<<
'
# "bug": a model of main as it is that fails: a known bug, reported in
# README.md; expected to fail until main is fixed, then make it a mutant.
# Not run unless named (they add time and show nothing CI must keep):
extras='slot.gt'

lookup() { # name -> "model flags check expect"
	awk -v n="$1" '$1 == n { $1 = ""; print; found = 1 } END { exit !found }' <<<"$checks"
}

# One check, in its own directory; prints one line, returns 0 if as expected.
run_one() {
	local name=$1 model flags check expect dir defs=() out errors states
	read -r model flags check expect <<<"$(lookup "$name")" || {
		echo "no check named $name" >&2
		return 2
	}
	expect=$(lookup "$name" | awk '{ $1 = $2 = $3 = ""; sub(/^ +/, ""); print }')
	dir=$work/$name
	mkdir -p "$dir"
	cp "$here"/*.pml "$dir"/
	[ "$flags" = - ] || for f in ${flags//,/ }; do defs+=("-D$f"); done
	cd "$dir"
	if ! spin "${defs[@]}" -a "$model" >spin.out 2>&1 || [ ! -f pan.c ]; then
		echo "FAIL $name: spin -a ${defs[*]} $model"
		cat spin.out
		return 1
	fi
	local safety=(-DSAFETY -DNOCLAIM) opt=-Og hash=-w22
	[ "$check" = live ] || [ "$check" = ltl ] && safety=()
	# -Og runs as fast as -O1 and compiles faster; a mutant is caught within
	# a few hundred thousand states, where compiling is the cost: -O0. pan's
	# own code draws compiler warnings: -w
	if [ "$check" = fail ] || [ "$check" = bug ]; then
		opt=-O0
		hash=-w20
	fi
	"$cc" $opt -w -DCOLLAPSE "${safety[@]}" -o pan pan.c
	local runs=("-m200000 $hash")
	[ "$check" = live ] && runs=("-m200000 -w22 -noclaim" "-m200000 -w22 -a")
	[ "$check" = ltl ] && runs=("-m200000 -w22 -a")
	local r summary="" t0=$SECONDS
	for r in "${runs[@]}"; do
		# shellcheck disable=SC2086 # r is a list of options
		out=$(./pan $r 2>&1) || true
		echo "$out" >>pan.out
		errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)
		states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | tail -n 1)
		if [ -z "$errors" ] || grep -q "max search depth too small" <<<"$out"; then
			echo "FAIL $name: ./pan $r did not complete"
			echo "$out"
			return 1
		fi
		if [ "$check" = fail ] || [ "$check" = bug ]; then
			local what="mutant caught" miss="mutant not caught"
			[ "$check" = bug ] && what="KNOWN BUG in main, still there" &&
				miss="the known bug is gone: make this check a mutant (README.md)"
			if [ "$errors" -gt 0 ] && grep -qF -- "$expect" <<<"$out"; then
				echo "ok   $name: $what, after $states states: $(grep -m1 -o 'pan:1: .*' <<<"$out")"
				return 0
			fi
			echo "FAIL $name: $miss (errors: $errors, expected \"$expect\")"
			echo "$out"
			return 1
		fi
		if [ "$errors" != 0 ]; then
			echo "FAIL $name: ./pan $r: errors: $errors (trail: KEEP=1, then spin -t -p ${defs[*]} $model in $dir)"
			echo "$out"
			return 1
		fi
		case $r in
		*-a) summary+="${summary:+, }ltl $(sed -n 's/^ltl \([a-z]*\).*/\1/p' "$model"): $states states" ;;
		*) summary+="$states states" ;;
		esac
	done
	echo "ok   $name: errors: 0, $summary ($((SECONDS - t0)) s)"
}

# The C each model says it mirrors: header lines " *   path:line function".
# Prints "model path line function" for each.
refs() {
	awk 'match($0, /^ \* +[A-Za-z0-9_.\/-]+\.[ch]:[0-9]+ [A-Za-z_][A-Za-z0-9_]*/) {
		s = substr($0, RSTART, RLENGTH); sub(/^ \* +/, "", s); split(s, a, /[: ]/)
		n = split(FILENAME, f, "/"); print f[n], a[1], a[2], a[3] }' "$here"/*.pml
}

# Where function fn is defined in file (a line at column 0 naming it, not a
# declaration ending in ';'; the last such line): its line number, or nothing.
def_line() {
	awk -v fn="$2" '/^[A-Za-z]/ && $0 ~ ("[^A-Za-z0-9_]" fn "\\(") && $0 !~ /;$/ { n = NR }
		END { if (n) print n }' "$1"
}

# Every function named in a header must still exist; a moved one is only
# reported. --refs rewrites the line numbers in the headers.
check_refs() {
	local update=$1 model path line fn now bad=0
	while read -r model path line fn; do
		now=$(def_line "$root/$path" "$fn")
		if [ -z "$now" ]; then
			echo "FAIL refs: $model names $fn in $path, which does not define it any more:" \
				"the model may no longer mirror the C; update it"
			bad=1
		elif [ "$now" != "$line" ]; then
			if [ "$update" = 1 ]; then
				sed -i "s|^\( \* \+\)$path:$line $fn\b|\1$path:$now $fn|" "$here/$model"
				echo "refs: $model: $path:$line $fn -> $path:$now"
			else
				echo "note refs: $model: $fn is at $path:$now now, not $line (run.sh --refs)"
			fi
		fi
	done < <(refs)
	return $bad
}

root=$(cd "$here/../.." && pwd)
if [ "${1:-}" = --refs ]; then
	check_refs 1
	exit
fi

if [ "${1:-}" = --one ]; then
	work=$2
	run_one "$3"
	exit
fi

for tool in spin "$cc"; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (Debian: apt-get install spin gcc)"
		exit 77
	fi
done

names=("$@")
[ ${#names[@]} -gt 0 ] ||
	mapfile -t names < <(awk -v x=" $extras " 'NF && index(x, " " $1 " ") == 0 { print $1 }' <<<"$checks")
for n in "${names[@]}"; do
	lookup "$n" >/dev/null || { echo "no check named $n" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vdds-model.XXXXXX")
if [ -n "${KEEP:-}" ]; then
	echo "work directory: $work"
else
	trap 'rm -rf "$work"' EXIT
fi

start=$SECONDS
status=0
check_refs 0 || status=1
printf '%s\n' "${names[@]}" |
	xargs -P "$jobs" -I{} bash "$here/run.sh" --one "$work" {} >"$work/results" 2>&1 || status=1
# in the table's order
for n in "${names[@]}"; do
	grep -E "^(ok  |FAIL) $n:" "$work/results" || true
done
if [ $status -ne 0 ]; then
	echo "--- details"
	grep -vE "^ok   " "$work/results" || true
fi
echo "model check: $(grep -c '^ok ' "$work/results") of ${#names[@]} as expected, $((SECONDS - start)) s"
exit $status
