#!/usr/bin/env bash
# Installs the Debian packages starttls-mock needs for the given purposes, and
# only those missing:
#
#   tools/install-deps.sh [GROUP...]     (default: every group)
#
#   build    compile the binaries, libraries, GoogleTests and benchmarks
#   run      run the harness: OpenSSL's runtime, Python's pytest (make suite)
#   fuzz     clang and its sanitizer and libFuzzer runtimes (make fuzz, FUZZ=ON)
#   test     what the harness's own tests use besides: aiosmtpd (a real SMTP
#            server), jsonschema (the report's schema), chromium (the HTML report)
#   clients  the third-party clients the pinned adapters run
#   servers  Dovecot and Postfix, for the interop tests
#
# A test whose tool is missing is skipped and says which (make test installs
# every group). Idempotent: runs `apt-get update` at most once, and only when
# something is missing. Needs root (or passwordless sudo) when something must
# be installed.
set -euo pipefail

# build: `file` is for make package (CPack's Debian generator finds the
# binaries whose shared libraries it declares with it).
declare -A group=(
  [build]="build-essential cmake ninja-build pkg-config libssl-dev
    libasio-dev libexpected-dev nlohmann-json3-dev libcli11-dev libfmt-dev
    libgtest-dev libgmock-dev libbenchmark-dev file"
  [run]="openssl ca-certificates python3 python3-pytest python3-pytest-xdist
    python3-pytest-timeout"
  [fuzz]="clang libclang-rt-14-dev"
  [test]="python3-aiosmtpd python3-jsonschema chromium"
  # git send-email's own modules are only recommended by git-email: Debian's
  # git has no CPAN fallback for Mail::Address, and Net::SMTP needs
  # IO::Socket::SSL for STARTTLS.
  [clients]="swaks libnet-ssleay-perl curl msmtp s-nail mutt git-email php-cli
    libphp-phpmailer python3-aiosmtplib libmailtools-perl
    libio-socket-ssl-perl isync fetchmail"
  [servers]="dovecot-imapd dovecot-pop3d"
)
order=(build run fuzz test clients servers)

wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then wanted=("${order[@]}"); fi
packages=()
for g in "${wanted[@]}"; do
  if [ -z "${group[$g]+set}" ]; then
    echo "install-deps: unknown group '$g' (groups: ${order[*]})" >&2
    exit 2
  fi
  # shellcheck disable=SC2206 # the lists are words
  packages+=(${group[$g]})
done

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# postfix (servers) is only run by pytest/test_interop.py, in a private
# configuration directory. It conflicts with every other MTA package, and
# installing it would remove one that is there, so it is left out then (and
# the Postfix interop tests are skipped, saying why).
if [[ " ${wanted[*]} " == *" servers "* ]]; then
  other_mta=""
  for mta in exim4-daemon-light exim4-daemon-heavy opensmtpd sendmail-bin \
    courier-mta dma msmtp-mta nullmailer; do
    if installed "$mta"; then other_mta=$mta; fi
  done
  if [ -z "$other_mta" ]; then
    packages+=(postfix)
  elif ! installed postfix; then
    echo "install-deps: not installing postfix: it would replace $other_mta" >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! installed "$p"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps (${wanted[*]}): installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
# "No configuration" keeps the postfix package from writing
# /etc/postfix/main.cf: no system mail service is set up, so even where
# services start on install (no policy-rc.d) there is nothing to start.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" |
    "${sudo[@]}" debconf-set-selections
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
