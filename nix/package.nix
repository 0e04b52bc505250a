# The built site and the lab server: `nix build` gives
#   $out/lib/nix-way-labs/{dist,server,labs,node_modules,package.json}
#   $out/bin/nix-way-labs   the server (Node 24 runs its .ts files directly)
# The server's own flags and config file are documented on the
# self-hosting page; nothing here picks a site, labs or data directory
# (the module and `nix run` do).
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_24,
  python3,
  makeWrapper,
}:
let
  root = ../.;
  packageJson = lib.importJSON (root + "/package.json");
  # The lock has no `resolved` fields; npm-lock.nix derives them (see there).
  packageLock = import ./npm-lock.nix { lock = lib.importJSON (root + "/package-lock.json"); };
in
buildNpmPackage {
  pname = "nix-way-labs";
  inherit (packageJson) version;

  # Only what the build reads: a change to tests or docs elsewhere does not rebuild.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/package.json")
      (root + "/package-lock.json")
      (root + "/astro.config.mjs")
      (root + "/tsconfig.json")
      (root + "/src")
      (root + "/public")
      (root + "/server")
      (root + "/labs")
    ];
  };

  nodejs = nodejs_24;
  npmDeps = importNpmLock {
    npmRoot = root;
    package = packageJson;
    inherit packageLock;
  };
  npmConfigHook = importNpmLock.npmConfigHook;
  # Dev dependencies are the tests' and the typecheck's; one of them (`node`,
  # Node 24 for npm scripts on Debian) downloads Node in its install script,
  # which a sandboxed build cannot do and does not need.
  npmInstallFlags = [ "--omit=dev" ];
  npmRebuildFlags = [ "--omit=dev" ];

  # node-pty is compiled by node-gyp during `npm rebuild` (npmConfigHook
  # points it at nodejs' headers): python3, make and a C++ compiler (stdenv).
  nativeBuildInputs = [ python3 makeWrapper ];

  # `npm run build` is `astro build`: the site in dist/.
  npmBuildScript = "build";

  installPhase = ''
    runHook preInstall
    app=$out/lib/nix-way-labs
    mkdir -p $app $out/bin
    cp -r dist server labs node_modules $app/
    cp package.json $app/
    # Tests are not part of the server.
    find $app/server $app/labs -name '*.test.ts' -delete
    makeWrapper ${lib.getExe nodejs_24} $out/bin/nix-way-labs \
      --add-flags $app/server/main.ts
    runHook postInstall
  '';

  passthru.nodejs = nodejs_24;

  meta = {
    description = packageJson.description;
    mainProgram = "nix-way-labs";
    platforms = lib.platforms.linux;
  };
}
