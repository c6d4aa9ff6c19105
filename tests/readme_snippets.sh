#!/usr/bin/env bash
# readme_snippets.sh CC CXX README INCLUDE_DIR — every ```c and ```cpp block of
# the README compiles as written, against the public headers only. A block is
# a fragment: its file-scope lines (#include, a struct defined, a typedef,
# VDDS_TYPED, VDDS_TYPE_NAME) stay at file scope and the rest becomes a
# function's body; `use(...)`, which the blocks call for "your code here", is
# declared for any arguments, and a C block may go on from the one before, so
# it is given <vdds.h> and <stdio.h>. Nothing else is added, so a renamed call
# or a changed signature in the header breaks this test.
set -euo pipefail
cc=$1 cxx=$2 readme=$3 include=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Split the README into one file per fenced block: block-<n>.<lang>
awk -v dir="$work" '
	/^```(c|cpp)$/ { lang = substr($0, 4); n++; file = dir "/block-" n "." lang; next }
	/^```/ { file = ""; next }
	file != "" { print > file }
' "$readme"

pass=0 fail=0
for block in "$work"/block-*; do
	[ -e "$block" ] || continue
	lang=${block##*.}
	# the last file-scope line: everything after it is a function's body
	split=$(grep -nE '^(#include|struct [A-Za-z_]+ \{|typedef |VDDS_TYPED\(|VDDS_TYPE_NAME\()' "$block" |
		tail -1 | cut -d: -f1)
	split=${split:-0}
	src=$work/$(basename "$block" ."$lang")-test.$lang
	{
		if [ "$lang" = c ]; then
			printf '#include <stdio.h>\n#include <vdds.h>\nstatic inline void use_(int n, ...) { (void)n; }\n'
			printf '#define use(...) use_(0, __VA_ARGS__)\n'
		else
			printf 'template <class... A> static void use(const A &...) {}\n'
		fi
		printf '#line 1 "%s"\n' "$(basename "$readme") $(basename "$block")"
		head -n "$split" "$block"
		printf 'void readme_fragment(void);\nvoid readme_fragment(void)\n{\n'
		printf '#line %d\n' "$((split + 1))"
		tail -n +"$((split + 1))" "$block"
		printf '}\n'
	} >"$src"
	if [ "$lang" = c ]; then
		cmd=("$cc" -std=c11 -D_GNU_SOURCE)
	else
		cmd=("$cxx" -std=c++17)
	fi
	if "${cmd[@]}" -fsyntax-only -Wall -Wextra -Wshadow -Werror -I"$include" "$src"; then
		echo "ok: $(basename "$block") ($(wc -l <"$block") lines)"
		pass=$((pass + 1))
	else
		echo "FAIL: $(basename "$block"); as compiled:"
		cat -n "$src"
		fail=$((fail + 1))
	fi
done
# the README has a C and a C++ example at least: finding none is a failure
if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
	echo "no \`\`\`c or \`\`\`cpp block found in $readme"
	exit 1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
