( set -a; . ~/etcd.env; exec etcd ) > ~/etcd-tls.log 2>&1 &
until ss -Hltn 'sport = :2379' | grep -q .; do sleep 0.2; done
etcdctl --endpoints 'https://[::1]:2379' --cacert ~/secrets/root-ca.pem --dial-timeout 2s --command-timeout 3s endpoint health
sleep 1 | openssl s_client -connect '[::1]:2379' -CAfile ~/secrets/root-ca.pem 2>&1 | grep -E 'alert|Verify return code'
