ctr container rm $(ctr container ls --quiet)
ctr container ls
