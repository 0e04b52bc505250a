# Passes when ~/k8s holds one file per component plus default.nix importing
# them, and git tracks every one of them (a flake ignores untracked files).
# Messages name paths as the reader sees them (~), never the host's.
cd "$HOME"
missing=""
for file in k8s/default.nix k8s/lib.nix k8s/etcd.nix k8s/containerd.nix; do
  [ -f "$file" ] || missing="$missing $file"
done
if [ -n "$missing" ]; then
  echo "Missing:$missing (in your home, ~)."
  echo "Make them as in Step 1: default.nix importing ./etcd.nix and ./containerd.nix, and a placeholder for each of the others."
  exit 1
fi
for imported in ./etcd.nix ./containerd.nix; do
  grep -qF "$imported" k8s/default.nix || { echo "~/k8s/default.nix does not import $imported: only default.nix of a folder is applied, so list it in its imports."; exit 1; }
done
# The repository is the reader's: in ~ (as the page does it) or ~/k8s itself; its index is what a
# flake sees. (A repository further up is not theirs: under some drivers ~ lies inside the server's folders.)
top=$(git -C k8s rev-parse --show-toplevel 2>/dev/null)
if [ "$top" != "$HOME" ] && [ "$top" != "$HOME/k8s" ] || ! untracked=$(git -C k8s ls-files --others --exclude-standard . 2>/dev/null); then
  echo "~/k8s is not in a git repository yet, so a flake would not see any of it."
  echo "Make one in your home and track the folder: cd ~ && git init -q . && git add k8s"
  exit 1
fi
if [ -n "$untracked" ]; then
  echo "git does not track these yet, so a flake would not see them:"
  sed 's/^/  ~\/k8s\//' <<<"$untracked"
  echo "Track them: cd ~ && git add k8s"
  exit 1
fi
echo "~/k8s has default.nix importing etcd.nix and containerd.nix, and git tracks them all."
