#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mk-admin-cert.sh DIR NAME [DAYS]: issue an admin client certificate
# (CN=NAME, extendedKeyUsage=clientAuth, EC P-256) from the admin CA in DIR
# (DIR/admin-ca.pem, created on first use), written to DIR/NAME.pem and
# DIR/NAME.key (0600). The broker maps CN=NAME to the grants in its
# configuration (docs/admin.md). DAYS defaults to 365.
set -eu
[ $# -ge 2 ] || { echo "usage: mk-admin-cert.sh DIR NAME [DAYS]" >&2; exit 1; }
dir="$1"; name="$2"; days="${3:-365}"
case "$name" in ''|*[!A-Za-z0-9._-]*) echo "mk-admin-cert.sh: bad NAME" >&2; exit 1 ;; esac
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/admin-ca.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/admin-ca.key" -out "$dir/admin-ca.pem" -days 3650 \
		-subj "/O=keywarden local/CN=keywarden admin CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/O=keywarden local/CN=$name" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=clientAuth" > "$dir/$name.ext"
openssl x509 -req -in "$dir/$name.csr" -CA "$dir/admin-ca.pem" -CAkey "$dir/admin-ca.key" \
	-CAcreateserial -days "$days" -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
rm -f "$dir/$name.csr" "$dir/$name.ext" "$dir/admin-ca.srl"
chmod 600 "$dir/$name.key" "$dir/admin-ca.key"
chmod 644 "$dir/$name.pem" "$dir/admin-ca.pem"
