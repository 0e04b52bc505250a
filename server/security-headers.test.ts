/** Which built file a path is, for its page policy; and the policy lists exactly the page's inline scripts. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { htmlFileFor, inlineScriptHashes } from "./security-headers.ts";

describe("page policies", () => {
  const site = mkdtempSync(path.join(tmpdir(), "nwl-site-"));
  mkdirSync(path.join(site, "labs"));
  writeFileSync(path.join(site, "labs", "index.html"), "<p>lab</p>");
  writeFileSync(path.join(site, "index.html"), "<p>home</p>");

  it("finds the page a path is served from, and nothing for malformed or escaping paths", () => {
    expect(htmlFileFor(site, "/")).toBe(path.join(site, "index.html"));
    expect(htmlFileFor(site, "/labs/")).toBe(path.join(site, "labs", "index.html"));
    expect(htmlFileFor(site, "/labs")).toBe(path.join(site, "labs", "index.html"));
    expect(htmlFileFor(site, "/%zz")).toBeUndefined();
    expect(htmlFileFor(site, "/../../etc/passwd")).toBeUndefined();
    expect(htmlFileFor(site, "/_astro/x.js")).toBeUndefined();
  });

  it("hashes inline scripts only, each once", () => {
    const hashes = inlineScriptHashes('<script>a()</script><script type="module" src="/x.js"></script><script>a()</script><script> </script>');
    expect(hashes).toHaveLength(2);
    expect(hashes[0]).toMatch(/^'sha256-[A-Za-z0-9+/]+=*'$/);
  });
});
