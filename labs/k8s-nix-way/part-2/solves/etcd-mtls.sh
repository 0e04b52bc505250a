cd ~/secrets
etcdctl --endpoints 'https://[::1]:2379' --cacert root-ca.pem --cert kube-apiserver-etcd-client.pem --key kube-apiserver-etcd-client-key.pem endpoint health
etcdctl --endpoints 'https://[::1]:2379' --cacert root-ca.pem --cert kube-apiserver-etcd-client.pem --key kube-apiserver-etcd-client-key.pem put /nix-way/part-2 'modules and certificates'
etcdctl --endpoints 'https://[::1]:2379' --cacert root-ca.pem --cert kube-apiserver-etcd-client.pem --key kube-apiserver-etcd-client-key.pem get /nix-way/part-2
openssl s_client -connect '[::1]:2379' -CAfile root-ca.pem -cert kube-apiserver-etcd-client.pem -key kube-apiserver-etcd-client-key.pem </dev/null 2>&1 | grep -E 'Verify return code|alert|^subject=|^issuer='
cd ~
