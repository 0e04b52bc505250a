etcd --name part-1 --data-dir etcd-data \
  --listen-client-urls 'http://[::1]:2379' --advertise-client-urls 'http://[::1]:2379' \
  > etcd.log 2>&1 &
until etcdctl --endpoints 'http://[::1]:2379' endpoint health; do sleep 0.2; done
etcdctl --endpoints 'http://[::1]:2379' put /nix-way/part-1 'a rocky start'
etcdctl --endpoints 'http://[::1]:2379' get /nix-way/part-1
