/**
 * <nwl-file-editor data-path="~/k8s/default.nix" data-lab="…">: a file of
 * the reader's lab environment in an editor, with Save (Ctrl+S / Cmd+S), a
 * dirty marker and Reload. The light half: it builds its bar, and loads
 * CodeMirror (file-editor-view.ts) and the API client (file-editor-api.ts)
 * only when a file is opened.
 *
 * openFileInEditor() is how anything on the page opens a file: a tab of the
 * lab pane (pane-tabs.ts), or, on a page whose pane does not show it, a
 * small panel of the editor's own. <Open file="…"> buttons (OpenFile.astro)
 * call it through one delegated listener.
 */
import "./file-editor.css";
import { define } from "./define.ts";
import { activateTab, closeTab, findTab, onTabsChange, openTab } from "./pane-tabs.ts";
import type { FileEditorView } from "./file-editor-view.ts";

type State = "loading" | "ready" | "saving" | "failed";

/** How long a second press of Reload has to discard unsaved changes. */
const CONFIRM_MS = 5000;

const basename = (path: string) => path.replace(/\/+$/, "").slice(path.replace(/\/+$/, "").lastIndexOf("/") + 1) || path;

function button(action: string, label: string, title: string): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.dataset.action = action;
  element.dataset.testid = `file-editor-${action}`;
  element.textContent = label;
  element.title = title;
  return element;
}

/** Editors with unsaved changes: leaving the page asks first. */
const unsaved = new Set<NwlFileEditor>();
function guardUnload(event: BeforeUnloadEvent): void {
  if (unsaved.size) event.preventDefault();
}

export class NwlFileEditor extends HTMLElement {
  private view: FileEditorView | undefined;
  private state: State = "loading";
  /** The text as the lab environment has it (last opened or saved). */
  private saved = "";
  private loading: Promise<void> | undefined;
  private confirmUntil = 0;
  /** The environment's version of the file the text started from (null: no such file then); undefined: overwrite. */
  private base: string | null | undefined = null;
  private focusWhenOpen = false;
  private readonly status = document.createElement("span");
  private readonly error = document.createElement("div");
  private readonly body = document.createElement("div");
  private readonly saveButton = button("save", "Save", "Save to the lab environment (Ctrl+S)");
  private readonly reloadButton = button("reload", "Reload", "Load the file again from the lab environment");
  private readonly onClosed = () => this.dispose();

  get path(): string {
    return this.dataset.path ?? "";
  }

  get lab(): string {
    return this.dataset.lab || this.closest<HTMLElement>("[data-lab]")?.dataset.lab || document.querySelector<HTMLElement>("[data-lab]")?.dataset.lab || "";
  }

  /** Unsaved changes in the editor. */
  get dirty(): boolean {
    return this.view !== undefined && this.view.content !== this.saved;
  }

  /** The editor's text (what Save would write), for tests and tools. */
  get content(): string | undefined {
    return this.view?.content;
  }

  connectedCallback(): void {
    if (!this.firstChild) this.build();
    this.addEventListener("nwl:tab-closed", this.onClosed);
    this.loading ??= this.load();
  }

  /** Opens the file again from the lab environment; with unsaved changes, only on a second press. */
  async reload(): Promise<void> {
    if (this.dirty && Date.now() > this.confirmUntil) {
      this.confirmUntil = Date.now() + CONFIRM_MS;
      this.setStatus("Unsaved changes: press Reload again to discard them.");
      return;
    }
    this.confirmUntil = 0;
    await this.load();
  }

