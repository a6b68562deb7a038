#!/usr/bin/env bash
# CI entry point: make sure what the tests need is there, then run the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"

# PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`): the machine starts it; start it if
# it is down, install it if it is missing.
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }
# The test database and a role for this user, when a fresh install lacks them.
if command -v psql >/dev/null && ! psql -h 127.0.0.1 -d test -c 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -c \"CREATE ROLE $(whoami) SUPERUSER LOGIN\"" 2>/dev/null || true
  su postgres -c "createdb -O $(whoami) test" 2>/dev/null || true
fi

# Prometheus 2.42 and promtool (Debian) for deskd-metrics' differential test, which fails under CI
# without them.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
fi
# QEMU 10 for the QEMU driver tests (does nothing when installed), and their test guest, built from
# Debian packages into the cache dir tests/qemu.rs looks in.
bash scripts/install-qemu.sh
apt-cache show busybox-static >/dev/null 2>&1 || apt-get update -q
[ -f "${TMPDIR:-/tmp}/deskd-test-guest/disk.qcow2" ] || bash scripts/build-test-guest.sh "${TMPDIR:-/tmp}/deskd-test-guest"

# --- Web console (issue 20) ---------------------------------------------------------------
# The front end is built from source with the committed lockfile and must equal the committed
# web/dist that the binary embeds (so `cargo run` needs no Node). Its browser tests drive
# Debian's Chromium through Playwright for Python (a venv in target/; never `playwright
# install`), with axe-core from web/node_modules; CJK fonts so the screenshots read.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list | grep -qi wqy; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei
fi
(cd web && npm ci --no-audit --no-fund && rm -rf "${TMPDIR:-/tmp}/deskd-web-dist" \
  && DESKD_WEB_OUT="${TMPDIR:-/tmp}/deskd-web-dist" npm run build)
diff -r web/dist "${TMPDIR:-/tmp}/deskd-web-dist" \
  || { echo "web/dist differs from a fresh build: run (cd web && npm ci && npm run build) and commit web/dist" >&2; exit 1; }
[ -x target/web-test-venv/bin/python ] || python3 -m venv target/web-test-venv
target/web-test-venv/bin/python -c 'import playwright' 2>/dev/null \
  || target/web-test-venv/bin/pip install -q 'playwright==1.65.3'
# deskctl, the Postman collection and the Debian package (issue 21): newman runs the generated
# collection against a live deskd (crates/cli/tests/postman.rs, fails under CI without it);
# systemd-analyze verifies the unit (crates/cli/tests/packaging.rs); cargo-deb builds the package
# that scripts/check-package.sh installs after the tests. Idempotent; about a minute when missing.
command -v newman >/dev/null || npm install -g newman@6
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
command -v systemd-analyze >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd; }
# libvirt 11.3 + libvirt-dev + dnsmasq-base from bookworm-backports (issue 18): the test build
# links the libvirt driver (the `virt` crate needs libvirt-dev), and crates/cli/tests/libvirt_desks.rs
# starts its own libvirtd per network namespace (scripts/libvirt-hosts.sh; nothing is started here).
# Does nothing when installed. The guest must be version 2 (network card + DHCP client).
bash scripts/install-libvirt.sh
[ "$(cat "${TMPDIR:-/tmp}/deskd-test-guest/guest-version" 2>/dev/null)" = 2 ] ||
  bash scripts/build-test-guest.sh "${TMPDIR:-/tmp}/deskd-test-guest"

