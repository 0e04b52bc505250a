# The lab VM: NixOS with the lab server on, the site, the labs and the tools
# of all five parts. A reader boots it with
#   nixos-rebuild build-vm --flake .#lab-vm && ./result/bin/run-lab-vm-vm
# (or `nix run .#lab-vm`) and opens http://127.0.0.1:4321/ on their machine
# with the link the VM's console prints.
{ config, lib, pkgs, ... }:
let
  tools = import ./lab-tools.nix pkgs;
  cfg = config.services.nix-way-labs;
  port = cfg.settings.port;
in
{
  system.stateVersion = "25.05";
  networking.hostName = "lab-vm";

  services.nix-way-labs = {
    enable = true;
    openFirewall = true;
    settings = {
      # QEMU's port forward reaches the guest's own address, not its loopback.
      host = "0.0.0.0";
      # The reader is alone on a VM of their own: root on the VM is what the
      # series does anyway, and host-namespaces sees /nix/store (the sandbox's
      # root tree is made from /usr and /bin, which NixOS barely has).
      driver = "host-namespaces";
      tokenFile = "/var/lib/nix-way-labs/operator-token";
    };
  };

  # The series' own tools on the console too (Parts 0–4: etcd, containerd,
  # the PKI, kubelet and kube-apiserver from `kubernetes`).
  environment.systemPackages = tools.server ++ tools.labs ++ [ tools.busybox ];
  boot.kernelModules = [ "overlay" "br_netfilter" ];

  # The console logs in as root and shows the reader's link.
  services.getty.autologinUser = "root";
  # On the VM's console only (not in the readers' terminals, which also run
  # an interactive bash). The server makes the token file when it first
  # starts: wait for it a little.
  environment.interactiveShellInit = ''
    if [ "$(id -u)" = 0 ] && case "$(tty)" in /dev/tty[0-9]* | /dev/ttyS[0-9]* | /dev/hvc[0-9]*) true ;; *) false ;; esac; then
      for _ in $(seq 30); do [ -s ${cfg.settings.tokenFile} ] && break; sleep 1; done
      if [ -s ${cfg.settings.tokenFile} ]; then
        echo "Nix Way Labs: open http://127.0.0.1:${toString port}/#token=$(cat ${cfg.settings.tokenFile}) on your machine"
      else
        echo "Nix Way Labs: the lab server has not started yet; see journalctl -u nix-way-labs"
      fi
    fi
  '';

  # Only under `build-vm` / `nix run .#lab-vm`: resources, and the server's
  # port on the host's loopback (not its network).
  virtualisation.vmVariant.virtualisation = {
    memorySize = 4096;
    cores = 2;
    diskSize = 8192;
    forwardPorts = [{ from = "host"; host.address = "127.0.0.1"; host.port = port; guest.port = port; }];
  };
}
