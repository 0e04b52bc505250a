/**
 * The local registry that answers as registry-1.docker.io, so a reader's
 * `ctr image pull docker.io/library/busybox:latest` pulls over a real
 * network connection, offline. The storage is filled once (seeded) by a
 * writable registry; every environment then runs its own read-only
 * registry on the same storage inside its network namespace.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { mustRun } from "./exec.ts";
import { requireRegistry } from "./prerequisites.ts";
import type { LabImageSet } from "./images.ts";
import { REGISTRY_HOST, type LabPki } from "./pki.ts";

/** A loopback address of its own, so the registry's :443 does not collide with anything on 127.0.0.1. */
export const REGISTRY_ADDRESS = "127.0.0.2";
export const REGISTRY_LISTEN = `${REGISTRY_ADDRESS}:443`;

/** The hosts file a session sees: localhost on both families (etcd on [::1]) and the registry. */
export function sessionHostsFile(): string {
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${REGISTRY_ADDRESS}\t${REGISTRY_HOST}`,
    "",
  ].join("\n");
}

export function registryConfig(options: { storageDir: string; pki: LabPki; readonly: boolean }): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(options.storageDir)}`,
  ];
  if (options.readonly) {
    // Many registries share one storage: none may write or purge it.
    lines.push("  maintenance:", "    uploadpurging:", "      enabled: false", "    readonly:", "      enabled: true");
  }
  lines.push(
    "http:",
    `  addr: ${REGISTRY_LISTEN}`,
    // Only used to sign upload state; fixed so the log does not warn about a random one.
    "  secret: nix-way-labs-local-registry",
    "  tls:",
    `    certificate: ${JSON.stringify(options.pki.registryCert)}`,
    `    key: ${JSON.stringify(options.pki.registryKey)}`,
    "",
  );
  return lines.join("\n");
}

/** Waits (inside a namespace) until the registry accepts TLS connections on its address. */
export const WAIT_FOR_REGISTRY_BASH = `for _ in $(seq 200); do (exec 3<>/dev/tcp/${REGISTRY_ADDRESS}/443) 2>/dev/null && break; sleep 0.025; done`;

/**
 * Pushes the lab images into the registry storage, once per image set: in a
 * throwaway mount + network namespace, with a writable registry, through
 * the same names a reader pulls.
 */
export async function seedRegistry(options: {
  dir: string;
  storageDir: string;
  pki: LabPki;
  images: LabImageSet;
  containerdAddress: string;
}): Promise<void> {
  const { dir, storageDir, pki, images } = options;
  const stampFile = path.join(dir, "seeded");
  const stamp = `${images.manifestDigest} ${images.names.join(",")}`;
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp && existsSync(storageDir)) return;
  mkdirSync(storageDir, { recursive: true });
  const configFile = path.join(dir, "registry-seed.yml");
  const hostsFile = path.join(dir, "seed-hosts");
  writeFileSync(configFile, registryConfig({ storageDir, pki, readonly: false }));
  writeFileSync(hostsFile, sessionHostsFile());
  const namespace = `nwl-seed-${process.pid}`;
  const pushes = images.names.map((name) => `ctr image push ${name}`).join("\n");
  const script = `set -eu
ip link set lo up
mount --bind ${JSON.stringify(hostsFile)} /etc/hosts
mount --bind ${JSON.stringify(pki.caBundle)} /etc/ssl/certs/ca-certificates.crt
${JSON.stringify(requireRegistry())} serve ${JSON.stringify(configFile)} >> ${JSON.stringify(path.join(dir, "registry-seed.log"))} 2>&1 &
registry=$!
trap 'kill -9 $registry 2>/dev/null || true; ctr image rm $(ctr image ls -q) >/dev/null 2>&1 || true' EXIT
${WAIT_FOR_REGISTRY_BASH}
ctr image import --no-unpack ${JSON.stringify(images.archive)}
${pushes}
`;
  await mustRun("unshare", ["--mount", "--propagation", "private", "--net", "bash", "-c", script], {
    env: { CONTAINERD_ADDRESS: options.containerdAddress, CONTAINERD_NAMESPACE: namespace },
    timeoutMs: 120_000,
  });
  writeFileSync(stampFile, stamp);
}
