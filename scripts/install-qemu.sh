#!/usr/bin/env bash
# Installs QEMU 10 (qemu-system-x86_64 + qemu-img + the SPICE modules that SPICE displays and
# the QXL adapter need) from bookworm-backports.
# Does nothing when both already work. A plain `apt-get install qemu-system-x86` on bookworm
# pulls 7.2 and removes the newer backports qemu-utils, so both come from backports together,
# through a private apt list that leaves /etc/apt untouched. Needs root.
set -euo pipefail

works() {
  qemu-system-x86_64 --version >/dev/null 2>&1 && qemu-img --version >/dev/null 2>&1 &&
    dpkg -s qemu-system-modules-spice >/dev/null 2>&1
}
if works; then
  echo "install-qemu: $(qemu-system-x86_64 --version | head -1), qemu-img and SPICE present; nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-qemu: must run as root" >&2; exit 1; }

cd "$(dirname "$0")"
source ./apt-backports.sh
apt_backports install -y -q -t bookworm-backports --no-install-recommends qemu-system-x86 qemu-utils \
  qemu-system-modules-spice
works || { echo "install-qemu: qemu still not usable after install" >&2; exit 1; }
qemu-system-x86_64 --version | head -1
qemu-img --version | head -1
