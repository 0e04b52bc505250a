/**
 * The lab pane (LabPane.astro): shows the tabs of pane-tabs.ts as ARIA tabs,
 * one panel each, and mounts each tab's element in its panel (the page's
 * terminals, shells the reader opens with "+", files from the editor). On
 * wide screens it sits beside the text (lab-pane-split.ts sizes it); on
 * narrow ones it is a drawer that opens when a terminal needs to be seen.
 * Nothing here scrolls the page: the reader keeps their place in the text.
 */
import { activateTab, activeTabId, closeTab, findTab, onTabsChange, openTab, paneTabs, TERMINAL_REVEAL, terminalTabId, type PaneTab } from "./pane-tabs.ts";
import { installPaneSplit } from "./lab-pane-split.ts";
import { installKeyBar } from "./key-bar.ts";
import { SCREEN_READER_CHANGED, screenReaderMode, setScreenReaderMode } from "./lab-settings.ts";
import { browserStore, tabStore } from "./storage.ts";
import type { Terminal } from "@xterm/xterm";

/** What the pane asks of a terminal element (NwlTerminal), without importing it. */
export interface PaneTerminal extends HTMLElement {
  readonly name: string;
  start(): Promise<void>;
  reveal(focus?: boolean): void;
  sendKeys(data: string): void;
  end(): void;
  readonly xterm: Terminal | undefined;
}

const WIDE = "(min-width: 72rem)";
const DRAWER_KEY = "nwl:pane-open";

interface TabParts {
  tab: HTMLElement;
  button: HTMLButtonElement;
  panel: HTMLElement;
}

export class LabPane {
  readonly root: HTMLElement;
  readonly lab: string;
  private readonly tablist: HTMLElement;
  private readonly panels: HTMLElement;
  private readonly announcer: HTMLElement;
  private readonly parts = new Map<string, TabParts>();
  /** A pristine copy of a declared terminal, before it ran: the markup of every "+" shell. */
  private template: HTMLElement | undefined;
  private counter = 0;
  private installed = false;

  constructor(root: HTMLElement) {
    this.root = root;
    this.lab = root.dataset.lab ?? "";
    this.tablist = this.part("tablist");
    this.panels = this.part("panels");
    this.announcer = this.part("announcer");
  }

  /** Before the terminal element is defined: the declared terminals move here, un-started. */
  install(): void {
    this.adoptDeclaredTerminals();
    this.restoreReaderShells();
    onTabsChange(() => this.render());
    this.render();
    this.setOpen(browserStore.getItem(DRAWER_KEY) === "open");
    this.installed = true;
    installPaneSplit(this.root, this.part("divider"));
    installKeyBar(this.part("keybar"), this.root, () => this.activeTerminal());
    this.root.addEventListener(TERMINAL_REVEAL, (event) => this.show(event.target as HTMLElement));
    this.root.addEventListener("click", (event) => this.onClick(event));
    this.tablist.addEventListener("keydown", (event) => this.onTabKey(event));
    document.addEventListener("click", (event) => this.onNoteClick(event));
    document.addEventListener("keydown", (event) => this.onEscape(event));
    this.installScreenReaderSetting();
  }

  /** The terminal of the active tab, if the active tab is a terminal. */
  activeTerminal(): PaneTerminal | undefined {
    const tab = findTab(activeTabId() ?? "");
    return tab?.kind === "terminal" ? (tab.element as PaneTerminal) : undefined;
  }

  /** The active tab's terminal, or else the first terminal (a file may be the active tab). */
  someTerminal(): PaneTerminal | undefined {
    return this.activeTerminal() ?? (paneTabs().find((tab) => tab.kind === "terminal")?.element as PaneTerminal | undefined);
  }

  /** Says something to screen readers (a polite live region in the pane). */
  announce(text: string): void {
    // Emptied first, so the same words said twice are said again.
    this.announcer.textContent = "";
    requestAnimationFrame(() => (this.announcer.textContent = text));
  }

  /** Shows a tab's element: its tab becomes active and the drawer opens. */
  show(element: HTMLElement): void {
    const tab = paneTabs().find((candidate) => candidate.element === element || candidate.element.contains(element));
    if (!tab) return;
    activateTab(tab.id);
    this.setOpen(true);
  }

  get isWide(): boolean {
    return matchMedia(WIDE).matches;
  }

  setOpen(open: boolean): void {
    this.root.toggleAttribute("data-open", open);
    this.root.querySelector('[data-action="toggle"]')?.setAttribute("aria-expanded", String(open || this.isWide));
    browserStore.setItem(DRAWER_KEY, open ? "open" : "closed");
  }

  setMaximized(maximized: boolean): void {
    this.root.toggleAttribute("data-maximized", maximized);
    this.root.querySelector('[data-action="maximize"]')?.setAttribute("aria-pressed", String(maximized));
    // The text under a maximized pane is out of reach of Tab and screen readers until it is restored.
    for (const covered of document.querySelectorAll(".nwl-lab-text, .nwl-lab-toc")) covered.toggleAttribute("inert", maximized);
    if (maximized) this.setOpen(true);
  }

