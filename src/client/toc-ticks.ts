/**
 * Ticks in the page's table of contents: a heading's link (Starlight's
 * "On this page", desktop and mobile) gets data-nwl-passed once every
 * checkpoint in its section has passed, styled as a tick in labs.css. It
 * watches each <nwl-checkpoint>'s data-state, so it does not care where
 * progress is kept. Check results are also said aloud (a live region).
 */

/** The headings a table of contents lists, and the checkpoints in each one's section (its subsections included). */
export function checkpointsByHeading(content: ParentNode): Map<HTMLElement, HTMLElement[]> {
  const sections = new Map<HTMLElement, HTMLElement[]>();
  const open: { level: number; heading: HTMLElement }[] = [];
  for (const element of content.querySelectorAll<HTMLElement>("h2[id], h3[id], h4[id], h5[id], h6[id], nwl-checkpoint")) {
    if (element.localName === "nwl-checkpoint") {
      for (const { heading } of open) sections.get(heading)!.push(element);
      continue;
    }
    const level = Number(element.localName.slice(1));
    while (open.length && open[open.length - 1]!.level >= level) open.pop();
    open.push({ level, heading: element });
    sections.set(element, []);
  }
  return sections;
}

function tocLinks(id: string): HTMLAnchorElement[] {
  const hash = `#${encodeURIComponent(id)}`;
  return [...document.querySelectorAll<HTMLAnchorElement>("starlight-toc a, mobile-starlight-toc a")].filter((link) => link.hash === hash);
}

const RESULTS = new Set(["passed", "failed", "error"]);

export function installTocTicks(content: HTMLElement, announce: (text: string) => void): void {
  const sections = checkpointsByHeading(content);
  const update = () => {
    for (const [heading, checkpoints] of sections) {
      const passed = checkpoints.length > 0 && checkpoints.every((checkpoint) => checkpoint.dataset.state === "passed");
      for (const link of tocLinks(heading.id)) {
        link.toggleAttribute("data-nwl-passed", passed);
        if (passed) link.title = "Every checkpoint of this part passed";
        else link.removeAttribute("title");
      }
    }
  };
  const observer = new MutationObserver((records) => {
    // (Run buttons have a data-state too.)
    const changed = records.filter((record) => (record.target as Element).localName === "nwl-checkpoint");
    if (changed.length) update();
    for (const record of changed) {
      const checkpoint = record.target as HTMLElement;
      // A check that just finished (not saved progress being shown): say what it found.
      if (record.oldValue === "checking" && RESULTS.has(checkpoint.dataset.state ?? "")) announce(describeResult(checkpoint));
    }
  });
  observer.observe(content, { subtree: true, attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
  update();
}

function describeResult(checkpoint: HTMLElement): string {
  const text = (selector: string) => checkpoint.querySelector<HTMLElement>(selector)?.textContent?.trim() ?? "";
  const hint = checkpoint.querySelector<HTMLElement>("[data-part=hint]");
  const words = [`Checkpoint ${text("[data-testid=checkpoint-title]")}: ${text("[data-part=result]")}.`];
  if (hint && !hint.hidden) words.push(`Hint: ${text("[data-part=hint-text]")}`);
  return words.join(" ");
}
