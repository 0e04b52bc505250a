ctr container create docker.io/library/alpine:latest echo-test echo foo
ctr task start echo-test
