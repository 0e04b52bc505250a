# Passes when ~/pki holds a CA, and an etcd server certificate it signed, whose SAN
# covers localhost and ::1 and whose key is etcd-key.pem.
# openssl's own errors (library codes) stay out of the messages: they say what is wrong in words.
cd "$HOME/pki" 2>/dev/null || { echo "No pki folder in your home (~/pki) yet: make it and the certificates as in Step 3 (mkdir -p ~/pki && cd ~/pki, then the openssl commands)."; exit 1; }
missing=""
for file in ca.pem etcd.pem etcd-key.pem; do
  [ -s "$file" ] || missing="$missing ~/pki/$file"
done
[ -z "$missing" ] || { echo "Missing:$missing. Make them with the openssl commands of Step 3, in ~/pki."; exit 1; }
for file in ca.pem etcd.pem; do
  openssl x509 -in "$file" -noout 2>/dev/null || { echo "~/pki/$file is not a PEM certificate: make it again with the openssl commands of Step 3."; exit 1; }
done
if ! openssl x509 -in ca.pem -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
  echo "~/pki/ca.pem is not a CA certificate (it needs basicConstraints CA:TRUE, which 'openssl req -x509' gives it)."
  exit 1
fi
if ! verified=$(openssl verify -CAfile ca.pem etcd.pem 2>&1); then
  reason=$(grep -m1 -o 'error [0-9]* at [0-9]* depth lookup: .*' <<<"$verified" | sed 's/^error [0-9]* at [0-9]* depth lookup: //')
  echo "~/pki/etcd.pem does not verify against ~/pki/ca.pem${reason:+: $reason}."
  echo "Was it signed by another CA? Sign it again with this one (the last openssl x509 -req command of Step 3)."
  exit 1
fi
echo "$verified"
san=$(openssl x509 -in etcd.pem -noout -ext subjectAltName 2>/dev/null | tail -n +2)
echo "subjectAltName:${san:- (none)}"
bad=0
grep -q 'DNS:localhost' <<<"$san" || { echo "The SAN lacks DNS:localhost."; bad=1; }
grep -q 'IP Address:0:0:0:0:0:0:0:1' <<<"$san" || { echo "The SAN lacks IP:::1 (etcd listens on [::1])."; bad=1; }
[ "$bad" = 0 ] || { echo "Write etcd-ext.cnf as in Step 3 and sign etcd.csr again with -extfile etcd-ext.cnf."; exit 1; }
if [ "$(openssl x509 -in etcd.pem -noout -pubkey)" != "$(openssl pkey -in etcd-key.pem -pubout 2>/dev/null)" ]; then
  echo "~/pki/etcd-key.pem is not the key of ~/pki/etcd.pem: make the request (etcd.csr) from etcd-key.pem and sign it again."
  exit 1
fi
echo "The chain verifies, the SAN is right and the key matches."
