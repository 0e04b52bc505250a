ctr container create docker.io/library/alpine:latest test sleep 2000
ctr container ls
