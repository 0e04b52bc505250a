/**
 * Every built page credits the series: the author, the series and each
 * original post, linked (from labs/<series>/series.yaml). And a broken
 * series file is refused with the file and field named.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadSeries } from "../../server/labs.ts";

const DIST = path.resolve(import.meta.dirname, "../../dist");

function pages(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return name === "_astro" || name === "pagefind" ? [] : pages(file);
    return name.endsWith(".html") ? [file] : [];
  });
}

describe("series credit", () => {
  it("is on every page of the built site, with the author and a link to each original post", () => {
    const [series] = loadSeries();
    expect(series?.author).toBe("Ariel Richtman");
    const built = pages(DIST);
    expect(built.length).toBeGreaterThanOrEqual(4);
    for (const file of built) {
      const html = readFileSync(file, "utf8");
      const where = path.relative(DIST, file);
      expect(html, where).toContain('data-testid="series-credit"');
      expect(html, where).toContain(series!.author);
      expect(html, where).toContain(`href="${series!.url}"`);
      for (const part of series!.parts) expect(html, `${where}: part ${part.part}`).toContain(`href="${part.url}"`);
    }
  });

  it("refuses a series file with a bad field, naming the file and the field", () => {
    const labs = mkdtempSync(path.join(tmpdir(), "nwl-series-"));
    mkdirSync(path.join(labs, "demo"));
    writeFileSync(path.join(labs, "demo", "series.yaml"), "id: demo\ntitle: Demo\nauthor: Someone\nurl: not a url\nparts: []\n");
    expect(() => loadSeries(labs)).toThrow(/demo\/series\.yaml: url: .*\n.*demo\/series\.yaml: parts: /);
  });
});
