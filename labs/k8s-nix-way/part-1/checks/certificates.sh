# Passes when ~/pki holds a CA, and an etcd server certificate it signed, whose SAN
# covers localhost and ::1 and whose key is etcd-key.pem.
cd "$HOME/pki" 2>/dev/null || { echo "No pki folder in your home ($HOME) yet."; exit 1; }
missing=0
for file in ca.pem etcd.pem etcd-key.pem; do
  [ -s "$file" ] || { echo "pki/$file is missing."; missing=1; }
done
[ "$missing" = 0 ] || exit 1
if ! openssl x509 -in ca.pem -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
  echo "pki/ca.pem is not a CA certificate (it needs basicConstraints CA:TRUE)."
  exit 1
fi
openssl verify -CAfile ca.pem etcd.pem || { echo "pki/etcd.pem does not verify against pki/ca.pem."; exit 1; }
san=$(openssl x509 -in etcd.pem -noout -ext subjectAltName 2>/dev/null | tail -n +2)
echo "subjectAltName:$san"
bad=0
grep -q 'DNS:localhost' <<<"$san" || { echo "The SAN lacks DNS:localhost."; bad=1; }
grep -q 'IP Address:0:0:0:0:0:0:0:1' <<<"$san" || { echo "The SAN lacks IP:::1 (etcd listens on [::1])."; bad=1; }
[ "$bad" = 0 ] || exit 1
if [ "$(openssl x509 -in etcd.pem -noout -pubkey)" != "$(openssl pkey -in etcd-key.pem -pubout 2>/dev/null)" ]; then
  echo "pki/etcd-key.pem is not the key of pki/etcd.pem."
  exit 1
fi
echo "The chain verifies, the SAN is right and the key matches."
