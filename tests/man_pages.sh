#!/usr/bin/env bash
# man_pages.sh MAN_SRC LINK_DIR HEADER — every public function of vdds.h has a
# man page: in a man3 tree laid out as `cmake --install` lays it (the pages
# of MAN_SRC and the link pages CMake wrote into LINK_DIR), `man <function>`
# finds a page that names the function in its NAME section. Without man(1),
# the pages and the targets of their .so links are checked as files only.
set -euo pipefail
src=$1 links=$2 header=$3
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/man3"
cp "$src"/*.3 "$tree/man3/"
cp "$links"/*.3 "$tree/man3/"
declared=$(grep -A1 '^VDDS_API' "$header" | grep -o 'vdds_[a-z_]*(' | tr -d '(' | sort -u)
[ -n "$declared" ] || { echo "no VDDS_API function found in $header"; exit 1; }
have_man=0
command -v man >/dev/null && have_man=1
pass=0 fail=0
for fn in $declared; do
	page=$tree/man3/$fn.3
	if [ ! -f "$page" ]; then
		echo "FAIL: $fn: no page (name it in the NAME section of a page of $src)"
		fail=$((fail + 1))
		continue
	fi
	# a link page names its target, which must be there
	target=$(sed -n 's/^\.so man3\///p' "$page")
	if [ -n "$target" ] && [ ! -f "$tree/man3/$target" ]; then
		echo "FAIL: $fn: links to man3/$target, which is not installed"
		fail=$((fail + 1))
		continue
	fi
	if [ "$have_man" = 1 ]; then
		# NAME, as man renders it: the function among the names before " - "
		shown=$(MANPATH=$tree MANWIDTH=200 man -P cat "$fn" 2>/dev/null || true)
		name=$(awk '/^NAME/ { getline; print; exit }' <<<"$shown")
		if ! grep -qE "(^|[ ,])$fn(,| -)" <<<"$name"; then
			echo "FAIL: $fn: man $fn shows NAME \"$name\""
			fail=$((fail + 1))
			continue
		fi
	fi
	pass=$((pass + 1))
done
[ "$have_man" = 1 ] || echo "man(1) missing: pages checked as files only"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
