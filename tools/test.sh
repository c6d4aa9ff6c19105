#!/usr/bin/env bash
# test.sh — on a fresh Debian 12 machine: install what is missing, build with
# -Werror, and run the whole test suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
vdds_install_deps
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDDS_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure --verbose --timeout 900