  /** Opens another shell in the page's lab environment, as a closable tab. */
  newTerminal(): PaneTerminal | undefined {
    if (!this.template) return undefined;
    const names = new Set(paneTabs().map((tab) => tab.id));
    let name: string;
    do name = `shell-${++this.counter + 1}`;
    while (names.has(terminalTabId(name)));
    const element = this.shellElement(name);
    this.rememberShells([...this.readerShells(), name]);
    openTab({ id: terminalTabId(name), title: name, kind: "terminal", element, closable: true });
    this.setOpen(true);
    void element.start().then(() => element.reveal(true), () => {});
    return element;
  }

  private shellElement(name: string): PaneTerminal {
    const element = this.template!.cloneNode(true) as PaneTerminal;
    element.dataset.name = name;
    element.dataset.testid = "terminal";
    element.removeAttribute("id");
    const title = element.querySelector(".title");
    if (title) title.textContent = name;
    return element;
  }

  private adoptDeclaredTerminals(): void {
    const declared = [...document.querySelectorAll<HTMLElement>(".nwl-lab-text nwl-terminal")];
    declared.forEach((element, index) => {
      this.template ??= element.cloneNode(true) as HTMLElement;
      const name = element.dataset.name || "main";
      element.toggleAttribute("data-in-pane", true);
      const note = element.previousElementSibling;
      if (note?.matches(".nwl-terminal-note")) note.toggleAttribute("data-in-pane", true);
      openTab({ id: terminalTabId(name), title: name, kind: "terminal", element, closable: false }, { activate: index === 0 });
    });
    this.template?.toggleAttribute("data-in-pane", true);
  }

  /** Shells the reader opened before a reload: their tabs come back and resume (terminal-element.ts). */
  private restoreReaderShells(): void {
    if (!this.template) return;
    for (const name of this.readerShells()) {
      this.counter = Math.max(this.counter, Number(name.replace(/^shell-/, "")) - 1 || 0);
      openTab({ id: terminalTabId(name), title: name, kind: "terminal", element: this.shellElement(name), closable: true }, { activate: false });
    }
  }

  private readerShells(): string[] {
    try {
      const names = JSON.parse(tabStore.getItem(`nwl:pane-shells:${this.lab}`) ?? "[]") as unknown;
      return Array.isArray(names) ? names.filter((name): name is string => typeof name === "string" && /^shell-\d+$/.test(name)) : [];
    } catch {
      return [];
    }
  }

  private rememberShells(names: string[]): void {
    tabStore.setItem(`nwl:pane-shells:${this.lab}`, JSON.stringify(names));
  }

  private render(): void {
    const active = activeTabId();
    for (const [id, parts] of this.parts) {
      if (findTab(id)) continue;
      parts.tab.remove();
      parts.panel.remove();
      this.parts.delete(id);
    }
    for (const [index, tab] of paneTabs().entries()) {
      const added = !this.parts.has(tab.id);
      const parts = this.parts.get(tab.id) ?? this.createParts(tab);
      const selected = tab.id === active;
      // A tab opened to be seen (a file from the page, a new shell) opens the drawer too.
      if (added && selected && this.installed) this.setOpen(true);
      parts.button.setAttribute("aria-selected", String(selected));
      parts.button.tabIndex = selected ? 0 : -1;
      parts.panel.toggleAttribute("data-active", selected);
      parts.panel.inert = !selected;
      // Kept in order: tabs as pane-tabs lists them. Moved only when out of place: moving the focused tab would drop the focus.
      const at = this.tablist.children[index];
      if (at !== parts.tab) this.tablist.insertBefore(parts.tab, at ?? null);
      if (tab.element.parentElement !== parts.panel) parts.panel.append(tab.element);
    }
    this.root.dataset.tabs = String(this.parts.size);
  }

