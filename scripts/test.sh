#!/usr/bin/env bash
# test.sh — on a fresh Debian 12 machine: install what is missing, then build
# and run the whole test suite (vdds-bridge's included, its two-host test in
# network namespaces when run as root; the Python package's pytest suites too):
# gcc with -Werror; clang-format, clang-tidy and cppcheck; AddressSanitizer +
# UndefinedBehaviorSanitizer; clang -Werror with ThreadSanitizer on the tests
# labelled threads; the libFuzzer targets, 60 s and 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# clang and its runtime: the fuzzer and sanitizer runtimes; Debian's python3
# with what the Python package builds and tests with (no PyPI needed); Cyclone
# DDS, its IDL compiler and iproute2 (network namespaces): vdds-bridge's tests;
# spin, the model checker of tests/model/
vdds_install_deps clang libclang-rt-14-dev clang-tidy clang-format cppcheck \
	python3-dev python3-numpy python3-pytest python3-setuptools python3-pip python3-venv \
	cyclonedds-dev cyclonedds-tools iproute2 spin libzstd-dev liblz4-dev
# GStreamer: the vdds plugin (gst/), its gst-check tests and pipelines
# (videotestsrc: -base; identity: core; checksumsink, shmsink: -bad)
vdds_install_deps libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
jobs=$(nproc)

echo "=== gcc -Werror: build and test"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDDS_WERROR=ON \
	-DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build-test -j"$jobs"
(cd build-test && ctest --output-on-failure --verbose --timeout 900)

echo "=== lint: clang-format (.clang-format), clang-tidy (.clang-tidy) and cppcheck, zero findings"
git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
clang-tidy --quiet -p build-test core/*.c notify/*.c examples/*.c
# one file per run: clang-tidy 14 reports a false "uninitialized va_list"
# (clang-analyzer-valist.Uninitialized) when several files are linted in one
# run: in tools/vdds/main.c's cli_fail()/cli_usage(), and in the second of
# several files that include Cyclone DDS's headers
for f in tools/common/*.c tools/vdds/*.c tools/vdds-bridge/*.c; do
	clang-tidy --quiet -p build-test "$f"
done
cppcheck --enable=warning,performance,portability --inline-suppr --error-exitcode=1 -q \
	-D_GNU_SOURCE -Iinclude -Icore -Inotify -Itools/common core notify examples tools/common tools/vdds
cppcheck --enable=warning,performance,portability --inline-suppr --error-exitcode=1 -q \
	-D_GNU_SOURCE -Iinclude -Ibuild-test/tools/vdds-bridge tools/vdds-bridge
for f in gst/*.c gst/tests/*.c; do clang-tidy --quiet -p build-test "$f"; done
cppcheck --library=gtk --enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
	-q -D_GNU_SOURCE -Iinclude gst gst/tests

echo "=== ASan+UBSan: build and test"
# the Python suites too: their python3 preloads libasan (python/CMakeLists.txt)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVDDS_WERROR=ON -DVDDS_SANITIZE=ON \
	-DVDDS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure --verbose --timeout 900)

echo "=== clang -Werror + ThreadSanitizer: the tests labelled threads (the service thread meets the data path)"
CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DVDDS_WERROR=ON -DVDDS_SANITIZE_THREAD=ON \
	-DVDDS_BUILD_BENCH=OFF -DVDDS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
	ctest --output-on-failure --verbose --timeout 900 -L '^threads$')

echo "=== libFuzzer: the handshake parser 60 s, a subscriber before a hostile publisher 30 s, the MCAP reader 30 s"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DVDDS_FUZZ=ON -DVDDS_BUILD_TESTS=OFF \
	-DVDDS_BUILD_BENCH=OFF -DVDDS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_handshake
work=$(mktemp -d)
cp tests/fuzz/corpus/* "$work"/
./build-fuzz/tests/fuzz/fuzz_handshake -max_total_time=60 -max_len=4096 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -n 3
rm -rf "$work"
# what a subscriber reads from a hostile publisher (headers, entries), 30 s
cmake --build build-fuzz -j"$jobs" --target fuzz_sub
work=$(mktemp -d)
cp tests/fuzz/corpus_sub/* "$work"/
./build-fuzz/tests/fuzz/fuzz_sub -max_total_time=30 -max_len=4096 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -n 3
rm -rf "$work"
# the MCAP reader of `vdds play`, over files and streams, 30 s
cmake --build build-fuzz -j"$jobs" --target fuzz_mcap
work=$(mktemp -d)
cp tests/fuzz/corpus_mcap/* "$work"/
./build-fuzz/tests/fuzz/fuzz_mcap -max_total_time=30 -max_len=65536 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -n 3
rm -rf "$work"
echo "fuzz: 3 passed, 0 failed"
