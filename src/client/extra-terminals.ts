/**
 * Terminals the reader opens beside the page's declared ones: another shell
 * in the same lab environment (a Run while the first is busy, or the pane's
 * "+"). Each is a new <nwl-terminal> made from the page's first terminal's
 * markup as the build rendered it, shown as a closable tab of the lab pane.
 */
import { openTab, closeTab } from "./pane-tabs.ts";
import { findTerminal } from "./registry.ts";
import type { NwlTerminal } from "./terminal-element.ts";

/** Pristine copies of declared terminals (before xterm filled them), by lab. */
const templates = new Map<string, HTMLElement>();
let opened = 0;

/** Keeps a declared terminal's markup as it came from the build, to make more like it later. */
export function rememberTemplate(terminal: HTMLElement, lab: string): void {
  if (!templates.has(lab) && !terminal.dataset.started) templates.set(lab, terminal.cloneNode(true) as HTMLElement);
}

/** Opens another shell of the lab's environment next to `beside`; resolves with the new terminal (not yet started). */
export function openExtraTerminal(beside: NwlTerminal): NwlTerminal {
  const lab = beside.lab;
  const template = templates.get(lab) ?? beside;
  const element = template.cloneNode(true) as NwlTerminal;
  let name: string;
  do name = `shell-${++opened + 1}`;
  while (findTerminal(name));
  element.dataset.name = name;
  element.dataset.lab = lab;
  element.dataset.extra = "true";
  element.removeAttribute("data-started");
  element.querySelector("[data-part=screen]")?.replaceChildren();
  element.querySelector("[data-part=busy]")?.remove();
  const title = element.querySelector<HTMLElement>(".title");
  if (title) title.textContent = name;
  const id = `terminal:${name}`;
  openTab({ id, title: name, kind: "terminal", element, closable: true });
  // With no lab pane on the page to show the tab, the terminal goes right after the one it came from.
  if (!element.isConnected) beside.after(element);
  element.addEventListener("nwl:tab-closed", () => element.close(), { once: true });
  element.closeTab = () => closeTab(id);
  return element;
}
