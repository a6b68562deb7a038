#!/usr/bin/env bash
# Builds the deskd Debian package with cargo-deb from the binaries the test build left in
# target/debug (the dev profile: a release build would add many minutes to CI; an operator runs
# plain `cargo build --release -p deskd -p deskctl && cargo deb -p deskd --no-build`), installs it
# with dpkg -i, checks what it installed (binaries, unit, user, settings file), runs the
# installed deskd with the installed settings, then purges the package again.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p deskd -p deskctl
cargo deb -p deskd --no-build --profile dev --strip --fast --output target/debian/deskd-ci.deb
deb=target/debian/deskd-ci.deb
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb"
dpkg -i "$deb"
trap 'dpkg --purge deskd >/dev/null 2>&1 || true' EXIT
/usr/bin/deskd --version
/usr/bin/deskctl --version
test -f /usr/lib/systemd/system/deskd.service
getent passwd deskd >/dev/null
[ "$(stat -c %a:%G /etc/deskd/deskd.toml)" = "640:deskd" ]
# the installed unit, strictly: any message (even a warning) fails
out=$(systemd-analyze verify --recursive-errors=no /usr/lib/systemd/system/deskd.service 2>&1)
[ -z "$out" ] || { echo "systemd-analyze verify: $out" >&2; exit 1; }
# the installed deskd with the installed settings, as the deskd user, on a throwaway directory
tmp=$(mktemp -d); chown deskd:deskd "$tmp"
setpriv --reuid=deskd --regid=deskd --init-groups /usr/bin/deskd serve --config /etc/deskd/deskd.toml \
    --data-dir "$tmp" --listen 127.0.0.1:0 --http >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 60); do grep -q 'deskd listening on' "$tmp/out" && break; sleep 1; done
grep 'deskd listening on' "$tmp/out" || { cat "$tmp/err" >&2; kill "$pid"; exit 1; }
kill "$pid"; wait "$pid" || true
rm -rf "$tmp"
echo "package check: ok"
