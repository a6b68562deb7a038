#!/usr/bin/env bash
# Builds the tiny test guest of the QEMU driver tests from Debian packages only:
# a Debian kernel plus a busybox-static initramfs. Nothing is installed on the host.
#   usage: build-test-guest.sh OUT_DIR
# Writes OUT_DIR/vmlinuz (bzImage), OUT_DIR/vmlinux (PVH ELF, boots ~40% faster under TCG;
# only when python3 is present), OUT_DIR/initrd.gz and OUT_DIR/disk.qcow2. Safe to run again: it
# rebuilds into a scratch dir and replaces the outputs only when the build succeeded.
# disk.qcow2 is what a user would upload: a 64 MiB BIOS-bootable disk (syslinux MBR, one active
# FAT16 partition from 1 MiB holding syslinux, vmlinuz, initrd.gz and syslinux.cfg) that SeaBIOS
# boots without any kernel given to QEMU. It is made without loop mounts: mkfs.fat, mtools and the
# mtools flavour of the syslinux installer write into the image file at the partition's offset.
# The guest: mounts /proc,/sys,/dev; bumps a boot counter kept in sector 1 of /dev/vda (byte 512,
# in the gap before the first partition, so the MBR survives) as "DESKD-BOOT <n>"; runs acpid so
# the ACPI power button powers it off; prints "DESKD-GUEST-READY boot=<n>" on the serial console;
# then, when it has a network card (virtio_net), asks DHCP for an address in the background and
# prints "DESKD-GUEST-IP <if> <ip> mac=<mac>" once it has one; then idles.
set -euo pipefail
OUT=${1:?usage: build-test-guest.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "build-test-guest: no linux-image package found (apt-get update?)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
mkdir deb
SANDBOX=(); [ "$(id -u)" = 0 ] && SANDBOX=(-o APT::Sandbox::User=root)
(cd deb && apt-get "${SANDBOX[@]}" download "$KPKG" busybox-static \
  syslinux syslinux-common mtools dosfstools >/dev/null)
dpkg-deb -x deb/"${KPKG}"_*.deb k
dpkg-deb -x deb/busybox-static_*.deb bb
for p in syslinux syslinux-common mtools dosfstools; do dpkg-deb -x deb/"$p"_*.deb tools; done
cp "k/boot/vmlinuz-$KVER" vmlinuz
if command -v python3 >/dev/null; then
  # The bzImage carries an xz payload; unpacked, it is an ELF with a PVH entry point.
  python3 - <<'PY'
import lzma
d = open('vmlinuz', 'rb').read()
i = d.find(b'\xfd7zXZ\x00')
open('vmlinux', 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:]))
PY
fi

R=rootfs
mkdir -p $R/bin $R/proc $R/sys $R/dev $R/tmp $R/etc/acpi/PWRF $R/lib/modules
cp bb/bin/busybox $R/bin/busybox
ln -s busybox $R/bin/sh
MODS="acpi/button input/evdev virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev
      virtio/virtio_pci_legacy_dev virtio/virtio_pci virtio/virtio_balloon block/virtio_blk"
for m in $MODS; do cp "k/lib/modules/$KVER/kernel/drivers/$m.ko" $R/lib/modules/; done
# the network card: virtio_net needs net_failover, which needs failover
for m in net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
  cp "k/lib/modules/$KVER/kernel/$m.ko" $R/lib/modules/
done
mkdir -p $R/etc/udhcpc
cat >$R/etc/udhcpc/script <<'SH'
#!/bin/sh
# udhcpc calls this with the lease in the environment
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "DESKD-GUEST-IP $interface $ip mac=$(cat /sys/class/net/$interface/address)" >/dev/console ;;
esac
SH
chmod +x $R/etc/udhcpc/script

cat >$R/etc/acpi/PWRF/00000080 <<'SH'
#!/bin/sh
echo "DESKD-GUEST: power button, powering off" >/dev/console
sync
poweroff -f
SH
chmod +x $R/etc/acpi/PWRF/00000080

cat >$R/init <<'SH'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Debian ships no modules.dep in the .deb: load in dependency order.
for m in button evdev virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon virtio_blk \
         failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko 2>/dev/null || echo "DESKD-GUEST: insmod $m failed" >/dev/console
done
acpid -c /etc/acpi -l /tmp/acpid.log
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -b /dev/vda ] && break; sleep 0.1; done
boot=0
if [ -b /dev/vda ]; then
  # sector 1 (bs=32, block 16): sector 0 holds the MBR of a bootable disk
  set -- $(dd if=/dev/vda bs=32 skip=16 count=1 2>/dev/null | tr -c 'A-Z0-9 -' ' ')
  [ "$1" = "DESKD-BOOT" ] && boot=$2
  boot=$((boot + 1))
  printf 'DESKD-BOOT %d \n' "$boot" | dd of=/dev/vda bs=32 seek=16 count=1 conv=sync,fsync 2>/dev/null
fi
echo "DESKD-GUEST-READY boot=$boot" >/dev/console
# the address comes from the host's DHCP (a libvirt network hands each desk its own); no card, no DHCP
(
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
  if [ -e /sys/class/net/eth0 ]; then
    ip link set lo up; ip link set eth0 up
    udhcpc -i eth0 -s /etc/udhcpc/script -t 20 -T 1 -n -q >/dev/null 2>&1 || echo "DESKD-GUEST: no DHCP lease" >/dev/console
  fi
) &
while true; do sleep 3600; done
SH
chmod +x $R/init
(cd $R && find . | ../bb/bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >initrd.gz

# The bootable disk. Keep syslinux.cfg's APPEND in step with the driver's default direct-boot
# command line (crates/compute/src/qemu/ops.rs, kernel_args). No SERIAL line: the bootloader stays
# off the serial console, so the first byte there comes from the guest's kernel, which is what the
# driver's KVM-to-TCG fallback (crates/compute/src/qemu/accel.rs) takes as proof of progress.
SECTORS=$((64 * 2048)) START=2048
PART=$((SECTORS - START))
export PATH="$W/tools/usr/bin:$PATH" MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
rm -f disk.img
truncate -s $((SECTORS * 512)) disk.img
tools/sbin/mkfs.fat -F 16 -n DESKD -h $START --offset $START disk.img $((PART / 2)) >/dev/null
cat >syslinux.cfg <<'CFG'
DEFAULT deskd
PROMPT 0
TIMEOUT 0
LABEL deskd
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 quiet panic=-1
CFG
mcopy -i "disk.img@@$((START * 512))" vmlinuz initrd.gz syslinux.cfg ::/
syslinux --install --offset $((START * 512)) disk.img
# MBR: syslinux's boot code (440 bytes), one active partition of type 0x0e (FAT16, LBA), signature
dd if=tools/usr/lib/syslinux/mbr/mbr.bin of=disk.img conv=notrunc status=none
le32() { printf '\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
printf "\x80\xfe\xff\xff\x0e\xfe\xff\xff$(le32 $START)$(le32 $PART)" |
  dd of=disk.img bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of=disk.img bs=1 seek=510 conv=notrunc status=none
qemu-img convert -O qcow2 disk.img disk.qcow2

# the guest's version: .ci/run rebuilds an older one (2: the network card and DHCP)
echo 2 >guest-version
for f in vmlinuz vmlinux initrd.gz disk.qcow2 guest-version; do [ -f "$f" ] && mv -f "$f" "$OUT/$f"; done
ls -l "$OUT"
