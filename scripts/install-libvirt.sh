#!/usr/bin/env bash
# Installs libvirt 11.3 (daemon, QEMU driver, clients, libvirt-dev for the `virt` crate) and
# dnsmasq-base (libvirt networks' DHCP) from bookworm-backports, beside QEMU 10 from
# scripts/install-qemu.sh. Does nothing when they are already there. bookworm's libvirt 9.0
# cannot drive QEMU 10 (it passes the removed -no-acpi), so both come from backports through the
# same private apt list install-qemu.sh uses (bookworm, -updates, -security and -backports: with
# backports alone some dependencies are not installable); /etc/apt stays untouched. Nothing is
# started: the tests start their own libvirtd per network namespace. Needs root.
set -euo pipefail
cd "$(dirname "$0")"

works() {
  command -v libvirtd >/dev/null && command -v virtlogd >/dev/null && command -v dnsmasq >/dev/null &&
    pkg-config --atleast-version=11.0 libvirt 2>/dev/null
}
bash ./install-qemu.sh
if works; then
  echo "install-libvirt: libvirt $(pkg-config --modversion libvirt), dnsmasq present; nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-libvirt: must run as root" >&2; exit 1; }

source ./apt-backports.sh
apt_backports install -y -q -t bookworm-backports --no-install-recommends \
  libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt-dev dnsmasq-base pkg-config
works || { echo "install-libvirt: libvirt still not usable after install" >&2; exit 1; }
echo "install-libvirt: libvirt $(pkg-config --modversion libvirt)"
