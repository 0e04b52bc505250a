/**
 * What every environment shares, brought up once by the driver's prepare():
 * containerd, the lab CA, the busybox images and the registry storage they
 * are served from. Layout under the data dir:
 *
 *   containerd/   embedded daemon: config.toml, root/, state/, containerd.sock, containerd.log
 *   pki/          lab CA, registry certificate, CA bundle for sessions
 *   images/       the OCI image layout built from busybox-static
 *   registry/     storage/ (seeded once, then read-only), seed log
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { startContainerd, type ContainerdMode, type ContainerdService, type ContainerdSupervision } from "./containerd.ts";
import { removeContainerdNamespace } from "./containerd-namespace.ts";
import { ensureLabImages, type LabImageSet } from "./images.ts";
import { ensureLabPki, type LabPki } from "./pki.ts";
import { assertDriverPrerequisites, CTR_CNI_PLUGIN_DIRS } from "./prerequisites.ts";
import { seedRegistry } from "./registry.ts";

/** Where ctr looks for CNI configs; sessions mount their own folder over it. */
export const CNI_CONFIG_DIR = "/etc/cni/net.d";

export interface SharedInfra {
  readonly dataDir: string;
  readonly containerd: ContainerdService;
  readonly pki: LabPki;
  readonly images: LabImageSet;
  readonly registryStorage: string;
  /** Milliseconds each provisioning step took (for the lab test's report). */
  readonly timings: Readonly<Record<string, number>>;
  close(): Promise<void>;
}

export async function provisionSharedInfra(options: {
  dataDir: string;
  containerd: ContainerdMode;
  /** Restart delays and poll intervals of the containerd service (tests use short ones). */
  containerdSupervision?: ContainerdSupervision;
}): Promise<SharedInfra> {
  const dataDir = path.resolve(options.dataDir);
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, step: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    try {
      return await step();
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };
  await timed("prerequisites", () => assertDriverPrerequisites());
  mkdirSync(dataDir, { recursive: true });
  // The mount point must exist on the host; sessions mount their own folder over it.
  if (!existsSync(CNI_CONFIG_DIR)) mkdirSync(CNI_CONFIG_DIR, { recursive: true });
  // ctr run --cni looks for plugins in a folder built into it; environments bind the configured
  // folder there. A host with neither (NixOS) gets the upstream one, made once here, so a host
  // that refuses it (a read-only /) stops the start instead of leaving ctr without plugins.
  if (!CTR_CNI_PLUGIN_DIRS.some((dir) => existsSync(dir))) mkdirSync(CTR_CNI_PLUGIN_DIRS[0], { recursive: true });
  const containerd = await timed("containerd", () => startContainerd({ dir: path.join(dataDir, "containerd"), mode: options.containerd, supervision: options.containerdSupervision }));
  try {
    const pki = await timed("pki", () => ensureLabPki(path.join(dataDir, "pki")));
    const images = await timed("images", () => ensureLabImages(path.join(dataDir, "images")));
    const registryDir = path.join(dataDir, "registry");
    const registryStorage = path.join(registryDir, "storage");
    await timed("registry", async () => {
      await seedRegistry({ dir: registryDir, storageDir: registryStorage, pki, images, containerdAddress: containerd.address });
      await removeContainerdNamespace(containerd.address, `nwl-seed-${process.pid}`);
    });
    return { dataDir, containerd, pki, images, registryStorage, timings, close: () => containerd.stop() };
  } catch (error) {
    await containerd.stop();
    throw error;
  }
}
