#!/usr/bin/env bash
# check_symbols.sh LIB HEADER — the shared library exports exactly the
# functions the public header declares (VDDS_API), nothing more or less.
set -euo pipefail
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u)
declared=$(grep -A1 '^VDDS_API' "$header" | grep -o 'vdds_[a-z_]*(' | tr -d '(' | sort -u)
if [ "$exported" != "$declared" ]; then
	echo "exported and declared symbols differ (< exported only, > declared only):"
	diff <(echo "$exported") <(echo "$declared") || true
	exit 1
fi
echo "symbols: $(echo "$exported" | wc -l) exported, all declared in $(basename "$header")"
echo "1 passed, 0 failed"
