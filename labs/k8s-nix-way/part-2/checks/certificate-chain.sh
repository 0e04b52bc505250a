# Passes when ~/secrets holds the author's chain: a root CA, the intermediates kubernetes-ca
# (ca.pem) and etcd-ca (etcd.pem) signed by it, etcd's server certificate etcd-tls.pem
# (bundled with etcd-ca) and the client kube-apiserver-etcd-client.pem, both issued by
# etcd-ca; certificates mode 444, keys 400.
cd "$HOME/secrets" 2>/dev/null || { echo "There is no ~/secrets folder yet (secretsPath in ~/machine.nix): make it and the certificates as in Step 5."; exit 1; }
missing=""
for file in root-ca.pem root-ca-key.pem ca.pem ca-key.pem etcd.pem etcd-key.pem etcd-tls.pem etcd-tls-key.pem kube-apiserver-etcd-client.pem kube-apiserver-etcd-client-key.pem; do
  [ -s "$file" ] || missing="$missing $file"
done
[ -z "$missing" ] || { echo "Missing in ~/secrets:$missing. Make them with the openssl commands of Step 5."; exit 1; }
subject() { openssl x509 -in "$1" -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p'; }
issuer() { openssl x509 -in "$1" -noout -issuer -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p'; }
bad=0
for pair in ca.pem:kubernetes-ca etcd.pem:etcd-ca; do
  file=${pair%%:*} name=${pair#*:}
  [ "$(subject "$file")" = "$name" ] || { echo "~/secrets/$file should be the intermediate CA $name (its CN is '$(subject "$file")')."; bad=1; }
  openssl x509 -in "$file" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE' || { echo "~/secrets/$file is not a CA (basicConstraints CA:TRUE, from intermediate.cnf)."; bad=1; }
  openssl verify -CAfile root-ca.pem "$file" >/dev/null 2>&1 || { echo "~/secrets/$file does not verify against root-ca.pem: sign it with the root CA."; bad=1; }
done
for file in etcd-tls.pem kube-apiserver-etcd-client.pem; do
  [ "$(issuer "$file")" = etcd-ca ] || { echo "~/secrets/$file should be issued by etcd-ca (etcd.pem), not by '$(issuer "$file")'."; bad=1; }
  openssl verify -CAfile root-ca.pem -untrusted etcd.pem "$file" >/dev/null 2>&1 || { echo "~/secrets/$file does not verify through etcd-ca to the root CA."; bad=1; }
done
[ "$bad" = 0 ] || exit 1
[ "$(grep -c 'BEGIN CERTIFICATE' etcd-tls.pem)" -ge 2 ] || { echo "~/secrets/etcd-tls.pem holds etcd's certificate only: bundle etcd-ca after it (cat etcd-tls-leaf.pem etcd.pem > etcd-tls.pem), so clients that trust only the root can build the chain."; exit 1; }
san=$(openssl x509 -in etcd-tls.pem -noout -ext subjectAltName 2>/dev/null | tail -n +2)
grep -q 'IP Address:0:0:0:0:0:0:0:1' <<<"$san" && grep -q 'DNS:localhost' <<<"$san" || { echo "etcd-tls.pem's SAN lacks ::1 or localhost (it has:${san:- nothing}): etcd listens on [::1]."; exit 1; }
openssl x509 -in kube-apiserver-etcd-client.pem -noout -ext extendedKeyUsage 2>/dev/null | grep -q 'TLS Web Client Authentication' || { echo "kube-apiserver-etcd-client.pem is not for client authentication (extendedKeyUsage=clientAuth)."; exit 1; }
for pair in etcd-tls.pem:etcd-tls-key.pem kube-apiserver-etcd-client.pem:kube-apiserver-etcd-client-key.pem; do
  [ "$(openssl x509 -in "${pair%%:*}" -noout -pubkey)" = "$(openssl pkey -in "${pair#*:}" -pubout 2>/dev/null)" ] || { echo "~/secrets/${pair#*:} is not the key of ${pair%%:*}: make the request from that key and sign it again."; exit 1; }
done
wrong=""
for file in *.pem; do
  case $file in *key*.pem) want=400 ;; *) want=444 ;; esac
  [ "$(stat -c %a "$file")" = "$want" ] || wrong="$wrong $file ($(stat -c %a "$file"), not $want)"
done
[ -z "$wrong" ] || { echo "Modes to fix:$wrong. Certificates 444, keys 400: chmod 444 *.pem; chmod 400 *key*.pem (in ~/secrets, in that order)."; exit 1; }
echo "root CA → kubernetes-ca (ca.pem) and etcd-ca (etcd.pem) → etcd-tls.pem and kube-apiserver-etcd-client.pem: every link verifies."
echo "Certificates are 444 and keys 400."
