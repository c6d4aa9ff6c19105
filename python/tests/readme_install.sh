#!/bin/sh
# readme_install.sh REPO — the README's Python install block, run as written:
# the lines after its `<!-- python-install` marker, in a copy of the tree (the
# files git knows, or the directories setup.py needs), with HOME a scratch
# directory, so ~/.venvs/vdds is made fresh; the last line must print the
# library's version. Then the API suite runs in that venv. 77 (skip): no
# python3-venv or python3-pip here.
set -eu
repo=$1
unset PYTHONPATH # a fresh shell's: the build tree's package must not be found
/usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null ||
	{ echo "python3-venv is not installed: skipped"; exit 77; }
ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 ||
	{ echo "python3-pip-whl (with python3-venv) is not installed: skipped"; exit 77; }
work=$(mktemp -d /tmp/vdds-readme-XXXXXX)
trap 'rm -rf "$work"' EXIT
block=$(awk '/<!-- python-install/ { on = 1; next }
	on && /^```sh/ { inside = 1; next }
	inside && /^```/ { exit }
	inside { print }' "$repo/README.md")
[ -n "$block" ] || { echo "README.md has no python-install block"; exit 1; }
mkdir "$work/tree" "$work/home"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	# as a fresh clone has it, with what is not committed yet
	git -C "$repo" ls-files -z --cached --others --exclude-standard |
		(cd "$repo" && xargs -0 tar cf - --ignore-failed-read 2>/dev/null) | tar xf - -C "$work/tree"
else
	cp -r "$repo/CMakeLists.txt" "$repo/include" "$repo/core" "$repo/notify" "$repo/python" "$work/tree/"
fi
printf '%s\n' "--- README block, run in a copy of the tree with HOME=$work/home:" "$block" "---"
out=$(cd "$work/tree" && HOME=$work/home PIP_DISABLE_PIP_VERSION_CHECK=1 sh -eux -c "$block")
printf '%s\n' "$out"
expected="vdds $(cd "$work" && HOME=$work/home "$work/home/.venvs/vdds/bin/python" -c 'import vdds; print(vdds.version())')"
[ "$(printf '%s\n' "$out" | tail -n 1)" = "$expected" ] ||
	{ echo "the block's last line printed '$(printf '%s\n' "$out" | tail -n 1)', not '$expected'"; exit 1; }
# installed where the venv looks, not in the tree
cd "$work"
"$work/home/.venvs/vdds/bin/python" -c '
import sys, vdds
assert vdds.__file__.startswith(sys.prefix), (vdds.__file__, sys.prefix)
print("installed:", vdds.__file__)'
PYTHONDONTWRITEBYTECODE=1 "$work/home/.venvs/vdds/bin/python" -m pytest -p no:cacheprovider -q \
	"$repo/python/tests/test_api.py"
