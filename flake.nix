{
  description = "Nix Way Labs: Kubernetes the Nix Way as a site with runnable labs";

  # nodejs_24 and importNpmLock (with its npmConfigHook) are needed.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forEachSystem = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # The module builds its package with the system's nixpkgs; here it is this flake's.
      withThisPackage = { pkgs, ... }: {
        services.nix-way-labs.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };
    in
    {
      packages = forEachSystem (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      });

      # `nix run`: the server for one reader on this machine (see nix/reader.nix).
      apps = forEachSystem (pkgs: {
        default = {
          type = "app";
          program = lib.getExe (pkgs.callPackage ./nix/reader.nix { nix-way-labs = self.packages.${pkgs.stdenv.hostPlatform.system}.default; });
        };
      } // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == "x86_64-linux") {
        # `nix run .#lab-vm`: boots the lab VM in QEMU.
        lab-vm = {
          type = "app";
          program = "${self.nixosConfigurations.lab-vm.config.system.build.vm}/bin/run-lab-vm-vm";
        };
      });

      nixosModules.default = {
        imports = [ ./nix/module.nix withThisPackage ];
      };

      nixosConfigurations.lab-vm = lib.nixosSystem {
        modules = [ self.nixosModules.default ./nix/lab-vm.nix { nixpkgs.hostPlatform = "x86_64-linux"; } ];
      };

      checks = forEachSystem (pkgs: {
        vm-test = pkgs.callPackage ./nix/vm-test.nix {
          nixosModule = self.nixosModules.default;
          nix-way-labs = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      });

      devShells = forEachSystem (pkgs: {
        # Node 24, node-pty's compiler, Chromium and the lab tools, from nixpkgs.
        # `npm start` and `npm test` run scripts/setup.sh first, which looks
        # for Debian's paths (/usr/lib/cni, /bin/busybox) and stops where they
        # are missing: here, run `npm run build`, `npm run serve` and
        # `npx vitest run` instead (see the self-hosting page).
        default = pkgs.mkShell {
          packages = with pkgs; [ nodejs_24 python3 gnumake gcc chromium ]
            ++ (import ./nix/lab-tools.nix pkgs).server
            ++ (import ./nix/lab-tools.nix pkgs).labs
            ++ [ (import ./nix/lab-tools.nix pkgs).busybox ];
          # The browser tests' Chromium (tests/e2e/harness.ts; default /usr/bin/chromium).
          NWL_CHROMIUM = lib.getExe pkgs.chromium;
        };
      });
    };
}
