#!/usr/bin/env bash
# Shows that building needs only tools/install-deps.sh's `build` group: makes
# a minimal Debian 12 (debootstrap --variant=minbase: no compiler, no Python,
# no OpenSSL CLI) in a scratch folder, copies the checkout's tracked files
# into it, and runs there, as a user on a fresh machine would:
#
#   make build      (installs the build group, then compiles)
#   make unit       (the GoogleTests, still with the build group only)
#
# then lists every package the chroot gained beyond minbase.
#
#   tools/build-from-scratch.sh [DIR]    (default: a new temporary folder)
#
# Needs root and Debian's mirror. Not part of .ci/run: fetching and building
# from nothing takes about a quarter of an hour. DIR is removed at the end
# unless KEEP=1.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$(mktemp -d /tmp/starttls-scratch.XXXXXX)}
mirror=${MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
  echo "build-from-scratch: needs root (debootstrap, chroot)" >&2
  exit 2
fi
command -v debootstrap >/dev/null || apt-get install -y debootstrap

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
  done
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$root"; fi
}
trap cleanup EXIT

echo "== debootstrap --variant=minbase bookworm $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log" >&2; exit 1; }
rm -f "$root.debootstrap.log"
chroot "$root" dpkg-query -W -f='${Package}\n' | sort >"$root/minbase.packages"

for fs in proc sys dev dev/pts; do
  mount --bind "/$fs" "$root/$fs"
  mounted+=("$root/$fs")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"

echo "== copying the checkout's tracked files to /src"
mkdir -p "$root/src"
(cd "$here" && git ls-files -z | tar --null -T - -cf -) | tar -C "$root/src" -xf -

run() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root DEBIAN_FRONTEND=noninteractive bash -c "cd /src && $1"; }

# make itself is the one tool a user needs before `make build`.
run "apt-get update -q >/dev/null && apt-get install -y -q make >/dev/null"
echo "== make build"
start=$(date +%s)
run "make build"
echo "== make build took $(($(date +%s) - start)) s"
echo "== make unit"
start=$(date +%s)
run "make unit"
echo "== make unit took $(($(date +%s) - start)) s"
run "build/bin/starttls-mock --version && build/bin/starttls-client --version"

echo "== packages installed beyond minbase (make, then the build group and what it pulled in)"
chroot "$root" dpkg-query -W -f='${Package}\n' | sort |
  comm -13 "$root/minbase.packages" - >"$root/added.packages"
wc -l <"$root/added.packages"
for absent in python3 openssl chromium postfix dovecot-core clang; do
  if grep -qx "$absent" "$root/added.packages"; then
    echo "build-from-scratch: $absent was installed, but building should not need it" >&2
    exit 1
  fi
done
echo "none of python3, openssl, chromium, postfix, dovecot-core, clang was installed"
