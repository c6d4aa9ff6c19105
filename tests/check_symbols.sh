#!/usr/bin/env bash
# check_symbols.sh LIB HEADER [MAP] — the shared library exports exactly the
# functions the public header declares (VDDS_API), nothing more or less; and,
# given the version script, each under a node of it (VDDS_<major>.<minor>,
# none newer than the header's version), so that a binary records since when
# each function it calls exists.
set -euo pipefail
lib=$1 header=$2 map=${3:-}
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u)
declared=$(grep -A1 '^VDDS_API' "$header" | grep -o 'vdds_[a-z_]*(' | tr -d '(' | sort -u)
if [ "$exported" != "$declared" ]; then
	echo "exported and declared symbols differ (< exported only, > declared only):"
	diff <(echo "$exported") <(echo "$declared") || true
	[ -n "$map" ] && echo "(a function declared but not exported: list it in $map)"
	exit 1
fi
echo "symbols: $(echo "$exported" | wc -l) exported, all declared in $(basename "$header")"
checks=1
if [ -n "$map" ]; then
	nodes=$(grep -oE '^VDDS_[0-9]+\.[0-9]+' "$map" | sort -uV)
	[ -n "$nodes" ] || { echo "no VDDS_<major>.<minor> node in $map"; exit 1; }
	# every function has a version, and it is one of the map's nodes
	unversioned=$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 !~ /@/ { print $3 }')
	if [ -n "$unversioned" ]; then
		echo "exported without a version node:" "$unversioned"
		exit 1
	fi
	for v in $(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/^[^@]*@@?/, "", $3); print $3 }' |
		sort -u); do
		echo "$nodes" | grep -qx "$v" || { echo "version $v is not a node of $map"; exit 1; }
	done
	# no node is newer than the release the header says this is
	major=$(awk '/#define VDDS_VERSION_MAJOR/ { print $3 }' "$header")
	minor=$(awk '/#define VDDS_VERSION_MINOR/ { print $3 }' "$header")
	newest=$(echo "$nodes" | tail -1)
	if [ "$(printf '%s\n' "$newest" "VDDS_$major.$minor" | sort -V | tail -1)" != "VDDS_$major.$minor" ]; then
		echo "node $newest is newer than the header's version $major.$minor"
		exit 1
	fi
	echo "versions: every function under a node of $(basename "$map"): $(echo "$nodes" | tr '\n' ' ')"
	checks=2
fi
echo "$checks passed, 0 failed"
