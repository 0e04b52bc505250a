ctr images rm $(ctr images ls -q)
ctr images ls
