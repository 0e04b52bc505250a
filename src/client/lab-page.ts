/**
 * The lab page runtime (loaded by LabRoot.astro on pages with a `lab`):
 * defines the custom elements, handles Run buttons, and checks a Run's
 * checkpoint once its command has settled. Small on purpose: xterm and the
 * transport load only when a terminal starts.
 */
import { takeAccessLinkFromLocation } from "./access.ts";
import { define } from "./define.ts";
import { NwlTerminal } from "./terminal-element.ts";
import { NwlServerSettings } from "./server-settings-element.ts";
import { NwlCheckpoint } from "./checkpoint-element.ts";
import { NwlLabProgress } from "./progress-element.ts";
import { checkCheckpoint } from "./checkpoints.ts";
import { installRunButtons, RUN_FINISHED, type RunFinishedDetail } from "./run.ts";
// <nwl-file-editor> and <Open file> buttons (CodeMirror loads only when a file opens).
import "./file-editor-element.ts";

// Before any terminal connects: a token in the address is this page's access link.
takeAccessLinkFromLocation();
define("nwl-terminal", NwlTerminal);
define("nwl-server-settings", NwlServerSettings);
define("nwl-checkpoint", NwlCheckpoint);
define("nwl-lab-progress", NwlLabProgress);
installRunButtons();

document.addEventListener(RUN_FINISHED, (event) => {
  const { check } = (event as CustomEvent<RunFinishedDetail>).detail;
  if (!check) return;
  // The build checked that the checkpoint exists; the page shows it where the author put it.
  const checkpoint = document.querySelector<NwlCheckpoint>(`nwl-checkpoint[data-checkpoint-id="${CSS.escape(check)}"]`);
  if (checkpoint) void checkpoint.check();
  else {
    // No Checkpoint shown for it: check anyway so progress still counts it.
    const lab = (event.target as Element).closest<HTMLElement>("[data-lab]")?.dataset.lab;
    if (lab) void checkCheckpoint(lab, check).catch((error: Error) => console.warn(`[nwl] check ${check}:`, error.message));
  }
});
