# Passes when the reader's namespace (used, so it exists) holds no image.
if ! ctr namespaces ls -q | grep -qx "${CONTAINERD_NAMESPACE:-default}"; then
  echo "containerd has nothing of yours yet: there is no image to remove before the lifecycle above (pull, create, start, kill)."
  exit 1
fi
images=$(ctr images ls -q)
if [ -n "$images" ]; then
  echo "Images left: $(tr '\n' ' ' <<<"$images" | sed 's/ $//')."
  echo "containerd 1.6 has no ctr images prune --all (that came in 1.7); this removes them all:"
  echo "  ctr images rm \$(ctr images ls -q)"
  exit 1
fi
ctr images ls
