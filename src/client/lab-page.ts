/**
 * The lab page runtime (loaded by LabRoot.astro on pages with a `lab`):
 * defines the custom elements, handles Run buttons, and checks a Run's
 * checkpoint once its command has settled. State lives in the page store
 * (lab-store.ts), which every element subscribes to. Small on purpose: xterm and the
 * transport load only when a terminal starts.
 */
import { takeAccessLinkFromLocation } from "./access.ts";
import { define } from "./define.ts";
import { NwlTerminal } from "./terminal-element.ts";
import { NwlServerSettings } from "./server-settings-element.ts";
import { NwlCheckpoint } from "./checkpoint-element.ts";
import { NwlLabProgress } from "./progress-element.ts";
import { labStore } from "./page-store.ts";
import { installRunButtons, RUN_FINISHED, type RunFinishedDetail } from "./run.ts";
// <nwl-file-editor> and <Open file> buttons (CodeMirror loads only when a file opens).
import "./file-editor-element.ts";
import { installLabPane } from "./lab-pane.ts";
import { installTocTicks } from "./toc-ticks.ts";
import { installShortcuts } from "./shortcuts.ts";

// Before any terminal connects: a token in the address is this page's access link.
takeAccessLinkFromLocation();
// Before the terminals are defined: the pane takes them from the text, so each starts once, in its place.
const pane = installLabPane();
define("nwl-terminal", NwlTerminal);
define("nwl-server-settings", NwlServerSettings);
define("nwl-checkpoint", NwlCheckpoint);
define("nwl-lab-progress", NwlLabProgress);
installRunButtons();

const content = document.querySelector<HTMLElement>("nwl-lab .sl-markdown-content");
if (content && pane) {
  installTocTicks(content, (text) => pane.announce(text));
  installShortcuts(content, {
    focusTerminal: () => {
      const terminal = pane.someTerminal();
      if (terminal) void terminal.start().then(() => terminal.reveal(true), () => {});
    },
    showHelp: () => pane.showShortcuts(),
    announce: (text) => pane.announce(text),
  });
}

document.addEventListener(RUN_FINISHED, (event) => {
  const { check } = (event as CustomEvent<RunFinishedDetail>).detail;
  const lab = (event.target as Element).closest<HTMLElement>("[data-lab]")?.dataset.lab;
  // Checked whether or not the page shows that checkpoint: progress counts it either way.
  if (check && lab) void labStore(lab).check(check);
});
