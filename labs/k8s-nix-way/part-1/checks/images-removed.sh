# Passes when the reader's namespace (used, so it exists) holds no image.
ctr namespaces ls -q | grep -qx "${CONTAINERD_NAMESPACE:-default}" || { echo "Your containerd namespace was never used."; exit 1; }
images=$(ctr images ls -q)
if [ -n "$images" ]; then
  echo "Images left: $(tr '\n' ' ' <<<"$images")"
  exit 1
fi
ctr images ls
