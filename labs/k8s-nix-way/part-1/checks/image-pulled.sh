# Passes when the series' image is in the reader's containerd namespace.
image=docker.io/library/alpine:latest
if ! ctr images ls -q | grep -qx "$image"; then
  echo "$image is not in your images:"
  ctr images ls
  exit 1
fi
ctr images check "name==$image"
