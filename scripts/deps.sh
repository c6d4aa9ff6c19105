# deps.sh — sourced by demo.sh and test.sh: install the Debian packages vdds
# needs, only those missing, with apt-get (as root, or through sudo).
VDDS_DEPS=(build-essential cmake pkg-config liburing-dev check libsubunit-dev libuv1-dev libglib2.0-dev libzstd-dev liblz4-dev)

# vdds_install_deps [extra packages...]
vdds_install_deps() {
	local missing=() pkg
	for pkg in "${VDDS_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
