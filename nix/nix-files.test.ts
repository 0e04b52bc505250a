/**
 * The Nix side in CI, which has Nix 2.8 (Debian's nix-bin) and no nixpkgs:
 * every .nix file of the repository parses, and npm-lock.nix (builtins only)
 * gives every package of package-lock.json the registry URL nixpkgs'
 * importNpmLock fetches. The module's evaluation needs nixpkgs' lib: see
 * nix/dev/eval-module.nix (development only).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const skipped = new Set(["node_modules", ".git", "dist", ".astro", ".lab-data", ".peers"]);

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (skipped.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return nixFiles(full);
    return entry.name.endsWith(".nix") ? [path.relative(root, full)] : [];
  });
}

function nix(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("nix-instantiate", args, { cwd: root, encoding: "utf8", timeout: 30_000 });
  if (result.error) throw new Error(`nix-instantiate: ${result.error.message} (Debian: apt-get install nix-bin; scripts/setup.sh --test installs it)`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const temporary = mkdtempSync(path.join(tmpdir(), "nwl-nix-"));
afterAll(() => rmSync(temporary, { recursive: true, force: true }));

describe("every .nix file parses", () => {
  const files = nixFiles(root);

  it("finds the flake and the module", () => {
    expect(files).toEqual(expect.arrayContaining(["flake.nix", "nix/module.nix", "nix/package.nix", "nix/lab-vm.nix", "nix/vm-test.nix"]));
  });

  it.each(files)("%s", (file) => {
    const result = nix(["--parse", file]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("and a file that does not parse is reported", () => {
    const broken = path.join(temporary, "broken.nix");
    writeFileSync(broken, "{ a = ; }\n");
    const result = nix(["--parse", broken]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/syntax error/);
  });
});

describe("npm-lock.nix: a resolved URL for every package of the lock", () => {
  /** Evaluates npm-lock.nix on a lock file; its packages as JSON. */
  function withResolved(lockFile: string) {
    return nix([
      "--eval", "--strict", "--json", "--expr",
      `(import ${path.join(root, "nix/npm-lock.nix")} { lock = builtins.fromJSON (builtins.readFile ${lockFile}); }).packages`,
    ]);
  }

  it("derives https://registry.npmjs.org/NAME/-/BASENAME-VERSION.tgz and keeps the integrity", () => {
    const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8"));
    const result = withResolved(path.join(root, "package-lock.json"));
    expect(result.stderr).toBe("");
    const packages: Record<string, { resolved?: string; integrity?: string; version: string }> = JSON.parse(result.stdout);
    const keys = Object.keys(lock.packages).filter((key) => key !== "");
    expect(keys.length).toBeGreaterThan(100);
    for (const key of keys) {
      const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
      const base = name.split("/").pop();
      expect(packages[key]!.resolved, key).toBe(`https://registry.npmjs.org/${name}/-/${base}-${lock.packages[key].version}.tgz`);
      expect(packages[key]!.integrity, key).toBe(lock.packages[key].integrity);
    }
    // The root entry is the project itself: nothing to fetch.
    expect(packages[""]!.resolved).toBeUndefined();
  });

  it("names a scoped package and a nested one correctly", () => {
    const lockFile = path.join(temporary, "nested.json");
    writeFileSync(lockFile, JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "": { name: "x" },
        "node_modules/a/node_modules/@s/b": { version: "1.2.3", integrity: "sha512-x" },
      },
    }));
    const packages = JSON.parse(withResolved(lockFile).stdout);
    expect(packages["node_modules/a/node_modules/@s/b"].resolved).toBe("https://registry.npmjs.org/@s/b/-/b-1.2.3.tgz");
  });

  it.each([
    ["an alias", { name: "real-name", version: "1.0.0", integrity: "sha512-x" }, /is an alias/],
    ["no integrity", { version: "1.0.0" }, /has no integrity/],
    ["a link", { link: true }, /is a link/],
  ])("refuses an entry with %s (its URL or download could not be trusted)", (_what, entry, message) => {
    const lockFile = path.join(temporary, `refused-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(lockFile, JSON.stringify({ lockfileVersion: 3, packages: { "": {}, "node_modules/p": entry } }));
    const result = withResolved(lockFile);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});

describe("vm-test.nix: the walker's fileset holds every local file it imports", () => {
  const vmTest = readFileSync(path.join(root, "nix/vm-test.nix"), "utf8");
  const roots = [...vmTest.matchAll(/root \+ "\/([^"]+)"/g)].map((match) => match[1]!);

  /** Relative import/export-from specifiers of a file, resolved against it. */
  function localImports(file: string): string[] {
    const text = readFileSync(path.join(root, file), "utf8");
    const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/gm)].map((match) => match[1]!);
    const bare = [...text.matchAll(/^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm)].map((match) => match[1]!);
    return [...specifiers, ...bare].map((specifier) => path.relative(root, path.resolve(root, path.dirname(file), specifier)));
  }

  function walk(start: string): Set<string> {
    const seen = new Set<string>();
    const queue = [start];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      queue.push(...localImports(file));
    }
    return seen;
  }

  it("lists the walker and finds its imports", () => {
    expect(roots).toContain("scripts/walk-lab.ts");
    const files = walk("scripts/walk-lab.ts");
    expect(files).toContain("server/labs.ts");
    expect(files).toContain("labs/schema.ts");
  });

  it("every one lies under a root of the fileset", () => {
    for (const file of walk("scripts/walk-lab.ts")) {
      expect(roots.some((r) => file === r || file.startsWith(`${r}/`)), `${file} is outside the walker's fileset`).toBe(true);
    }
  });
});
