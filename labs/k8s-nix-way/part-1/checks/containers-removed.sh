# Passes when the reader's namespace (used, so it exists) holds no container and no task.
ctr namespaces ls -q | grep -qx "${CONTAINERD_NAMESPACE:-default}" || { echo "Your containerd namespace was never used."; exit 1; }
containers=$(ctr containers ls -q)
if [ -n "$containers" ]; then
  echo "Containers left: $(tr '\n' ' ' <<<"$containers")"
  exit 1
fi
ctr containers ls
