#!/usr/bin/env bash
# install_test.sh BUILD_DIR [bridge] — install vdds into a temporary prefix and build a
# consumer against it three ways: gcc through pkg-config, clang, and g++
# through find_package(vdds); and a C++17 consumer of vdds.hpp, with g++
# through find_package(vdds) and with clang++ through pkg-config; run each.
# The tools (tools/vdds; with "bridge", tools/vdds-bridge) build on their own
# against the installed vdds and run.
# With "bridge": vdds-bridge, its man page and the wire contract's IDL are
# installed, and the binary runs. Then the README's two installs, run as
# written: into a prefix of one's own (HOME is a scratch directory, so
# ~/.local/vdds is too), and, as root, into /usr/local inside a private mount
# namespace (a scratch /usr/local and a copy of /etc, so the install's
# ldconfig writes the namespace's ld.so.cache and this machine is left as it
# was): a program built with `pkg-config vdds` must start right after, with
# no environment beyond what the README says.
set -euo pipefail
build=$(cd "$1" && pwd)
# A library built with a sanitizer loads only into programs that link the
# sanitizer's runtime first, which an installed library's consumers do not:
# installing is the release build's test (scripts/test.sh runs it there).
if grep -qE '^VDDS_SANITIZE(_THREAD)?:BOOL=ON' "$build/CMakeCache.txt"; then
	echo "a sanitizer build: its consumers would need the sanitizer runtime; skipped"
	exit 77
fi
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
"$prefix/c_gcc" || { echo "a consumer failed (exit $?)"; exit 1; }
passed=$((passed + 1))
if command -v clang >/dev/null; then
	clang -std=c11 -Wall -Werror "$src/consumer.c" $(pkg-config --cflags --libs vdds) -o "$prefix/c_clang"
	"$prefix/c_clang" || { echo "a consumer failed (exit $?)"; exit 1; }
	passed=$((passed + 1))
else
	echo "clang missing: skipped"
fi
cmake -S "$src" -B "$prefix/cxx" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cxx" >/dev/null
"$prefix/cxx/consumer_cxx" || { echo "a consumer failed (exit $?)"; exit 1; }
passed=$((passed + 1))
"$prefix/cxx/consumer_hpp" || { echo "a consumer failed (exit $?)"; exit 1; }
passed=$((passed + 1))
if command -v clang++ >/dev/null; then
	clang++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Werror "$src/consumer_hpp.cpp" \
		$(pkg-config --cflags --libs vdds) -o "$prefix/hpp_clang"
	"$prefix/hpp_clang" || { echo "a consumer failed (exit $?)"; exit 1; }
	passed=$((passed + 1))
else
	echo "clang++ missing: skipped"
fi

# The tools are consumers like any other (issue #20): tools/vdds, and with
# "bridge" tools/vdds-bridge, configure and build on their own against the
# installed vdds (find_package(vdds); no path into the library's sources),
# link the installed libvdds.so, and run: the standalone vdds asks a
# publisher of its own about itself.
tools=$(cd "$(dirname "$0")/.." && pwd)/tools
tool_build() { # tool_build NAME DIR BINARY
	cmake -S "$tools/$1" -B "$prefix/$2" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror \
		>"$prefix/$2.log" 2>&1 && cmake --build "$prefix/$2" -j2 >>"$prefix/$2.log" 2>&1 ||
		{ echo "tools/$1 does not build against the installed vdds:"; cat "$prefix/$2.log"; exit 1; }
	ldd "$prefix/$2/$3" | grep -q "libvdds.so.0 => $prefix/" ||
		{ echo "tools/$1 built standalone does not link the installed libvdds.so:"
		  ldd "$prefix/$2/$3"; exit 1; }
}
tool_build vdds tool_vdds vdds
cli=$prefix/tool_vdds/vdds
"$cli" pub standalone hello --rate 20 >/dev/null 2>&1 &
pub_pid=$!
for _ in $(seq 100); do "$cli" info standalone >"$prefix/info.out" 2>&1 && break; sleep 0.1; done
kill "$pub_pid"
wait "$pub_pid" || true
grep -q "^publisher: *pid $pub_pid," "$prefix/info.out" ||
	{ echo "the standalone vdds cannot ask its publisher:"; cat "$prefix/info.out"; exit 1; }
passed=$((passed + 1))
if [ "${2:-}" = bridge ]; then
	tool_build vdds-bridge tool_bridge vdds-bridge
	"$prefix/tool_bridge/vdds-bridge" --version | grep -q '^vdds-bridge ' ||
		{ echo "the standalone vdds-bridge does not run"; exit 1; }
	passed=$((passed + 1))
fi

# readme_lines NAME: the README's install block NAME (the fenced block after
# its "<!-- install: NAME" marker), the build step left out (this build is
# it) and "build" made this build directory
readme=$(cd "$(dirname "$0")/.." && pwd)/README.md
readme_lines() {
	awk -v m="<!-- install: $1 " 'index($0, m) == 1 { f = 1; next }
		f && /^```sh/ { on = 1; next } on && /^```/ { exit } on { print }' "$readme" |
		grep -vx 'cmake -S \. -B build && cmake --build build' |
		sed "s#^cmake --install build#cmake --install '$build'#"
}
# as_readme NAME DIR [RUNNER...]: run block NAME in DIR (holding app.c, the
# consumer), with a clean environment: no LD_LIBRARY_PATH, PKG_CONFIG_PATH
as_readme() {
	local name=$1 dir=$2 lines
	shift 2
	lines=$(readme_lines "$name")
	grep -q '^cmake --install ' <<<"$lines" && grep -q '\./app' <<<"$lines" ||
		{ echo "README: no install block '$name' with cmake --install and ./app"; exit 1; }
	mkdir -p "$dir"
	cp "$src/consumer.c" "$dir/app.c"
	(cd "$dir" && env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH HOME="$prefix/home" \
		"$@" bash -euo pipefail -c "$lines") >"$prefix/$name.log" 2>&1 ||
		{ echo "README install '$name' failed:"; cat "$prefix/$name.log"; exit 1; }
	grep -q '^consumer: vdds .* works' "$prefix/$name.log" ||
		{ echo "README install '$name': ./app did not run"; cat "$prefix/$name.log"; exit 1; }
	passed=$((passed + 1))
}
mkdir -p "$prefix/home"
as_readme prefix "$prefix/home/app"
check_prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: the README's /usr/local install (and its ldconfig) skipped"
elif [ "$check_prefix" != /usr/local ]; then
	echo "this build installs to $check_prefix, not /usr/local: the README's system install skipped"
elif ! unshare -m true 2>/dev/null; then
	echo "no mount namespace here (unshare -m): the README's system install skipped"
else
	# the namespace's own /etc (ld.so.cache) and /usr/local; mounts are
	# private to it (unshare's default), so nothing leaks to this machine
	cp -a /etc "$prefix/etc"
	as_readme system "$prefix/sys" unshare -m sh -c \
		'mount --bind "$0" /etc && mount -t tmpfs tmpfs /usr/local && exec "$@"' "$prefix/etc"
	grep -q "vdds: ran ldconfig" "$prefix/system.log" ||
		{ echo "the system install did not run ldconfig"; cat "$prefix/system.log"; exit 1; }
fi
echo "$passed passed, 0 failed"
