# services.nix-way-labs: the lab server of Nix Way Labs as a NixOS service.
# The package defaults to package.nix built with the system's nixpkgs
# (nodejs_24 and importNpmLock are needed); `settings` becomes the JSON file
# the server reads with `--config` (the names of server/config.ts).
{ config, lib, pkgs, ... }:
let
  cfg = config.services.nix-way-labs;
  settingsFormat = pkgs.formats.json { };
  tools = import ./lab-tools.nix pkgs;
  app = "${cfg.package}/lib/nix-way-labs";

  # Options left unset (null) are left to the server's defaults, not written
  # as JSON null (which its schema refuses).
  withoutNulls = lib.filterAttrsRecursive (_: value: value != null);
  configFile = settingsFormat.generate "nix-way-labs.json" (withoutNulls cfg.settings);

  isLoopback = host: host == "localhost" || host == "::1" || lib.hasPrefix "127." host;

  # Hand out a reader's link with the service's own readers file and URL.
  invite = pkgs.writeShellScriptBin "nix-way-labs-invite" ''
    if [ $# -ne 1 ]; then echo "usage: nix-way-labs-invite NAME" >&2; exit 2; fi
    exec ${lib.getExe cfg.package} invite "$1" --data-dir ${lib.escapeShellArg cfg.settings.dataDir} \
      ${lib.optionalString (cfg.settings.readersFile != null) "--readers-file ${lib.escapeShellArg cfg.settings.readersFile}"} \
      ${lib.optionalString (cfg.settings.publicUrl != null) "--public-url ${lib.escapeShellArg cfg.settings.publicUrl}"} \
      --port ${toString cfg.settings.port}
  '';

  nullOr = type: description: lib.mkOption { type = lib.types.nullOr type; default = null; inherit description; };
in
{
  options.services.nix-way-labs = {
    enable = lib.mkEnableOption "the Nix Way Labs lab server (the site, its terminals and the labs' checks)";

    package = lib.mkPackageOption pkgs "nix-way-labs" { } // {
      default = pkgs.nix-way-labs or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression "pkgs.nix-way-labs or (pkgs.callPackage ./package.nix { })";
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open `settings.port` in the firewall. Only with TLS in front or on a VM of your own: an access link is the key to a root shell.";
    };

    labPackages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = tools.server ++ tools.labs;
      defaultText = lib.literalExpression "(import ./lab-tools.nix pkgs).server ++ (import ./lab-tools.nix pkgs).labs";
      description = "Programs on the service's PATH: the server's (containerd, runc, util-linux, …) and the labs' (etcd, openssl, …). They are also added to environment.systemPackages: readers' terminals run a login shell (`bash -l`), whose /etc/profile sets PATH afresh from the system profile, so the unit's PATH alone would not reach them.";
    };

    settings = lib.mkOption {
      default = { };
      description = ''
        The server's configuration, written to a JSON file given to `--config`.
        Names and meanings are those of `server/config.ts` (the options table of
        the self-hosting page); any of them can be set here, typed or not.
      '';
      type = lib.types.submodule {
        freeformType = settingsFormat.type;
        options = {
          host = lib.mkOption { type = lib.types.str; default = "127.0.0.1"; description = "Address to listen on. Beyond loopback the server needs a token file or invited readers, and TLS in front."; };
          port = lib.mkOption { type = lib.types.port; default = 4321; description = "Port to listen on."; };
          driver = lib.mkOption {
            type = lib.types.enum [ "auto" "sandbox" "host-namespaces" "host" ];
            default = "auto";
            description = "How a reader's environment is made: `sandbox` (root inside a user namespace of its own), `host-namespaces` (private mounts and network on the host: a reader is root on the machine), `host` (a plain shell); `auto`: sandbox where the kernel allows it.";
          };
          containerd = lib.mkOption {
            type = lib.types.enum [ "auto" "embedded" "system" ];
            default = "auto";
            description = "Which containerd the labs use; `system` also enables `virtualisation.containerd`.";
          };
          dataDir = lib.mkOption { type = lib.types.str; default = "/var/lib/nix-way-labs"; description = "State of environments, images and embedded services. The default is the unit's StateDirectory."; };
          siteDir = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = "${app}/dist";
            defaultText = lib.literalExpression ''"''${cfg.package}/lib/nix-way-labs/dist"'';
            description = "Built site served on the same origin; null serves only the API.";
          };
          labsDir = lib.mkOption {
            type = lib.types.str;
            default = "${app}/labs";
            defaultText = lib.literalExpression ''"''${cfg.package}/lib/nix-way-labs/labs"'';
            description = "Lab definitions.";
          };
          shell = lib.mkOption {
            type = lib.types.str;
            default = "${pkgs.bashInteractive}/bin/bash";
            defaultText = lib.literalExpression ''"''${pkgs.bashInteractive}/bin/bash"'';
            description = "Login shell of each terminal (NixOS has no /bin/bash).";
          };
          cniPluginDir = lib.mkOption {
            type = lib.types.str;
            default = "${pkgs.cni-plugins}/bin";
            defaultText = lib.literalExpression ''"''${pkgs.cni-plugins}/bin"'';
            description = "Folder of the CNI plugins (`ctr run --cni` finds them there through a bind mount in each host-namespaces environment; the sandbox driver uses the host's /usr/lib/cni).";
          };
          registry = lib.mkOption {
            type = lib.types.str;
            default = lib.getExe' tools.distribution "registry";
            defaultText = lib.literalExpression ''"''${pkgs.distribution}/bin/registry"'';
            description = "The container registry program that serves the labs' images offline (nixpkgs' distribution; Debian calls it docker-registry).";
          };
          busybox = lib.mkOption {
            type = lib.types.str;
            default = "${tools.busybox}/bin/busybox";
            defaultText = lib.literalExpression ''"''${pkgs.pkgsStatic.busybox}/bin/busybox"'';
            description = "A statically linked busybox: the labs' images are built from it.";
          };
          tokenFile = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = "/var/lib/nix-way-labs/operator-token";
            description = "The operator's access token, made when missing; the link is the server's address with `#token=` and this file's content.";
          };
          readersFile = nullOr lib.types.str "Workshop readers, `NAME TOKEN` a line (`nix-way-labs-invite NAME` adds one); null: `<dataDir>/readers`.";
          publicUrl = nullOr lib.types.str "The URL readers open behind a reverse proxy with TLS, e.g. `https://labs.example.org/`.";
          allowOrigins = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; description = "Origins of pages elsewhere (a static deploy of the site) that may use this server."; };
          allowHosts = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; description = "Host names requests may name besides loopback, the listen address and the public URL's host."; };
          limits = lib.mkOption {
            default = { };
            description = "Per-server and per-reader limits (`limits.*` of server/config.ts); unset ones keep the server's defaults.";
            type = lib.types.submodule {
              freeformType = settingsFormat.type;
              options = {
                maxEnvironments = nullOr lib.types.ints.positive "Lab environments held at once on the server.";
                maxEnvironmentsPerReader = nullOr lib.types.ints.positive "Lab environments one reader holds at once.";
                maxSessionsPerReader = nullOr lib.types.ints.positive "Terminal sessions one reader holds at once.";
                graceMs = nullOr lib.types.ints.positive "How long a session outlives its dropped connection, in ms.";
              };
            };
          };
        };
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        # The settings file is in the Nix store, readable by every user of the
        # machine: a token there would hand out the operator's root shells.
        assertion = !(cfg.settings ? token);
        message = "services.nix-way-labs: settings.token would put the operator's token (the key to a root shell) in the world-readable Nix store; use settings.tokenFile, a file outside the store.";
      }
      {
        assertion = isLoopback cfg.settings.host || cfg.settings.tokenFile != null || cfg.settings.readersFile != null;
        message = "services.nix-way-labs: listening on ${cfg.settings.host} (beyond loopback) needs settings.tokenFile or settings.readersFile; the server refuses to start without one.";
      }
    ];

    # labPackages too: a reader's terminal is a login shell, and NixOS's
    # /etc/profile sets its PATH from the system profile (not the unit's PATH).
    environment.systemPackages = [ invite ] ++ cfg.labPackages;

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.settings.port ];

    virtualisation.containerd.enable = lib.mkIf (cfg.settings.containerd == "system") true;

    # /etc/cni/net.d: the mount point of each environment's own CNI configs.
    # The server makes it when missing, which it cannot under
    # ProtectSystem=full (/etc is read-only to the unit), so it is made here.
    # /opt/cni/bin: where `ctr run --cni` looks (besides /usr/lib/cni); each
    # environment binds cniPluginDir over it in its own mount namespace. /opt
    # stays writable under ProtectSystem=full and the environment's holder
    # makes the folder itself when neither exists, but it ignores a failure
    # there (ctr then finds no plugins); made here, it is there from boot.
    systemd.tmpfiles.rules = [ "d /etc/cni/net.d 0755 root root -" "d /opt/cni/bin 0755 root root -" ];

    systemd.services.nix-way-labs = {
      description = "Nix Way Labs lab server";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ] ++ lib.optional (cfg.settings.containerd == "system") "containerd.service";
      requires = lib.optional (cfg.settings.containerd == "system") "containerd.service";
      path = cfg.labPackages;
      restartTriggers = [ configFile ];

      serviceConfig = {
        ExecStart = "${lib.getExe cfg.package} --config ${configFile}";
        Restart = "on-failure";
        # Root, not DynamicUser: the server writes uid/gid maps for ranges of
        # ids it does not own (sandbox), makes mounts and cgroups, and runs
        # containerd and runc for the labs.
        User = "root";
        StateDirectory = "nix-way-labs";
        StateDirectoryMode = "0700";
        # /run/nix-way-labs: the sandbox's machine-wide uid slots.
        RuntimeDirectory = "nix-way-labs";
        RuntimeDirectoryPreserve = "restart";
        # cgroup v2: the server moves itself into a `server` leaf of its own
        # cgroup and makes one cgroup per environment below (memory, pids, cpu).
        Delegate = "yes";
        # Each environment has its own pids.max; the unit's default (15 % of
        # the machine's) would cap a workshop instead.
        TasksMax = "infinity";
        LimitNOFILE = 1048576;

        # What the labs need, and nothing else where it can be said:
        # CAP_SYS_ADMIN mounts, namespaces, pivot_root, setns; SETUID/SETGID
        # and SETFCAP write uid/gid maps (uid 0 of a new namespace needs
        # SETFCAP since Linux 5.12); SYS_PTRACE opens namespaces of processes
        # running as other uids (enter.sh); SYS_CHROOT nsenter --root;
        # NET_ADMIN links and addresses in environments' network namespaces;
        # the rest is the default set runc gives containers (CHOWN …
        # AUDIT_WRITE; it cannot give what it does not have). Not given:
        # DAC_READ_SEARCH (DAC_OVERRIDE already lets root read and search
        # anything; it would add only open_by_handle_at, which nothing here
        # calls) and SYS_RESOURCE (nothing the server or the labs run under
        # this unit lowers oom_score_adj or raises a hard rlimit; systemd sets
        # LimitNOFILE itself, and Part 3's kubelet is a unit of its own).
        CapabilityBoundingSet = [
          "CAP_SYS_ADMIN" "CAP_SETUID" "CAP_SETGID" "CAP_SETFCAP" "CAP_SETPCAP" "CAP_SYS_PTRACE"
          "CAP_SYS_CHROOT" "CAP_NET_ADMIN" "CAP_NET_RAW" "CAP_NET_BIND_SERVICE" "CAP_CHOWN"
          "CAP_DAC_OVERRIDE" "CAP_FOWNER" "CAP_FSETID" "CAP_KILL" "CAP_MKNOD"
          "CAP_AUDIT_WRITE"
        ];

        # Hardening that still fits.
        # /usr, /boot, /etc read-only. Environments bind their own files over
        # /etc/hosts, the CA bundle and /etc/cni/net.d (mounts, not writes).
        ProtectSystem = "full";
        ProtectHome = true; # readers' homes live under dataDir
        PrivateTmp = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        RestrictRealtime = true;
        LockPersonality = true;
        SystemCallArchitectures = "native";
        # Netlink for ip and the CNI plugins; the labs' programs inherit this.
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
        # V8 compiles JavaScript to machine code at run time.
        MemoryDenyWriteExecute = false;

        # Hardening that cannot fit, and why:
        # PrivateUsers: the service would be root of a namespace mapping only
        #   itself, and could not map the sandbox's uid ranges (base + slot × 65,536).
        # RestrictNamespaces: every environment makes user, mount, pid, net,
        #   ipc, uts and cgroup namespaces, and runc makes more.
        # NoNewPrivileges: inherited by every reader's shell and container;
        #   setuid programs of the labs (su, containers' own) would stop working.
        # ProtectKernelTunables: containerd, runc and the CNI plugins write
        #   /proc/sys of their network namespaces; /proc/sys/user is read.
        # ProtectControlGroups: cgroups are made and limited under the
        #   delegated subtree (a read-only /sys/fs/cgroup forbids that).
        # PrivateDevices: removes CAP_MKNOD and closes /dev to runc's devices
        #   and the environments' ptys. DevicePolicy/DeviceAllow and
        #   ProtectClock (which implies a device allow-list) likewise.
        # ProtectHostname: forbids sethostname, which each environment calls
        #   in its own UTS namespace.
        # ProtectProc/ProcSubset: a fresh proc in a user namespace needs a
        #   fully visible proc mount above it.
        # RestrictSUIDSGID: container images carry setuid files (unpacking fails).
        # SystemCallFilter: mount, pivot_root, setns, unshare, keyctl, bpf
        #   (runc) … an allow-list wide enough would filter little.
        # PrivateNetwork: readers reach the server's port, and embedded
        #   containerd needs the host's network namespace to make the labs'.
      };
    };
  };
}
