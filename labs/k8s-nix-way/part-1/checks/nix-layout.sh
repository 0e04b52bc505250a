# Passes when ~/k8s holds one file per component plus default.nix importing
# them, and git tracks every one of them (a flake ignores untracked files).
cd "$HOME"
missing=""
for file in k8s/default.nix k8s/lib.nix k8s/etcd.nix k8s/containerd.nix; do
  [ -f "$file" ] || missing="$missing $file"
done
if [ -n "$missing" ]; then
  echo "Missing:$missing"
  exit 1
fi
for imported in ./etcd.nix ./containerd.nix; do
  grep -qF "$imported" k8s/default.nix || { echo "k8s/default.nix does not import $imported: only default.nix of a folder is applied."; exit 1; }
done
untracked=$(git ls-files --others --exclude-standard k8s 2>&1) || { echo "$HOME is not a git repository yet (git init)."; exit 1; }
if [ -n "$untracked" ]; then
  echo "git does not track these yet, so a flake would not see them:"
  echo "$untracked"
  exit 1
fi
echo "k8s/ has default.nix importing etcd.nix and containerd.nix, and git tracks them all."