  async save(): Promise<void> {
    if (!this.view || this.state === "saving" || this.state === "loading") return;
    const content = this.view.content;
    this.setState("saving", "Saving…");
    try {
      const { saveFile } = await import("./file-editor-api.ts");
      const saved = await saveFile(this.lab, this.path, content, this.base);
      this.saved = content;
      this.base = saved.version;
      this.showError(undefined);
      this.setState("ready", `${saved.created ? "Created" : "Saved"} at ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      this.setState("ready", "Not saved");
      this.showError(error as Error);
      // Changed in the environment meanwhile: said once; the next Save overwrites (or Reload shows it).
      if ((error as Error & { code?: string }).code === "changed") this.base = undefined;
    }
    this.changed();
  }

  /** Focuses the text, now or as soon as the file is open (the reader just asked for it). */
  focusEditor(): void {
    if (this.view) this.view.focus();
    else this.focusWhenOpen = true;
  }

  private build(): void {
    this.classList.add("not-content");
    this.dataset.testid = "file-editor";
    const bar = document.createElement("div");
    bar.className = "nwl-fe-bar";
    const title = document.createElement("span");
    title.className = "nwl-fe-title";
    title.title = this.path;
    const name = document.createElement("code");
    name.textContent = this.path;
    name.dataset.testid = "file-editor-path";
    const dirty = document.createElement("span");
    dirty.className = "nwl-fe-dirty";
    dirty.textContent = "●";
    dirty.title = "Unsaved changes";
    dirty.dataset.testid = "file-editor-dirty";
    title.append(name, dirty);
    this.status.className = "nwl-fe-status";
    this.status.setAttribute("role", "status");
    this.status.dataset.testid = "file-editor-status";
    const actions = document.createElement("span");
    actions.className = "nwl-fe-actions";
    actions.append(this.saveButton, this.reloadButton);
    bar.append(title, this.status, actions);
    this.error.className = "nwl-fe-error";
    this.error.setAttribute("role", "alert");
    this.error.dataset.testid = "file-editor-error";
    this.error.hidden = true;
    this.body.className = "nwl-fe-body";
    this.body.dataset.testid = "file-editor-body";
    this.append(bar, this.error, this.body);
    this.saveButton.addEventListener("click", () => void this.save());
    this.reloadButton.addEventListener("click", () => void this.reload());
  }

  private async load(): Promise<void> {
    this.setState("loading", "Opening…");
    this.showError(undefined);
    const [{ openFile, FileEditorError }, { FileEditorView }] = await Promise.all([import("./file-editor-api.ts"), import("./file-editor-view.ts")]);
    let content: string | undefined;
    try {
      const file = await openFile(this.lab, this.path);
      content = file.content;
      this.base = file.version;
    } catch (error) {
      // A file that does not exist yet can be written here: saving creates it.
      if (!(error instanceof FileEditorError && error.code === "not-found")) {
        this.view?.destroy();
        this.view = undefined;
        this.saved = "";
        this.setState("failed", "Not opened");
        this.showError(error as Error);
        this.changed();
        return;
      }
      this.showError(error);
      content = "";
      this.base = null;
    }
    this.saved = content;
    if (this.view) this.view.setContent(content);
    else {
      this.view = await FileEditorView.create({
        host: this.body,
        path: this.path,
        content,
        label: `${this.path} in your lab environment`,
        onChange: () => this.changed(),
        onSave: () => void this.save(),
      });
    }
    this.dataset.language = this.view.language;
    this.setState("ready", content === "" && !this.error.hidden ? "New file" : "Opened");
    this.changed();
    if (this.focusWhenOpen) this.view.focus();
    this.focusWhenOpen = false;
  }

  private setState(state: State, status: string): void {
    this.state = state;
    this.dataset.state = state;
    this.setStatus(status);
    this.saveButton.disabled = state !== "ready";
    this.reloadButton.disabled = state === "loading" || state === "saving";
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
  }

  private showError(error: Error | undefined): void {
    this.error.hidden = !error;
    this.error.textContent = error?.message ?? "";
    if (error) this.dataset.error = (error as Error & { code?: string }).code ?? "error";
    else delete this.dataset.error;
  }

  /** Keeps the dirty marker (and the page's unload guard) in step with the text. */
  private changed(): void {
    const dirty = this.dirty;
    this.toggleAttribute("data-dirty", dirty);
    if (dirty) unsaved.add(this);
    else unsaved.delete(this);
    if (unsaved.size) addEventListener("beforeunload", guardUnload);
    else removeEventListener("beforeunload", guardUnload);
  }

  private dispose(): void {
    this.removeEventListener("nwl:tab-closed", this.onClosed);
    unsaved.delete(this);
    if (!unsaved.size) removeEventListener("beforeunload", guardUnload);
    this.view?.destroy();
    this.view = undefined;
    this.loading = undefined;
    this.remove();
  }
}

/**
 * The editor's own small panel, for pages whose lab pane does not show file
 * tabs (yet): fixed at the bottom of the window, one file at a time, with
 * the file tabs' close. A pane that takes the editor (moves it into its
 * body) leaves the panel empty, and the panel goes.
 */
class FallbackPanel {
  private static current: FallbackPanel | undefined;
  private readonly panel = document.createElement("section");
  private readonly slot = document.createElement("div");
  private tabId = "";

  static show(editor: NwlFileEditor, tabId: string): void {
    FallbackPanel.current ??= new FallbackPanel();
    FallbackPanel.current.show(editor, tabId);
  }

  private constructor() {
    this.panel.className = "nwl-file-panel not-content";
    this.panel.setAttribute("aria-label", "File editor");
    this.panel.dataset.testid = "file-panel";
    const close = button("close", "Close", "Close this file");
    close.addEventListener("click", () => closeTab(this.tabId));
    const hide = button("hide", "Hide", "Hide the editor (open the file again to come back)");
    hide.addEventListener("click", () => this.remove());
    const bar = document.createElement("div");
    bar.className = "nwl-file-panel-bar";
    const title = document.createElement("strong");
    title.textContent = "File editor";
    bar.append(title, hide, close);
    this.slot.className = "nwl-file-panel-slot";
    this.panel.append(bar, this.slot);
    // The editor left (closed, or a pane took it): nothing to show.
    new MutationObserver(() => {
      if (!this.slot.firstElementChild) this.remove();
    }).observe(this.slot, { childList: true });
    onTabsChange(() => {
      if (this.tabId && !findTab(this.tabId)) this.remove();
    });
  }

  private show(editor: NwlFileEditor, tabId: string): void {
    this.tabId = tabId;
    if (this.slot.firstElementChild !== editor) this.slot.replaceChildren(editor);
    if (!this.panel.isConnected) document.body.append(this.panel);
    editor.focusEditor();
  }

  private remove(): void {
    this.panel.remove();
  }
}

/** Opens a file of the lab environment in the editor (or shows it again if open). */
export function openFileInEditor(path: string, lab: string): NwlFileEditor {
  const id = `file:${path}`;
  const existing = findTab(id);
  let editor: NwlFileEditor;
  if (existing) {
    editor = existing.element as NwlFileEditor;
    activateTab(id);
  } else {
    editor = document.createElement("nwl-file-editor") as NwlFileEditor;
    editor.dataset.path = path;
    editor.dataset.lab = lab;
    openTab({ id, title: basename(path), kind: "file", element: editor, closable: true });
  }
  // A pane shows its active tab (it moved the editor into its body by now); without one, the panel does.
  if (!editor.isConnected || editor.closest(".nwl-file-panel")) FallbackPanel.show(editor, id);
  else editor.focusEditor();
  return editor;
}

let installed = false;

/** One delegated listener for every <Open file="…"> button of the page, including ones added later. */
export function installOpenFileButtons(root: Document = document): void {
  if (installed) return;
  installed = true;
  root.addEventListener("click", (event) => {
    const trigger = (event.target as Element | null)?.closest?.<HTMLElement>("[data-nwl-open-file]");
    if (!trigger) return;
    const lab = trigger.dataset.lab || trigger.closest<HTMLElement>("[data-lab]")?.dataset.lab || document.querySelector<HTMLElement>("[data-lab]")?.dataset.lab || "";
    openFileInEditor(trigger.dataset.nwlOpenFile!, lab);
  });
}

define("nwl-file-editor", NwlFileEditor);
installOpenFileButtons();
