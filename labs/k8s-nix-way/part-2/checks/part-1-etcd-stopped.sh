# Passes when nothing listens on port 2379: Part 1's plain-http etcd is stopped,
# so the TLS etcd of this part can take the port.
listening=$(ss -Hltnp 'sport = :2379' 2>/dev/null)
if [ -n "$listening" ]; then
  addresses=$(awk '{ print $4 }' <<<"$listening" | sort -u | tr '\n' ' ')
  pids=$(grep -o 'pid=[0-9]*' <<<"$listening" | cut -d= -f2 | sort -u | tr '\n' ' ')
  echo "Something still listens on port 2379 (${addresses% }): Part 1's etcd, most likely."
  echo "Stop it: kill ${pids% }"
  exit 1
fi
echo "Nothing listens on port 2379: the port is free for this part's etcd."
