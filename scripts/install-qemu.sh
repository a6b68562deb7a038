#!/usr/bin/env bash
# Installs QEMU 10 (qemu-system-x86_64 + qemu-img) from bookworm-backports.
# Does nothing when both already work. A plain `apt-get install qemu-system-x86` on bookworm
# pulls 7.2 and removes the newer backports qemu-utils, so both come from backports together,
# through a private apt list that leaves /etc/apt untouched. Needs root.
set -euo pipefail

works() { qemu-system-x86_64 --version >/dev/null 2>&1 && qemu-img --version >/dev/null 2>&1; }
if works; then
  echo "install-qemu: $(qemu-system-x86_64 --version | head -1), qemu-img present; nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-qemu: must run as root" >&2; exit 1; }

SRC=/etc/apt/sources.list.d/debian.sources
URI=$(awk '/^URIs:/{print $2; exit}' "$SRC" 2>/dev/null || true)
SURI=$(awk '/^URIs:/{u=$2} /^Suites:.*security/{print u; exit}' "$SRC" 2>/dev/null || true)
URI=${URI:-http://deb.debian.org/debian}
SURI=${SURI:-http://deb.debian.org/debian-security}

A=$(mktemp -d)
trap 'rm -rf "$A"' EXIT
mkdir -p "$A/lists/partial" "$A/archives/partial"
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\ndeb %s bookworm-backports main\n' \
  "$URI" "$URI" "$SURI" "$URI" >"$A/sources.list"
O=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$A/lists"
   -o "Dir::Cache::archives=$A/archives" -o APT::Sandbox::User=root)
export DEBIAN_FRONTEND=noninteractive
apt-get "${O[@]}" update -q
apt-get "${O[@]}" install -y -q -t bookworm-backports --no-install-recommends qemu-system-x86 qemu-utils
works || { echo "install-qemu: qemu still not usable after install" >&2; exit 1; }
qemu-system-x86_64 --version | head -1
qemu-img --version | head -1
