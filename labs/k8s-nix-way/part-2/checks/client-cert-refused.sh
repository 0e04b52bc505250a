# Passes when the etcd listening now on [::1]:2379 speaks TLS with a certificate from the lab's root CA
# (~/secrets/root-ca.pem) that names the address ::1 (as etcdctl will verify), and refuses a client that comes without a certificate: the check knocks itself.
cd "$HOME"
listening=$(ss -Hltn 'sport = :2379' 2>/dev/null | awk '{ print $4 }' | tr '\n' ' ')
if [ -z "$listening" ]; then
  echo "Nothing listens on port 2379: start etcd with the environment Nix rendered, as in Step 6:"
  echo "  ( set -a; . ~/etcd.env; exec etcd ) > ~/etcd-tls.log 2>&1 &"
  fatal=$(grep -a -E ' (C|E) \| ' etcd-tls.log 2>/dev/null | tail -n 1 | sed -e 's/^.* [CE] | //' -e "s|$HOME|~|g")
  [ -n "$fatal" ] && echo "~/etcd-tls.log says: $fatal"
  exit 1
fi
if ! grep -qF '[::1]:2379' <<<"$listening"; then
  echo "Port 2379 is taken on ${listening% }, not [::1]: is it Part 1's etcd? Step 1 stops it."
  exit 1
fi
if [ ! -r secrets/root-ca.pem ]; then
  echo "There is no ~/secrets/root-ca.pem: Step 5 makes the certificates."
  exit 1
fi
# Knock without a certificate, as a client that has none would.
knock=$(sleep 1 | timeout 8 openssl s_client -connect '[::1]:2379' -CAfile secrets/root-ca.pem -verify_ip ::1 2>&1)
if grep -q 'Verify return code: 64 ' <<<"$knock"; then
  echo "etcd on [::1]:2379 answers with a certificate that does not name the address ::1: etcdctl will refuse it."
  echo "The server certificate's subjectAltName needs IP:::1 (Step 5)."
  exit 1
fi
if ! grep -q 'Verify return code: 0 (ok)' <<<"$knock"; then
  echo "What listens on [::1]:2379 does not answer TLS with a certificate from ~/secrets/root-ca.pem."
  if grep -qiE 'wrong version number|packet length too long|record layer failure' <<<"$knock"; then
    echo "It speaks plain http: that is not the etcd of ~/etcd.env. Stop it and start etcd as in Step 6."
  else
    echo "Is it the etcd started from ~/etcd.env (Step 6), with the certificates of Step 5?"
  fi
  exit 1
fi
alert=$(grep -o -iE 'alert (certificate required|bad certificate|handshake failure|unknown ca)' <<<"$knock" | head -n 1)
if [ -z "$alert" ]; then
  echo "etcd on [::1]:2379 let in a client without a certificate: it does not require client certificates."
  echo "~/etcd.env should set ETCD_CLIENT_CERT_AUTH=true and ETCD_TRUSTED_CA_FILE (Step 6)."
  exit 1
fi
echo "etcd on [::1]:2379 speaks TLS with the lab's root CA and refused a client without a certificate (TLS $alert)."
