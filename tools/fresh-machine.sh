#!/usr/bin/env bash
# starttls-mock on fresh machines, as a user meets it. Two minimal Debian 12
# systems are made with debootstrap (--variant=minbase: no compiler, no
# Python, no OpenSSL command line) in a scratch folder:
#
#  1. the builder: the checkout's tracked files are copied in and
#       make build      (installs tools/install-deps.sh's build group only)
#       make unit       (the GoogleTests, still with that group only)
#       make package    (the .deb)
#     run there; it fails if Python, OpenSSL's command line, clang,
#     chromium, Postfix or Dovecot was installed on the way;
#  2. the user: a copy of the untouched minimal system, given only that .deb
#     (apt-get install ./starttls-mock_*.deb: its declared dependencies) and
#     examples/outside-project, whose ci.sh must pass with a JUnit file.
#
#   tools/fresh-machine.sh [DIR]    (default: a new temporary folder)
#
# Needs root and Debian's mirror. Not part of .ci/run: it downloads and
# builds from nothing, about a quarter of an hour. DIR is removed at the end
# unless KEEP=1.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-machine: needs root (debootstrap, chroot)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-$(mktemp -d /tmp/starttls-fresh.XXXXXX)}
mirror=${MIRROR:-http://deb.debian.org/debian}
builder=$scratch/builder
user=$scratch/user
command -v debootstrap >/dev/null || apt-get install -y debootstrap
# Package lists are compared with comm, which needs sort's order.
export LC_ALL=C

mounted=()
cleanup() {
  local stuck=0
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || stuck=1
  done
  # Never remove a tree that may still hold the host's /dev, /proc or /sys.
  if [ "$stuck" = 1 ]; then
    echo "fresh-machine: could not unmount everything; $scratch left as it is" >&2
  elif [ "${KEEP:-0}" != 1 ]; then
    rm -rf --one-file-system "$scratch"
  fi
}
trap cleanup EXIT

# Makes a system usable by apt and by programs that need /proc and /dev.
enter() {
  for fs in proc sys dev dev/pts; do
    mount --bind "/$fs" "$1/$fs"
    mounted+=("$1/$fs")
  done
  cp /etc/resolv.conf "$1/etc/resolv.conf"
}
# Runs a command in a system as root with a clean environment.
run() {
  chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive bash -c "$2"
}
timed() {
  local start=$SECONDS
  echo "== $2"
  run "$1" "$2"
  echo "== $2: $((SECONDS - start)) s"
}

mkdir -p "$scratch"
echo "== debootstrap --variant=minbase bookworm"
debootstrap --variant=minbase bookworm "$builder" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
  { tail -20 "$scratch/debootstrap.log" >&2; exit 1; }
cp -a "$builder" "$user"
run "$builder" "dpkg-query -W -f='\${Package}\n' | sort" >"$scratch/minbase.packages"

# --- 1. the builder ----------------------------------------------------------
enter "$builder"
mkdir -p "$builder/src"
(cd "$here" && git ls-files -z | tar --null -T - -cf -) | tar -C "$builder/src" -xf -
# make is the one tool a user needs before `make build`.
run "$builder" "apt-get update -q >/dev/null && apt-get install -y -q make >/dev/null"
timed "$builder" "cd /src && make build"
timed "$builder" "cd /src && make unit"
timed "$builder" "cd /src && make package >/dev/null"
run "$builder" "/src/build/bin/starttls-mock --version"
run "$builder" "dpkg-query -W -f='\${Package}\n' | sort" |
  comm -13 "$scratch/minbase.packages" - >"$scratch/builder.added"
echo "== the builder gained $(wc -l <"$scratch/builder.added") packages"
for absent in python3 openssl chromium postfix dovecot-core clang; do
  if grep -qx "$absent" "$scratch/builder.added"; then
    echo "fresh-machine: building installed $absent, which it should not need" >&2
    exit 1
  fi
done
echo "== none of python3, openssl, chromium, postfix, dovecot-core, clang"

# --- 2. the user -------------------------------------------------------------
enter "$user"
mkdir -p "$user/work"
cp "$builder"/src/build/starttls-mock_*.deb "$user/work/"
cp -r "$here/examples/outside-project" "$user/work/mysmtp"
rm -f "$user/work/mysmtp/junit.xml"
timed "$user" "apt-get update -q >/dev/null && cd /work && apt-get install -y -q ./starttls-mock_*.deb >/dev/null"
run "$user" "dpkg-query -W -f='\${Package}\n' | sort" |
  comm -13 "$scratch/minbase.packages" - >"$scratch/user.added"
echo "== the user's system gained $(wc -l <"$scratch/user.added") packages with the .deb"
timed "$user" "set -o pipefail; cd /work && sh mysmtp/ci.sh | tail -3"
python3=/usr/bin/python3
"$python3" - "$user/work/mysmtp/junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).iter("testcase"))
bad = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
if len(cases) < 100 or bad:
    sys.exit(f"fresh-machine: {len(cases)} cases, failed {bad}")
print(f"== the example passed {len(cases)} scenarios on the user's fresh system")
PY
