#!/usr/bin/env bash
# install_test.sh BUILD_DIR [bridge] — install vdds into a temporary prefix and build a
# consumer against it three ways: gcc through pkg-config, clang, and g++
# through find_package(vdds); and a C++17 consumer of vdds.hpp, with g++
# through find_package(vdds) and with clang++ through pkg-config; run each.
# With "bridge": vdds-bridge, its man page and the wire contract's IDL are
# installed, and the binary runs.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)/consumer
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/vdds.h include/vdds.hpp share/man/man7/vdds.7 share/man/man3/vdds_pub.3 share/man/man3/vdds_sub.3 \
	share/man/man3/vdds_pub_loan.3 share/man/man3/vdds_waitset_wait.3 \
	share/man/man3/vdds_waitset.3 share/man/man1/vdds.1 bin/vdds; do
	[ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
# a function's name finds its page through the installed link (tests/man_pages.sh: all of them)
if command -v man >/dev/null; then
	page=$(MANPATH=$prefix/share/man man -P cat vdds_pub_loan 2>/dev/null || true)
	grep -q 'vdds_pub_loan' <<<"$page" ||
		{ echo "man vdds_pub_loan finds no page in $prefix/share/man"; exit 1; }
fi
# with a second argument "bridge": vdds-bridge was built, and must be installed
if [ "${2:-}" = bridge ]; then
	for f in bin/vdds-bridge share/man/man1/vdds-bridge.1 share/vdds/frame.idl; do
		[ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
	done
	"$prefix/bin/vdds-bridge" --version | grep -q '^vdds-bridge ' ||
		{ echo "the installed vdds-bridge does not run"; exit 1; }
fi
for f in vdds.pc vddsConfig.cmake vddsConfigVersion.cmake 'libvdds.so.*' libvdds.a; do
	[ -n "$(find "$prefix" -name "$f")" ] || { echo "not installed: $f"; exit 1; }
done
libdir=$(dirname "$(find "$prefix" -name vdds.pc)")/..
export PKG_CONFIG_PATH=$libdir/pkgconfig LD_LIBRARY_PATH=$libdir
export VDDS_DIR=$prefix/run
mkdir -m 700 "$VDDS_DIR"
passed=0
gcc -std=c11 -Wall -Werror "$src/consumer.c" $(pkg-config --cflags --libs vdds) -o "$prefix/c_gcc"
"$prefix/c_gcc" && passed=$((passed + 1))
if command -v clang >/dev/null; then
	clang -std=c11 -Wall -Werror "$src/consumer.c" $(pkg-config --cflags --libs vdds) -o "$prefix/c_clang"
	"$prefix/c_clang" && passed=$((passed + 1))
else
	echo "clang missing: skipped"
fi
cmake -S "$src" -B "$prefix/cxx" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cxx" >/dev/null
"$prefix/cxx/consumer_cxx" && passed=$((passed + 1))
"$prefix/cxx/consumer_hpp" && passed=$((passed + 1))
if command -v clang++ >/dev/null; then
	clang++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Werror "$src/consumer_hpp.cpp" \
		$(pkg-config --cflags --libs vdds) -o "$prefix/hpp_clang"
	"$prefix/hpp_clang" && passed=$((passed + 1))
else
	echo "clang++ missing: skipped"
fi
echo "$passed passed, 0 failed"
