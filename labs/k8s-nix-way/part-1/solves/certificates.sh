mkdir -p ~/pki && cd ~/pki
openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
openssl req -x509 -new -key ca-key.pem -subj '/CN=k8s-nix-way CA' -days 365 -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out etcd-key.pem
openssl req -new -key etcd-key.pem -subj '/CN=etcd' -out etcd.csr
printf 'subjectAltName=DNS:localhost,IP:::1,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > etcd-ext.cnf
openssl x509 -req -in etcd.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 -extfile etcd-ext.cnf -out etcd.pem
openssl verify -CAfile ca.pem etcd.pem
openssl x509 -in etcd.pem -noout -ext subjectAltName
# The next step runs from the home folder again, as the page says.
cd ~
