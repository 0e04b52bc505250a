/**
 * The lab pane's tabs, as data: the page's terminals, the ones the reader
 * opens, and files open in the editor. Whoever shows the pane subscribes;
 * whoever opens something (a terminal, <Open file>) calls openTab. Kept
 * apart from the DOM so the pane's layout and what fills it do not know
 * each other.
 */

export interface PaneTab {
  /** Unique on the page, e.g. "terminal:main" or "file:/root/k8s/default.nix". */
  id: string;
  title: string;
  kind: "terminal" | "file";
  /** What the tab shows; the pane mounts it in its body (moving it there if it is elsewhere). */
  element: HTMLElement;
  /** Declared terminals stay; terminals the reader opened and files can be closed. */
  closable: boolean;
}

type Listener = () => void;

const tabs = new Map<string, PaneTab>();
const listeners = new Set<Listener>();
let active: string | undefined;

function changed(): void {
  for (const listener of listeners) listener();
}

/** Adds a tab (or finds the one with this id) and, by default, makes it the active one. */
export function openTab(tab: PaneTab, options: { activate?: boolean } = {}): PaneTab {
  const existing = tabs.get(tab.id);
  if (!existing) tabs.set(tab.id, tab);
  if (options.activate ?? true) active = tab.id;
  else active ??= tab.id;
  changed();
  return existing ?? tab;
}

export function closeTab(id: string): void {
  const tab = tabs.get(id);
  if (!tab) return;
  tabs.delete(id);
  if (active === id) active = tabs.keys().next().value;
  tab.element.dispatchEvent(new CustomEvent("nwl:tab-closed", { bubbles: false }));
  changed();
}

export function activateTab(id: string): void {
  if (!tabs.has(id) || active === id) return;
  active = id;
  changed();
}

export function paneTabs(): PaneTab[] {
  return [...tabs.values()];
}

export function activeTabId(): string | undefined {
  return active;
}

export function findTab(id: string): PaneTab | undefined {
  return tabs.get(id);
}

/** Calls back on every change of the tabs or of the active tab; returns an unsubscribe. */
export function onTabsChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The tab id of a terminal by its name (data-name). */
export function terminalTabId(name: string): string {
  return `terminal:${name}`;
}

/** Dispatched (bubbling) by a terminal that needs to be seen, e.g. for a Run: the pane shows its tab. */
export const TERMINAL_REVEAL = "nwl:terminal-reveal";
