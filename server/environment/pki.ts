/**
 * The lab CA and the certificate the local registry presents as
 * registry-1.docker.io. Only sessions trust the CA (through their own CA
 * bundle); the host's trust store is never touched.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { mustRun, runCommand } from "./exec.ts";

export const REGISTRY_HOST = "registry-1.docker.io";
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface LabPki {
  caCert: string;
  registryCert: string;
  registryKey: string;
  /** The system bundle plus the lab CA: what sessions see as the system bundle. */
  caBundle: string;
}

async function certificateUsable(cert: string, caCert: string): Promise<boolean> {
  if (!existsSync(cert) || !existsSync(caCert)) return false;
  const verified = await runCommand("openssl", ["verify", "-CAfile", caCert, cert]);
  // Renew a month before expiry rather than fail in a reader's session.
  const fresh = await runCommand("openssl", ["x509", "-checkend", String(30 * 24 * 3600), "-noout", "-in", cert]);
  return verified.code === 0 && fresh.code === 0;
}

/** Creates the CA and registry certificate once; later calls reuse them while valid. */
export async function ensureLabPki(dir: string): Promise<LabPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(dir, name);
  const pki: LabPki = {
    caCert: file("lab-ca.pem"),
    registryCert: file("registry.pem"),
    registryKey: file("registry-key.pem"),
    caBundle: file("ca-bundle.crt"),
  };
  if (!(await certificateUsable(pki.registryCert, pki.caCert))) {
    const caKey = file("lab-ca-key.pem");
    await mustRun("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
    await mustRun("openssl", [
      "req", "-x509", "-new", "-key", caKey, "-subj", "/CN=Nix Way Labs lab CA", "-days", "3650", "-out", pki.caCert,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await mustRun("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pki.registryKey]);
    const csr = file("registry.csr");
    const extensions = file("registry-ext.cnf");
    await mustRun("openssl", ["req", "-new", "-key", pki.registryKey, "-subj", `/CN=${REGISTRY_HOST}`, "-out", csr]);
    writeFileSync(extensions, `subjectAltName=DNS:${REGISTRY_HOST}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    await mustRun("openssl", [
      "x509", "-req", "-in", csr, "-CA", pki.caCert, "-CAkey", caKey, "-CAcreateserial", "-days", "825",
      "-extfile", extensions, "-out", pki.registryCert,
    ]);
  }
  const system = existsSync(SYSTEM_CA_BUNDLE) ? readFileSync(SYSTEM_CA_BUNDLE, "utf8") : "";
  writeFileSync(pki.caBundle, `${system.trimEnd()}\n${readFileSync(pki.caCert, "utf8")}`);
  return pki;
}
