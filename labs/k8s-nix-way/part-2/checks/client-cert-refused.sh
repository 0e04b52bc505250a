# Passes when etcd runs from ~/etcd.env (TLS, client certificates required) on [::1]:2379
# and has already refused a client that came without a certificate (its log, ~/etcd-tls.log, says so).
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
if ! grep -qa 'rejected connection' etcd-tls.log 2>/dev/null; then
  if grep -qa 'serving client requests on .*2379' etcd-tls.log 2>/dev/null; then
    echo "etcd runs, but nobody has knocked without a certificate yet (~/etcd-tls.log shows no rejected connection)."
    echo "Try it as in Step 6: etcdctl --endpoints 'https://[::1]:2379' --cacert ~/secrets/root-ca.pem --dial-timeout 2s --command-timeout 3s endpoint health"
  else
    echo "Something listens on [::1]:2379, but ~/etcd-tls.log is not the log of an etcd serving it."
    echo "Start etcd as in Step 6, its output in ~/etcd-tls.log (stop the other one first)."
  fi
  exit 1
fi
reason=$(grep -a 'rejected connection' etcd-tls.log | tail -n 1 | grep -o 'error "[^"]*"' | sed 's/^error //')
echo "etcd refused a client without a certificate; its log says: ${reason:-rejected connection}."
if grep -qa 'serving insecure client requests' etcd-tls.log; then
  echo "But this etcd also serves plain http: it does not run from ~/etcd.env."
  exit 1
fi
