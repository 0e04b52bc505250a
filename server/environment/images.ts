/**
 * The lab images, built offline from busybox-static: one layer holding
 * /bin/busybox and a symlink per applet. The series pulls
 * docker.io/library/alpine:latest; here that name is the same busybox image
 * (the page says so), next to docker.io/library/busybox:latest.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import path from "node:path";
import { mustRun } from "./exec.ts";
import { requireBusybox } from "./prerequisites.ts";

export const LAB_IMAGES = ["docker.io/library/busybox:latest", "docker.io/library/alpine:latest"] as const;

/** Bump when the image layout changes, so cached builds are redone. */
const BUILDER_VERSION = 1;

export interface LabImageSet {
  /** An OCI image layout as a tar, for `ctr image import`. */
  archive: string;
  names: readonly string[];
  manifestDigest: string;
}

/** OCI names the architectures the way Go does. */
const OCI_ARCH = ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch;

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

export async function ensureLabImages(dir: string): Promise<LabImageSet> {
  const busyboxFile = requireBusybox();
  const busybox = readFileSync(busyboxFile);
  const stamp = `${BUILDER_VERSION}:${OCI_ARCH}:${sha256(busybox)}:${LAB_IMAGES.join(",")}`;
  const stampFile = path.join(dir, "stamp");
  const archive = path.join(dir, "lab-images.oci.tar");
  const digestFile = path.join(dir, "manifest-digest");
  if (existsSync(archive) && existsSync(digestFile) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
    return { archive, names: LAB_IMAGES, manifestDigest: readFileSync(digestFile, "utf8") };
  }
  rmSync(dir, { recursive: true, force: true });
  const rootfs = path.join(dir, "rootfs");
  const layout = path.join(dir, "layout");
  for (const sub of ["bin", "etc", "tmp", "root", "proc", "sys", "dev"]) mkdirSync(path.join(rootfs, sub), { recursive: true });
  mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  copyFileSync(busyboxFile, path.join(rootfs, "bin", "busybox"));
  const applets = (await mustRun(busyboxFile, ["--list"])).split("\n").filter((name) => /^[\w.[-]+$/.test(name) && name !== "busybox");
  for (const applet of applets) symlinkSync("busybox", path.join(rootfs, "bin", applet));
  writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");

  // Reproducible layer: sorted names, fixed owner and time, no gzip timestamp.
  const layerTar = path.join(dir, "layer.tar");
  await mustRun("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", rootfs, "-cf", layerTar, "."]);
  await mustRun("gzip", ["-n", "-k", "-f", layerTar]);
  const layer = readFileSync(layerTar);
  const layerGz = readFileSync(`${layerTar}.gz`);
  const blob = (data: Buffer) => {
    const digest = sha256(data);
    writeFileSync(path.join(layout, "blobs", "sha256", digest), data);
    return { digest: `sha256:${digest}`, size: data.byteLength };
  };
  const epoch = "1970-01-01T00:00:00Z";
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: OCI_ARCH,
        os: "linux",
        created: epoch,
        config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
        rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`] },
        history: [{ created: epoch, created_by: "Nix Way Labs: /bin/busybox from the host's static busybox" }],
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob(layerGz) }],
      }),
    ),
  );
  const index = {
    schemaVersion: 2,
    manifests: LAB_IMAGES.map((name) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...manifest,
      platform: { architecture: OCI_ARCH, os: "linux" },
      annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":").pop() },
    })),
  };
  writeFileSync(path.join(layout, "index.json"), JSON.stringify(index));
  writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await mustRun("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", layout, "-cf", archive, "."]);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(layerTar, { force: true });
  rmSync(`${layerTar}.gz`, { force: true });
  writeFileSync(digestFile, manifest.digest);
  writeFileSync(stampFile, stamp);
  return { archive, names: LAB_IMAGES, manifestDigest: manifest.digest };
}
