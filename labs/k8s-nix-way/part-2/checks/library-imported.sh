# Passes when ~/k8s/lib.nix is the author's library (an attribute set holding mkConfig),
# which a plain import gives to whoever imports it: evaluated here by Nix itself.
cd "$HOME"
[ -f k8s/lib.nix ] || { echo "There is no ~/k8s/lib.nix (Part 1 made it): write it as in Step 2."; exit 1; }
if ! result=$(nix-instantiate --eval -E 'let k8l = import ./k8s/lib.nix; in k8l.mkConfig { foo = "bar"; }' 2>&1); then
  echo "Nix could not use ~/k8s/lib.nix as a library:"
  grep -m1 '^error' <<<"$result" | sed "s|$HOME|~|g"
  echo "It should be an attribute set with mkConfig = config: builtins.toJSON config; (Step 2)."
  exit 1
fi
if [ "$result" != '"{\"foo\":\"bar\"}"' ]; then
  echo "k8l.mkConfig { foo = \"bar\"; } gives ${result//$HOME/\~}, not the JSON text of its argument."
  echo "mkConfig should be config: builtins.toJSON config (Step 2)."
  exit 1
fi
echo "Imported with a plain import, k8l.mkConfig { foo = \"bar\"; } gives $result: the JSON text, as a Nix string."
