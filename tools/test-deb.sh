#!/usr/bin/env bash
# The Debian package as a user's CI installs it: builds it from BUILD_DIR
# (cpack), installs it with apt-get, runs examples/outside-project from a
# copy outside the checkout with only the installed files (its ci.sh, no
# prefix: the system's), checks its JUnit file, and removes the package,
# whatever happened. Root only; refuses to touch a starttls-mock already
# installed on the machine. Run it when no other test is running: while the
# package is installed, pytest anywhere on the machine loads its plugin.
#
#   tools/test-deb.sh [BUILD_DIR]     (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ "$(id -u)" -ne 0 ]; then
  echo "test-deb: needs root (apt-get install)" >&2
  exit 2
fi
if dpkg-query -W -f='${Status}' starttls-mock 2>/dev/null | grep -q 'install ok installed'; then
  echo "test-deb: starttls-mock is already installed here; not replacing it" >&2
  exit 2
fi
rm -f "$build"/starttls-mock_*.deb
(cd "$build" && cpack >/dev/null)
deb=$(ls "$build"/starttls-mock_*.deb)
echo "test-deb: $deb"
dpkg-deb -I "$deb" | grep -E '^ (Package|Version|Depends|Recommends):'

work=$(mktemp -d)
installed() {
  dpkg-query -W -f='${Status}' starttls-mock 2>/dev/null | grep -q 'install ok installed'
}
cleanup() {
  if installed; then
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge starttls-mock >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
echo "test-deb: installed $(dpkg-query -W -f='${Version}' starttls-mock): $(dpkg -L starttls-mock | wc -l) paths"
command -v starttls-mock starttls-client
# The installed binary finds the installed catalogue by name, from anywhere.
found=$(cd "$work" && env -i PATH=/usr/bin:/bin starttls-mock scenario control/hotmail-2009)
case "$found" in
  /usr/share/starttls-mock/scenarios/control/hotmail-2009.smtp:*) ;;
  *) echo "test-deb: control/hotmail-2009 resolved to: $found" >&2; exit 1 ;;
esac
echo "test-deb: starttls-mock $(starttls-mock --version) finds control/hotmail-2009 in /usr/share/starttls-mock/scenarios"

cp -r examples/outside-project "$work/mysmtp"
rm -f "$work/mysmtp/junit.xml"
# Nothing of this checkout: a clean environment, outside it.
if ! (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" LANG=C.UTF-8 sh mysmtp/ci.sh) \
  >"$work/ci.log" 2>&1; then
  tail -40 "$work/ci.log"
  echo "test-deb: the example project failed with the installed package" >&2
  exit 1
fi
tail -1 "$work/ci.log"
/usr/bin/python3 - "$work/mysmtp/junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).iter("testcase"))
bad = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
own = [c for c in cases if c.get("name") == "test_scenario[ours/starttls-in-lower-case.smtp]"]
if len(cases) < 100 or bad or not own:
    sys.exit(f"test-deb: {len(cases)} cases, failed {bad}, own scenario run: {bool(own)}")
print(f"test-deb: the example passed {len(cases)} scenarios with the installed package")
PY
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge starttls-mock >/dev/null
left=$(ls -d /usr/share/starttls-mock /usr/lib/python3/dist-packages/starttls_mock* \
  /usr/bin/starttls-mock 2>/dev/null || true)
if [ -n "$left" ]; then
  echo "test-deb: removing the package left $left" >&2
  exit 1
fi
echo "test-deb: removed, nothing left"
