# Passes when etcd answers healthy on [::1]:2379 and /nix-way/part-1 holds a value.
endpoint='http://[::1]:2379'
if ! health=$(etcdctl --endpoints "$endpoint" --dial-timeout 1s --command-timeout 2s endpoint health 2>&1); then
  echo "No healthy etcd answers on $endpoint:"
  echo "$health"
  exit 1
fi
echo "$health"
value=$(etcdctl --endpoints "$endpoint" --command-timeout 3s get /nix-way/part-1 --print-value-only 2>&1) || { echo "$value"; exit 1; }
if [ -z "$value" ]; then
  echo "etcd is healthy, but the key /nix-way/part-1 has no value yet."
  exit 1
fi
echo "/nix-way/part-1 = $value"
