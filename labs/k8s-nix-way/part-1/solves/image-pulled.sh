ctr image pull docker.io/library/alpine:latest
