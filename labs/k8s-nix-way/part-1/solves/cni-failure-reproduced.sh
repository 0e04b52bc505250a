ctr image pull docker.io/library/busybox:latest
ls -A /etc/cni/net.d
ctr run --cni docker.io/library/busybox:latest cni-test sleep 30
ctr container ls
