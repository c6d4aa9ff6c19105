#!/usr/bin/env bash
# demo.sh — on a fresh Debian 12 machine: install what is missing, build, and
# run the hello demo (one publisher, three subscriber processes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
vdds_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target hello_pub hello_sub

export VDDS_DIR="${VDDS_DIR:-$(mktemp -d /tmp/vdds-demo-XXXXXX)}"
pids=()
for name in sub-A sub-B sub-C; do
	./build/examples/hello_sub "$name" 10 & pids+=($!)
done
./build/examples/hello_pub 10 200 3
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
