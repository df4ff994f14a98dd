#!/usr/bin/env bash
# The system packages the tests need: one list, one place. `npm test` runs this
# first (pretest) and so does `.ci/run`. Missing ones are installed with
# apt-get when we are root (or have password-less sudo); otherwise it fails
# and prints the exact command to run.
set -euo pipefail

# command → Debian package, and what the tests use it for
deps=(
  "nats-server:nats-server"   # integration tests: real NATS servers and clusters
  "tinyproxy:tinyproxy"       # proxy mode: a real HTTP proxy
  "tcpdump:tcpdump"           # DSCP marks seen on the wire
  "tshark:tshark"             # RTCP and SRTP decoded by a standard tool
  "nft:nftables"              # network conditions inside namespaces
  "ip:iproute2"               # network namespaces and veth pairs
  "chromium:chromium"         # the browser web client's tests (playwright-core drives it)
  "ffprobe:ffmpeg"            # recordings (--record) read by a standard tool
  "cc:gcc"                    # the native data path (node-gyp) and the benchmarks' C relay and load
  "g++:g++"                   # node-gyp links addons with the C++ driver
  "make:make"                 # node-gyp's build
  "python3:python3"           # node-gyp itself
)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
for dep in "${deps[@]}"; do
  have "${dep%%:*}" || missing+=("${dep#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "meetzone's tests need these system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "installing system packages the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
