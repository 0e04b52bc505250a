ctr task kill -s SIGKILL test
sleep 0.5
ctr task ls
