# Passes when the reader's namespace (used, so it exists) holds no container and no task.
if ! ctr namespaces ls -q | grep -qx "${CONTAINERD_NAMESPACE:-default}"; then
  echo "containerd has nothing of yours yet: there is nothing to remove before the lifecycle above (pull, create, start, kill)."
  exit 1
fi
containers=$(ctr containers ls -q)
if [ -n "$containers" ]; then
  echo "Containers left: $(tr '\n' ' ' <<<"$containers" | sed 's/ $//')."
  running=$(ctr tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED" && $3 != "CREATED" { print $1 }' | tr '\n' ' ')
  if [ -n "$running" ]; then
    echo "A container with a running task cannot be removed: kill those tasks first, then remove them all:"
    for id in $running; do echo "  ctr task rm -f $id"; done
  else
    echo "Remove them all (a stopped task goes with its container):"
  fi
  echo "  ctr container rm \$(ctr container ls --quiet)"
  exit 1
fi
ctr containers ls
