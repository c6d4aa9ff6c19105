#!/usr/bin/env bash
# usage_test.sh — vdds-bridge refuses what can never work, and says why:
# an out-of-range --domain names the range, a pattern no vdds name can match
# is refused, a long or hostile argument is echoed bounded and escaped.
set -u
bridge=$1
fail=0

# expect STATUS PATTERN -- ARGS...: the exit status and a line of stderr
expect() {
	local want=$1 pat=$2 err rc
	shift 3
	err=$(timeout 10 "$bridge" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" <<<"$err"; then
		echo "FAIL: vdds-bridge $*: exit $rc (want $want), stderr: ${err:0:300}"
		fail=1
	fi
}

expect 2 "domain id is 0 to 230" -- --out x --domain 999
expect 2 "a/b: can never match" -- --out a/b
expect 2 "can never match" -- --in 'cam era'
expect 2 "slots are 2 to 1048576" -- --out x --slots 1
long=$(printf 'a%.0s' $(seq 1000))
expect 2 "can never match" -- --out "$long/"
line=$(timeout 10 "$bridge" --out "$long/" 2>&1 | head -n1)
if [ "${#line}" -gt 400 ]; then
	echo "FAIL: a 1,000-character argument echoed whole (${#line} characters)"
	fail=1
fi
esc=$'\e]0;PWNED\a/'
out=$(timeout 10 "$bridge" --out "$esc" 2>&1 | head -n1)
if [[ "$out" == *$'\e'* || "$out" == *$'\a'* ]]; then
	echo "FAIL: a control character reached the terminal raw: $out"
	fail=1
fi
grep -q '\\x1b\]0;PWNED\\x07' <<<"$out" || {
	echo "FAIL: the escape sequence is not shown escaped: $out"
	fail=1
}
[ $fail -eq 0 ] && echo "usage_test: 7 checks passed"
exit $fail
