# Passes when ~/machine.nix, evaluated with the lab's stand-in module system (~/nixos-lite),
# declares services.k8s.controller and secretsPath (in ~/k8s/default.nix), switches on etcd
# through them (~/k8s/etcd.nix) and gives etcd client-certificate TLS on https://[::1]:2379.
cd "$HOME"
for file in machine.nix k8s/default.nix k8s/etcd.nix; do
  [ -f "$file" ] || { echo "There is no ~/$file yet: write it as in Step 3."; exit 1; }
done
evaluate() { nix-instantiate --eval --strict --json "$@" nixos-lite/evaluate.nix 2>&1; }
if ! etcd=$(evaluate -A config.services.etcd); then
  echo "Evaluating ~/machine.nix fails:"
  grep -m1 '^error' <<<"$etcd" | sed "s|$HOME|~|g"
  exit 1
fi
bad=0
option() { nix-instantiate --eval --strict -A "options.services.k8s.$1.$2" nixos-lite/evaluate.nix 2>/dev/null; }
for name in controller secretsPath; do
  [ "$(option $name _type)" = '"option"' ] || { echo "No option services.k8s.$name is declared (options.services.k8s in ~/k8s/default.nix, made with lib.options.mkOption)."; bad=1; }
done
[ "$bad" = 1 ] || [ "$(option controller default)" = false ] || { echo "services.k8s.controller should default to false: only a machine that says so is a controller."; bad=1; }
[ "$bad" = 1 ] || [ "$(option secretsPath default)" = '"/var/lib/kubernetes/secrets"' ] || { echo "services.k8s.secretsPath should default to \"/var/lib/kubernetes/secrets\", as the author's does."; bad=1; }
[ "$bad" = 0 ] || exit 1
expect() { [ "$(nix-instantiate --eval --strict -A "config.services.etcd.$1" nixos-lite/evaluate.nix 2>/dev/null)" = "$2" ]; }
expect enable true \
  || { echo "services.etcd.enable is not true: ~/k8s/etcd.nix should set it to config.services.k8s.controller, and ~/machine.nix set services.k8s.controller = true."; bad=1; }
expect clientCertAuth true || { echo "services.etcd.clientCertAuth is not true (~/k8s/etcd.nix)."; bad=1; }
expect listenClientUrls '[ "https://[::1]:2379" ]' || { echo "services.etcd.listenClientUrls is not [ \"https://[::1]:2379\" ] (~/k8s/etcd.nix)."; bad=1; }
for pair in trustedCaFile:etcd.pem certFile:etcd-tls.pem keyFile:etcd-tls-key.pem; do
  expect "${pair%%:*}" "\"$HOME/secrets/${pair#*:}\"" \
    || { echo "services.etcd.${pair%%:*} is not \"\${config.services.k8s.secretsPath}/${pair#*:}\" with secretsPath set to your home's secrets folder (~/secrets, in ~/machine.nix)."; bad=1; }
done
[ "$bad" = 0 ] || exit 1
echo "~/machine.nix evaluates: services.k8s.controller = true switches etcd on, and etcd gets"
echo "clientCertAuth = true, https://[::1]:2379 and its files from services.k8s.secretsPath (~/secrets)."
