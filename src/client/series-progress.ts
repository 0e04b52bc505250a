/**
 * The reader's progress through the series, on every page: each link to a
 * lab page (the sidebar, the home page's table of parts) gets "n/m passed"
 * from the lab server (GET /api/progress: the reader's environments' own
 * progress). Quiet when there is no lab server or no access: the pages read
 * fine without.
 */
import { authHeaders, tokenFor } from "./access.ts";
import { apiUrl, serverUrl } from "./settings.ts";
import type { SeriesProgress } from "../../server/lab-api-protocol.ts";

/** Lab page paths to lab ids, written into every page by the build (SeriesFooter.astro). */
function labPages(): Record<string, string> {
  try {
    return JSON.parse(document.getElementById("nwl-lab-pages")?.textContent ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

export async function showSeriesProgress(): Promise<void> {
  const server = serverUrl();
  if (!tokenFor(server)) return;
  const pages = labPages();
  let progress: SeriesProgress;
  try {
    const response = await fetch(apiUrl("api/progress", server), { headers: authHeaders(server), signal: AbortSignal.timeout(5000), cache: "no-store" });
    if (!response.ok) return;
    progress = (await response.json()) as SeriesProgress;
  } catch {
    return;
  }
  const byLab = new Map(progress.labs.map((entry) => [entry.lab, entry]));
  for (const link of document.querySelectorAll<HTMLAnchorElement>("a[href]")) {
    const lab = pages[new URL(link.href, location.href).pathname];
    const entry = lab ? byLab.get(lab) : undefined;
    if (!entry || link.closest(".nwl-series-credit")) continue;
    link.dataset.nwlProgress = `${entry.passed}/${entry.total}`;
    link.dataset.nwlComplete = String(entry.total > 0 && entry.passed === entry.total);
    link.title = `${entry.passed} of ${entry.total} checkpoints passed in your lab environment`;
  }
}
