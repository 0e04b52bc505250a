# Passes when the series' image is in the reader's containerd namespace.
image=docker.io/library/alpine:latest
if ! ctr images ls -q | grep -qx "$image"; then
  have=$(ctr images ls -q | tr '\n' ' ' | sed 's/ $//')
  echo "$image is not in your images (you have: ${have:-none}). Pull it: ctr image pull $image"
  exit 1
fi
ctr images check "name==$image"
