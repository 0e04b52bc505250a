# Passes when etcd answers healthy on [::1]:2379 and /nix-way/part-1 holds a value.
# etcdctl's own errors (gRPC retry logs in JSON) stay out of the message: the
# reader gets what is wrong in words, found from what listens on the port.
endpoint='http://[::1]:2379'
if ! etcdctl --endpoints "$endpoint" --dial-timeout 1s --command-timeout 2s endpoint health >/dev/null 2>&1; then
  listening=$(ss -Hltn 'sport = :2379' 2>/dev/null | awk '{ print $4 }' | tr '\n' ' ')
  if [ -z "$listening" ]; then
    echo "No etcd answers on $endpoint: nothing listens on port 2379."
    # etcd 3.4 logs errors as lines with " C | " (fatal) or " E | " (capnslog, its default format).
    fatal=$(grep -a ' C | ' "$HOME/etcd.log" 2>/dev/null | tail -n 1)
    [ -n "$fatal" ] || fatal=$(grep -a -m1 ' E | ' "$HOME/etcd.log" 2>/dev/null)
    fatal=$(sed -e 's/^.* [CE] | //' -e "s|$HOME|~|g" <<<"$fatal")
    [ -n "$fatal" ] && echo "~/etcd.log says etcd stopped: $fatal"
    echo "Start etcd as in Step 2 (the command ending in '> ~/etcd.log 2>&1 &'), wait until 'endpoint health' says healthy, then check again."
  elif ! grep -qF '[::1]:2379' <<<"$listening"; then
    echo "etcd listens on ${listening% }, not on [::1]:2379, where this step talks to it."
    # The pid as ss sees it in the reader's own network namespace: their etcd, nobody else's.
    pid=$(ss -Hltnp 'sport = :2379' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    echo "Stop it${pid:+ (kill $pid)}, then start it again with --listen-client-urls 'http://[::1]:2379' as in Step 2."
  else
    echo "Something listens on [::1]:2379 but does not answer as a healthy etcd yet: it may still be starting."
    echo "Check again in a few seconds; if it stays so, read the end of its log: tail ~/etcd.log"
  fi
  exit 1
fi
echo "etcd answers healthy on $endpoint."
if ! value=$(etcdctl --endpoints "$endpoint" --command-timeout 3s get /nix-way/part-1 --print-value-only 2>/dev/null); then
  echo "etcd is healthy, but reading /nix-way/part-1 failed: check again in a moment."
  exit 1
fi
if [ -z "$value" ]; then
  echo "The key /nix-way/part-1 has no value yet: write it with etcdctl --endpoints '$endpoint' put /nix-way/part-1 'a rocky start'"
  exit 1
fi
echo "/nix-way/part-1 = $value"
