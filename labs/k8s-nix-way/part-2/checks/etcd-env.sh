# Passes when ~/etcd.env holds the etcd unit's environment as Nix renders it now from ~/machine.nix.
cd "$HOME"
[ -s etcd.env ] || { echo "There is no ~/etcd.env yet: render it with nix eval as in Step 4."; exit 1; }
if ! rendered=$(nix --offline eval --raw -f nixos-lite/etcd-env.nix 2>/dev/null); then
  rendered=$(nix --offline eval --raw -f nixos-lite/etcd-env.nix 2>&1)
  echo "Rendering etcd's environment fails:"
  grep -m1 '^error' <<<"$rendered" | sed "s|$HOME|~|g"
  exit 1
fi
if [ "$rendered" != "$(cat etcd.env)" ]; then
  echo "~/etcd.env is not what ~/machine.nix gives now (it changed since, or the file was edited). Render it again:"
  echo "  nix --offline eval --raw -f ~/nixos-lite/etcd-env.nix > ~/etcd.env"
  exit 1
fi
for line in "ETCD_CLIENT_CERT_AUTH='1'" "ETCD_LISTEN_CLIENT_URLS='https://[::1]:2379'"; do
  grep -qxF "$line" etcd.env || { echo "~/etcd.env lacks $line: Step 3's settings are not all in ~/k8s/etcd.nix."; exit 1; }
done
echo "~/etcd.env is etcd's environment as Nix renders it from ~/machine.nix ($(grep -c . etcd.env) variables), among them:"
grep -E '^ETCD_(CLIENT_CERT_AUTH|LISTEN_CLIENT_URLS)=' etcd.env
