ctr task kill -s SIGKILL test
ctr task ls
