# harness.sh — sourced by the CLI test scripts (cli_test.sh, cli_edges.sh,
# record_test.sh): a private runtime directory under a scratch folder that
# goes away at exit with every background process the script noted in bg,
# and the pass/fail counters. Usage: source harness.sh NAME (the scratch
# folder is /tmp/vdds-NAME-XXXXXX, kept in $work).
py=/usr/bin/python3 # Debian's, whatever else is earlier on PATH
work=$(mktemp -d "/tmp/vdds-$1-XXXXXX")
export VDDS_DIR=$work/run
mkdir -m 700 "$VDDS_DIR"
bg=()
cleanup() {
	for p in "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: the command succeeds
check() {
	if "${@:2}"; then ok; else bad "$1"; fi
}
