mkdir -p ~/secrets && cd ~/secrets
openssl ecparam -name prime256v1 -genkey -noout -out root-ca-key.pem
openssl req -x509 -new -key root-ca-key.pem -subj '/CN=k8s-nix-way root CA' -days 3650 -out root-ca.pem
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > intermediate.cnf
openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
openssl req -new -key ca-key.pem -subj '/CN=kubernetes-ca' -out ca.csr
openssl x509 -req -in ca.csr -CA root-ca.pem -CAkey root-ca-key.pem -CAcreateserial -days 1826 -extfile intermediate.cnf -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out etcd-key.pem
openssl req -new -key etcd-key.pem -subj '/CN=etcd-ca' -out etcd.csr
openssl x509 -req -in etcd.csr -CA root-ca.pem -CAkey root-ca-key.pem -CAcreateserial -days 1826 -extfile intermediate.cnf -out etcd.pem
openssl ecparam -name prime256v1 -genkey -noout -out etcd-tls-key.pem
openssl req -new -key etcd-tls-key.pem -subj '/CN=etcd' -out etcd-tls.csr
printf 'subjectAltName=DNS:localhost,IP:::1,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > etcd-tls.cnf
openssl x509 -req -in etcd-tls.csr -CA etcd.pem -CAkey etcd-key.pem -CAcreateserial -days 365 -extfile etcd-tls.cnf -out etcd-tls-leaf.pem
cat etcd-tls-leaf.pem etcd.pem > etcd-tls.pem
openssl ecparam -name prime256v1 -genkey -noout -out kube-apiserver-etcd-client-key.pem
openssl req -new -key kube-apiserver-etcd-client-key.pem -subj '/CN=kube-apiserver-etcd-client' -out kube-apiserver-etcd-client.csr
printf 'extendedKeyUsage=clientAuth\n' > client.cnf
openssl x509 -req -in kube-apiserver-etcd-client.csr -CA etcd.pem -CAkey etcd-key.pem -CAcreateserial -days 338 -extfile client.cnf -out kube-apiserver-etcd-client.pem
chmod 444 *.pem
chmod 400 *key*.pem
openssl verify -CAfile root-ca.pem -untrusted etcd.pem etcd-tls-leaf.pem kube-apiserver-etcd-client.pem
ls -l *.pem
cd ~
