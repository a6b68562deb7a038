# Sourced by install-qemu.sh and install-libvirt.sh: `apt_backports ARGS...` runs apt-get with a
# private list of bookworm, bookworm-updates, bookworm-security and bookworm-backports (the
# mirrors read from the system's own sources file), leaving /etc/apt untouched. The list is
# fetched once per call of the sourcing script.
apt_backports() {
  if [ -z "${APT_BACKPORTS_DIR:-}" ]; then
    local src=/etc/apt/sources.list.d/debian.sources uri suri
    uri=$(awk '/^URIs:/{print $2; exit}' "$src" 2>/dev/null || true)
    suri=$(awk '/^URIs:/{u=$2} /^Suites:.*security/{print u; exit}' "$src" 2>/dev/null || true)
    uri=${uri:-http://deb.debian.org/debian}
    suri=${suri:-http://deb.debian.org/debian-security}
    APT_BACKPORTS_DIR=$(mktemp -d)
    trap 'rm -rf "$APT_BACKPORTS_DIR"' EXIT
    mkdir -p "$APT_BACKPORTS_DIR/lists/partial" "$APT_BACKPORTS_DIR/archives/partial"
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\ndeb %s bookworm-backports main\n' \
      "$uri" "$uri" "$suri" "$uri" >"$APT_BACKPORTS_DIR/sources.list"
    APT_BACKPORTS_OPTS=(-o "Dir::Etc::sourcelist=$APT_BACKPORTS_DIR/sources.list" -o Dir::Etc::sourceparts=-
      -o "Dir::State::lists=$APT_BACKPORTS_DIR/lists" -o "Dir::Cache::archives=$APT_BACKPORTS_DIR/archives"
      -o APT::Sandbox::User=root)
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_BACKPORTS_OPTS[@]}" update -q
  fi
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_BACKPORTS_OPTS[@]}" "$@"
}
