ss -Hltnp 'sport = :2379'
pids=$(ss -Hltnp 'sport = :2379' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
[ -z "$pids" ] || kill $pids
while ss -Hltn 'sport = :2379' | grep -q .; do sleep 0.2; done