  private createParts(tab: PaneTab): TabParts {
    const index = ++tabSerial;
    const tabId = `nwl-pane-tab-${index}`;
    const panelId = `nwl-pane-panel-${index}`;
    const wrapper = document.createElement("span");
    wrapper.className = "tab";
    wrapper.setAttribute("role", "presentation");
    const button = document.createElement("button");
    button.type = "button";
    button.id = tabId;
    button.setAttribute("role", "tab");
    button.setAttribute("aria-controls", panelId);
    button.dataset.tab = tab.id;
    button.dataset.testid = "lab-pane-tab";
    button.textContent = tab.title;
    wrapper.append(button);
    if (tab.closable) {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "close";
      close.dataset.closeTab = tab.id;
      close.dataset.testid = "lab-pane-tab-close";
      close.tabIndex = -1;
      close.setAttribute("aria-label", `Close ${tab.title}`);
      close.title = `Close ${tab.title} (Delete on its tab)`;
      close.textContent = "×";
      wrapper.append(close);
    }
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.id = panelId;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tabId);
    panel.dataset.tab = tab.id;
    this.panels.append(panel);
    const parts = { tab: wrapper, button, panel };
    this.parts.set(tab.id, parts);
    return parts;
  }

  private close(id: string): void {
    const tab = findTab(id);
    if (!tab?.closable) return;
    if (tab.kind === "terminal") {
      (tab.element as PaneTerminal).end?.();
      this.rememberShells(this.readerShells().filter((name) => terminalTabId(name) !== id));
    }
    closeTab(id);
    this.parts.get(activeTabId() ?? "")?.button.focus();
  }

  private onClick(event: Event): void {
    const target = event.target as Element;
    // The reader used what the pane shows (Start, the screen): on a narrow screen it stays open.
    if (this.panels.contains(target)) this.setOpen(true);
    const close = target.closest<HTMLElement>("[data-close-tab]");
    if (close) return this.close(close.dataset.closeTab!);
    const tab = target.closest<HTMLElement>('[role="tab"]');
    if (tab) {
      activateTab(tab.dataset.tab!);
      this.setOpen(true);
      return;
    }
    const action = target.closest<HTMLElement>("[data-action]")?.dataset.action;
    if (action === "toggle") this.setOpen(!this.root.hasAttribute("data-open"));
    else if (action === "new-terminal") this.newTerminal();
    else if (action === "maximize") this.setMaximized(!this.root.hasAttribute("data-maximized"));
    else if (action === "shortcuts") this.showShortcuts();
  }

  showShortcuts(): void {
    this.part("menu").removeAttribute("open");
    const dialog = this.part("shortcuts") as HTMLDialogElement;
    if (!dialog.open) dialog.showModal();
  }

  /** Arrow keys move between tabs (and show them), Home/End to the ends, Delete closes a closable one. */
  private onTabKey(event: KeyboardEvent): void {
    const current = (event.target as Element).closest<HTMLElement>('[role="tab"]');
    if (!current) return;
    const tabs = [...this.tablist.querySelectorAll<HTMLElement>('[role="tab"]')];
    const index = tabs.indexOf(current);
    const rtl = getComputedStyle(this.tablist).direction === "rtl";
    const step = { ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[event.key];
    let next: HTMLElement | undefined;
    if (step) next = tabs[(index + step + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    else if (event.key === "Delete") {
      event.preventDefault();
      this.close(current.dataset.tab!);
      return;
    }
    if (!next) return;
    event.preventDefault();
    activateTab(next.dataset.tab!);
    next.focus();
  }

  /** "Terminal main is in the lab pane": shows that terminal's tab. */
  private onNoteClick(event: Event): void {
    const link = (event.target as Element | null)?.closest?.<HTMLElement>("[data-terminal-note]");
    if (!link) return;
    event.preventDefault();
    const id = terminalTabId(link.dataset.terminalNote!);
    if (!findTab(id)) return;
    activateTab(id);
    this.setOpen(true);
    this.parts.get(id)?.button.focus({ preventScroll: true });
  }

  /** Esc restores a maximized pane, unless the terminal has the key (Esc belongs to the shell and its programs). */
  private onEscape(event: KeyboardEvent): void {
    if (event.key !== "Escape" || !this.root.hasAttribute("data-maximized")) return;
    if ((event.target as Element | null)?.closest?.(".xterm")) return;
    if (document.querySelector("dialog[open]")) return;
    this.setMaximized(false);
  }

  private installScreenReaderSetting(): void {
    const box = this.root.querySelector<HTMLInputElement>('[data-setting="screen-reader"]')!;
    box.checked = screenReaderMode();
    box.addEventListener("change", () => setScreenReaderMode(box.checked));
    window.addEventListener(SCREEN_READER_CHANGED, () => {
      const on = screenReaderMode();
      box.checked = on;
      // Terminals that run now; the ones started later read the setting (xterm-view.ts).
      for (const tab of paneTabs()) {
        const term = tab.kind === "terminal" ? (tab.element as PaneTerminal).xterm : undefined;
        if (term) term.options.screenReaderMode = on;
      }
      this.announce(on ? "Screen reader mode is on for the terminals." : "Screen reader mode is off.");
    });
  }

  private part(name: string): HTMLElement {
    const element = this.root.querySelector<HTMLElement>(`[data-part="${name}"]`);
    if (!element) throw new Error(`the lab pane has no ${name}`);
    return element;
  }
}

let tabSerial = 0;
let pane: LabPane | undefined;

/** Installs the page's lab pane, if it has one; call before the terminal element is defined. */
export function installLabPane(): LabPane | undefined {
  const root = document.querySelector<HTMLElement>("nwl-lab-pane");
  if (!root || pane) return pane;
  pane = new LabPane(root);
  pane.install();
  return pane;
}

export function labPane(): LabPane | undefined {
  return pane;
}
