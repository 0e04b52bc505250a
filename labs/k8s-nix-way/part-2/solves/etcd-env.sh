nix --offline eval --raw -f ~/nixos-lite/etcd-env.nix > ~/etcd.env
cat ~/etcd.env
