#!/usr/bin/env bash
# Runs N libvirt "compute hosts" on this machine for the libvirt tests and benchmark: one network
# namespace per host, each with its own libvirtd + virtlogd over private bind mounts of the five
# libvirt folders (a root libvirtd keeps its sockets and state in fixed places), reached from the
# main namespace over qemu+tcp on a bridge that only these namespaces share. Nothing outside the
# bridge's subnet and the namespaces is touched.
#   libvirt-hosts.sh up   DIR TAG NET N   start hosts 1..N; prints one qemu+tcp URI per line
#   libvirt-hosts.sh down DIR TAG N       stop everything `up` started and delete it
#   libvirt-hosts.sh restart DIR TAG H    restart host H's libvirtd (its guests keep running),
#                                         so clients see their connection drop
# DIR holds each host's state (DIR/h<n>/{etc,run,lib,log,cache}); TAG (at most 6 letters/digits)
# names the bridge (TAGbr) and namespaces (TAGh<n>); NET picks the subnet 10.213.NET.0/24, host n
# being 10.213.NET.1<n>. The QEMU capability probe (about 8 s on a fresh libvirtd) is cached in
# ${TMPDIR:-/tmp}/deskd-libvirt-caps and copied into new hosts. Needs root and scripts/install-libvirt.sh.
set -euo pipefail
cmd=${1:?usage: libvirt-hosts.sh up|down DIR TAG ...}
DIR=${2:?DIR}
TAG=${3:?TAG}
CAPS=${TMPDIR:-/tmp}/deskd-libvirt-caps

down() {
  local n=$1 h D pid
  for h in $(seq 1 "$n"); do
    D=$DIR/h$h
    # guests and dnsmasq first (libvirtd leaves them running), then the daemons
    # (libvirt writes its pid files without a trailing newline: read them one by one)
    for f in "$D"/run/qemu/*.pid "$D"/run/network/*.pid; do
      [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    for f in libvirtd virtlogd; do
      pid=$(cat "$D/run/$f.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    done
    # anything else still in the host's namespace (its processes keep the namespace alive)
    for pid in $(ip netns pids "${TAG}h$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "${TAG}h$h" 2>/dev/null || true
  done
  ip link del "${TAG}br" 2>/dev/null || true
}

up() {
  local net=$1 n=$2 h D addr
  down "$n"
  ip link add "${TAG}br" type bridge
  ip addr add "10.213.$net.1/24" dev "${TAG}br"
  ip link set "${TAG}br" up
  for h in $(seq 1 "$n"); do
    D=$DIR/h$h addr=10.213.$net.1$h
    rm -rf "$D"
    mkdir -p "$D"/{run,lib,log,cache}
    cp -a /etc/libvirt "$D/etc"
    cp -a /var/lib/libvirt/. "$D/lib/" 2>/dev/null || true
    mkdir -p "$D/lib/images" "$D/cache/qemu" "$D/log/qemu"
    [ -d "$CAPS" ] && cp -a "$CAPS" "$D/cache/qemu/capabilities"
    rm -f "$D"/etc/qemu/networks/autostart/* "$D"/etc/qemu/networks/default.xml
    cat >"$D/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
tcp_port = "16509"
auth_tcp = "none"
host_uuid = "00000000-0000-4000-8000-$(printf %08d%02d%02d 0 "$net" "$h")"
CONF
    printf 'user = "root"\ngroup = "root"\nvnc_listen = "%s"\nspice_listen = "%s"\n' "$addr" "$addr" >"$D/etc/qemu.conf"
    ip netns add "${TAG}h$h"
    ip link add "${TAG}v$h" type veth peer name eth0 netns "${TAG}h$h"
    ip link set "${TAG}v$h" master "${TAG}br" up
    ip -n "${TAG}h$h" addr add "$addr/24" dev eth0
    ip -n "${TAG}h$h" link set eth0 up
    ip -n "${TAG}h$h" link set lo up
    ip netns exec "${TAG}h$h" unshare --mount --propagation private sh -ec "
      mkdir -p /run/libvirt
      mount --bind $D/etc /etc/libvirt; mount --bind $D/run /run/libvirt
      mount --bind $D/lib /var/lib/libvirt; mount --bind $D/log /var/log/libvirt
      mount --bind $D/cache /var/cache/libvirt
      virtlogd -d -p /run/libvirt/virtlogd.pid
      libvirtd -d --listen -p /run/libvirt/libvirtd.pid"
  done
  for h in $(seq 1 "$n"); do
    addr=10.213.$net.1$h
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/$addr/16509") 2>/dev/null && break
      sleep 0.1
    done
    echo "qemu+tcp://$addr/system"
  done
}

restart() {
  local h=$1 D=$DIR/h$1 pid log
  pid=$(cat "$D/run/libvirtd.pid")
  kill "$pid"
  # generous waits: on a loaded machine libvirtd takes seconds to stop and to listen again
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # back into the host's namespaces through its virtlogd, which kept running
  log=$(cat "$D/run/virtlogd.pid")
  nsenter --target "$log" --mount --net libvirtd -d --listen -p /run/libvirt/libvirtd.pid
  addr=$(sed -n 's/^listen_addr = "\(.*\)"/\1/p' "$D/etc/libvirtd.conf")
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/$addr/16509") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "libvirt-hosts.sh: host $h did not come back in 60 s" >&2
  return 1
}

case $cmd in
  up) up "${4:?NET}" "${5:?N}" ;;
  restart) restart "${4:?H}" ;;
  down) down "${4:?N}" ;;
  save-caps)
    # keep host 1's probe for later hosts (its capability cache, once libvirtd wrote it)
    [ -d "$CAPS" ] || { [ -n "$(ls "$DIR/h1/cache/qemu/capabilities" 2>/dev/null)" ] &&
      cp -a "$DIR/h1/cache/qemu/capabilities" "$CAPS.tmp.$$" && mv "$CAPS.tmp.$$" "$CAPS"; } || true ;;
  *) echo "libvirt-hosts.sh: unknown command $cmd" >&2; exit 2 ;;
esac
