# Passes when etcd answers on https://[::1]:2379 to the kube-apiserver-etcd-client certificate,
# and /nix-way/part-2 holds a value written through it.
cd "$HOME/secrets" 2>/dev/null || { echo "There is no ~/secrets yet: Step 5 makes the certificates."; exit 1; }
tls=(--endpoints 'https://[::1]:2379' --cacert root-ca.pem --cert kube-apiserver-etcd-client.pem --key kube-apiserver-etcd-client-key.pem --dial-timeout 2s --command-timeout 3s)
if ! etcdctl "${tls[@]}" endpoint health >/dev/null 2>&1; then
  if ss -Hltn 'sport = :2379' 2>/dev/null | grep -q .; then
    echo "etcd on [::1]:2379 does not answer healthy to the client certificate kube-apiserver-etcd-client.pem."
    echo "Is it the etcd started from ~/etcd.env (Step 6), with the certificates of Step 5? Its log: tail ~/etcd-tls.log"
  else
    echo "Nothing listens on port 2379: start etcd from ~/etcd.env as in Step 6."
  fi
  exit 1
fi
echo "With the client certificate, etcd answers healthy on https://[::1]:2379."
value=$(etcdctl "${tls[@]}" get /nix-way/part-2 --print-value-only 2>/dev/null)
if [ -z "$value" ]; then
  echo "The key /nix-way/part-2 has no value yet: write it with etcdctl put as in Step 7 (with --cacert, --cert and --key)."
  exit 1
fi
echo "/nix-way/part-2 = $value"
