#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mk-tls.sh DIR: create loopback TLS material for keywarden.
#   ca.pem / ca.key          a local CA (EC P-256), valid 2 years
#   server.pem / server.key  the broker's certificate for localhost, 127.0.0.1, ::1
#                            and the names in $KW_TLS_SAN (e.g. "DNS:kw.example,IP:10.0.0.5")
# Existing files are kept (idempotent). Private keys are mode 0600.
set -eu
[ $# -eq 1 ] || { echo "usage: mk-tls.sh DIR" >&2; exit 1; }
dir="$1"
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" -days 730 \
		-subj "/O=keywarden local/CN=keywarden local CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
if [ ! -f "$dir/server.pem" ]; then
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/server.key" -out "$dir/server.csr" \
		-subj "/O=keywarden local/CN=localhost" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1${KW_TLS_SAN:+,$KW_TLS_SAN}" > "$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 365 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
	rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
fi
chmod 600 "$dir/ca.key" "$dir/server.key"
chmod 644 "$dir/ca.pem" "$dir/server.pem"
