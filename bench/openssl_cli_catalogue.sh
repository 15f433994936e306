#!/usr/bin/env bash
# Issues, with the openssl CLI, a certificate set equivalent to what
# `starttls-mock certs` issues for one host: the same CAs (root, intermediate,
# expired, not-a-CA, pathlen:0 + sub-CA, name-constrained, untrusted root), one
# leaf per catalogue profile with the same key type (ECDSA P-256, RSA-1024 for
# rsa-1024), the same extensions, dates and digests, a stray key, and the four
# CRLs (root and intermediate, for revoked and not-revoked). Prints the median
# wall time of RUNS runs. For one core: taskset -c 0 bench/openssl_cli_catalogue.sh
#
#   bench/openssl_cli_catalogue.sh [RUNS]      (default 5)
set -euo pipefail

RUNS=${1:-5}
HOST=mail.example.test
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

write_config() {
  cat >"$1/ca.cnf" <<CNF
[ca]
default_ca = ca_default
[ca_default]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/issued
rand_serial = yes
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
[policy_any]
organizationName = optional
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca_not_ca]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca_pathlen0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca_constrained]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
nameConstraints = critical,permitted;DNS:allowed.invalid,permitted;IP:192.0.2.0/255.255.255.255
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_ip]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$HOST,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_wrong]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong-host.invalid
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_wildcard]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_client_auth]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_crl_sign]
basicConstraints = critical,CA:FALSE
keyUsage = critical,cRLSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_critical]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.32473.1 = critical,ASN1:NULL
[leaf_no_san]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_no_eku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
subjectAltName = DNS:$HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
}

# root NAME CN: a self-signed CA.
root() {
  openssl req -x509 -new "${EC[@]}" -keyout "$D/$1.key" -out "$D/$1.pem" \
    -subj "/O=bench/CN=$2" -days 365 -config "$D/ca.cnf" -extensions ca_ext 2>/dev/null
}

# sign NAME SIGNER EXTENSIONS CN [openssl ca options...]: a new key and a
# certificate for it signed by SIGNER.
sign() {
  local name=$1 signer=$2 ext=$3 cn=$4 key=("${EC[@]}")
  shift 4
  if [ "$name" = rsa-1024 ]; then key=(-newkey rsa:1024 -nodes); fi
  openssl req -new "${key[@]}" -keyout "$D/$name.key" -out "$D/$name.csr" \
    -subj "/O=bench/CN=$cn" -config "$D/ca.cnf" 2>/dev/null
  openssl ca -batch -notext -config "$D/ca.cnf" -cert "$D/$signer.pem" \
    -keyfile "$D/$signer.key" -in "$D/$name.csr" -out "$D/$name.pem" \
    -extensions "$ext" "$@" 2>/dev/null
}

crl() {  # crl SIGNER OUT
  openssl ca -gencrl -config "$D/ca.cnf" -cert "$D/$1.pem" -keyfile "$D/$1.key" \
    -out "$D/$2" 2>/dev/null
}

issue_once() {
  D=$1
  mkdir -p "$D/issued"
  : >"$D/index.txt"
  write_config "$D"
  root root "root CA"
  sign intermediate root ca_ext "intermediate CA"
  sign expired-intermediate root ca_ext "expired intermediate" -startdate "$PAST2" -enddate "$PAST1"
  sign not-ca-intermediate root ca_not_ca "not-a-CA intermediate"
  sign pathlen0 root ca_pathlen0 "pathlen0 intermediate"
  sign sub-ca pathlen0 ca_ext "sub-CA"
  sign constrained root ca_constrained "constrained intermediate"
  root untrusted-root "untrusted root CA"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/stray.key"

  sign valid intermediate leaf "$HOST"
  sign ip-match intermediate leaf_ip "$HOST"
  sign not-revoked intermediate leaf "$HOST"
  sign expired intermediate leaf "$HOST" -startdate "$PAST2" -enddate "$PAST1"
  sign not-yet-valid intermediate leaf "$HOST" -startdate "$FUTURE1" -enddate "$FUTURE2"
  sign leaf-under-expired expired-intermediate leaf "$HOST"
  sign wrong-host intermediate leaf_wrong wrong-host.invalid
  sign cn-matches-san-does-not intermediate leaf_wrong "$HOST"
  sign wildcard-too-broad intermediate leaf_wildcard "*.test"
  sign ip-mismatch intermediate leaf "$HOST"
  openssl req -x509 -new "${EC[@]}" -keyout "$D/self-signed.key" -out "$D/self-signed.pem" \
    -subj "/O=bench/CN=$HOST" -days 30 -config "$D/ca.cnf" -extensions leaf 2>/dev/null
  sign untrusted-root-leaf untrusted-root leaf "$HOST"
  sign untrusted-root-not-sent untrusted-root leaf "$HOST"
  sign incomplete-chain intermediate leaf "$HOST"
  sign bad-signature intermediate leaf "$HOST"
  sign sha1-signature intermediate leaf "$HOST" -md sha1
  sign rsa-1024 intermediate leaf "$HOST"
  sign no-serverauth-eku intermediate leaf_client_auth "$HOST"
  sign ku-without-digitalsignature intermediate leaf_crl_sign "$HOST"
  sign ca-as-leaf intermediate leaf_ca "$HOST"
  sign intermediate-not-ca not-ca-intermediate leaf "$HOST"
  sign pathlen-exceeded sub-ca leaf "$HOST"
  sign name-constraints-violation constrained leaf "$HOST"
  sign unknown-critical-extension intermediate leaf_critical "$HOST"
  sign revoked intermediate leaf "$HOST"
  sign cn-only-no-san intermediate leaf_no_san "$HOST"
  sign no-eku intermediate leaf_no_eku "$HOST"

  crl root not-revoked-root.crl
  crl intermediate not-revoked.crl
  openssl ca -config "$D/ca.cnf" -cert "$D/intermediate.pem" \
    -keyfile "$D/intermediate.key" -revoke "$D/revoked.pem" 2>/dev/null
  crl root revoked-root.crl
  crl intermediate revoked.crl
}

stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
PAST2=$(stamp '-60 days')
PAST1=$(stamp '-1 day')
FUTURE1=$(stamp '+1 day')
FUTURE2=$(stamp '+60 days')

times=()
for _ in $(seq "$RUNS"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  issue_once "$dir"
  end=$(date +%s%N)
  certs=$(find "$dir" -maxdepth 1 -name '*.pem' | wc -l)
  rm -rf "$dir"
  times+=($(((end - start) / 1000000)))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
echo "openssl CLI: ${certs} certificates, 4 CRLs; runs (ms): ${times[*]}; median ${median} ms"
