#!/bin/sh
# check_names.sh — the README's naming rule for macros and enum constants:
# `VDDS_` is API and lives in include/vdds.h; what core/ and notify/ define
# for themselves is `VDDS__` (include guards VDDS_<FILE>_H aside).
# Usage: check_names.sh SOURCE_DIR
set -eu
cd "$1"
found=$( {
	grep -nE '^[[:space:]]*#[[:space:]]*define[[:space:]]+VDDS_[A-Z0-9][A-Z0-9_]*' core/*.h core/*.c notify/*.h notify/*.c |
		grep -vE 'define[[:space:]]+VDDS_[A-Z0-9_]+_H([[:space:]]|$)' || true
	grep -nE '^[[:space:]]+VDDS_[A-Z0-9][A-Z0-9_]*[[:space:]]*(=|,|$)' core/*.h core/*.c notify/*.h notify/*.c || true
} || true)
if [ -n "$found" ]; then
	echo "check_names.sh: internal macros and enum constants must be VDDS__ (README, Names):" >&2
	echo "$found" >&2
	exit 1
fi
echo "check_names.sh: every internal macro and enum constant is VDDS__"
