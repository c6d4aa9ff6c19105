#!/bin/sh
# pip_install.sh PYTHON REPO — the pip path: `pip install --no-build-isolation` of
# a copy of the repository's python/ into a scratch --target, then the API and
# error suites run against that installed copy. 77 (skip): no pip or setuptools.
set -eu
py=$1
repo=$2
"$py" -m pip --version >/dev/null 2>&1 || { echo "python3-pip is not installed: skipped"; exit 77; }
"$py" -c "import setuptools" 2>/dev/null || { echo "python3-setuptools is not installed: skipped"; exit 77; }
work=$(mktemp -d /tmp/vdds-pip-XXXXXX)
trap 'rm -rf "$work"' EXIT
# a copy: pip builds in place (python/build, python/vdds.egg-info)
mkdir "$work/src"
cp -r "$repo/CMakeLists.txt" "$repo/include" "$repo/core" "$repo/notify" "$repo/python" "$work/src/"
rm -rf "$work/src/python/build" "$work/src/python"/*.egg-info
"$py" -m pip install --quiet --no-build-isolation --no-index --no-deps --disable-pip-version-check \
	--root-user-action=ignore --target "$work/site" "$work/src/python"
cd "$work"
PYTHONPATH=$work/site PYTHONDONTWRITEBYTECODE=1 "$py" -c '
import os, sys, vdds
assert vdds._vdds.__file__.startswith(sys.argv[1]), vdds._vdds.__file__
print("installed:", os.path.dirname(vdds.__file__), "library", vdds.version())
' "$work/site"
PYTHONPATH=$work/site PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -p no:cacheprovider -q \
	"$repo/python/tests/test_api.py" "$repo/python/tests/test_errors.py"
