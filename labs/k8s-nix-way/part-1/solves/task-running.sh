ctr task start -d test
ctr task ls
