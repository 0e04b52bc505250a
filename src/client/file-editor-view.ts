/**
 * The heavy half of the file editor, loaded only when a file is opened:
 * CodeMirror 6 with the file's language (Nix, JSON, YAML: each loaded only
 * when a file of it opens), colours that follow the site's light and dark
 * themes, and Ctrl+S / Cmd+S. The custom element (file-editor-element.ts)
 * owns the surrounding UI and the talking to the lab server.
 *
 * CodeMirror injects its styles as a <style> element and sets style
 * attributes: the page's Content-Security-Policy allows inline styles
 * (style-src 'unsafe-inline', as xterm's DOM renderer needs too), so it
 * needs no nonce (EditorView.cspNonce) here.
 */
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import type { ITheme } from "@xterm/xterm";
import { darkTheme, lightTheme, pageTheme } from "./themes.ts";

/** The terminal's palette (themes.ts defines every colour of both). */
const paletteFor = (mode: "light" | "dark") => (mode === "light" ? lightTheme : darkTheme) as Required<ITheme>;

export type FileLanguage = "nix" | "json" | "yaml" | "text";

/** The language of a file by its name: CNI's .conf and .conflist files are JSON. */
export function languageOf(path: string): FileLanguage {
  const name = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  if (name.endsWith(".nix")) return "nix";
  if (/\.(json|conflist|conf)$/.test(name) || name === "flake.lock") return "json";
  if (/\.(ya?ml)$/.test(name)) return "yaml";
  return "text";
}

async function languageExtension(language: FileLanguage): Promise<Extension> {
  switch (language) {
    case "nix":
      return (await import("@replit/codemirror-lang-nix")).nix();
    case "json":
      return (await import("@codemirror/lang-json")).json();
    case "yaml":
      return (await import("@codemirror/lang-yaml")).yaml();
    case "text":
      return [];
  }
}

/** Token colours from the terminal's palettes (themes.ts), so the editor and the terminal beside it match. */
function highlightFor(mode: "light" | "dark"): HighlightStyle {
  const palette = paletteFor(mode);
  return HighlightStyle.define([
    { tag: [tags.comment, tags.lineComment, tags.blockComment], color: palette.brightBlack, fontStyle: "italic" },
    { tag: [tags.keyword, tags.controlKeyword, tags.definitionKeyword, tags.operatorKeyword], color: palette.magenta },
    { tag: [tags.string, tags.special(tags.string)], color: palette.green },
    { tag: [tags.number, tags.bool, tags.null, tags.atom], color: palette.yellow },
    { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: palette.blue },
    { tag: [tags.variableName, tags.definition(tags.variableName)], color: palette.foreground },
    { tag: [tags.function(tags.variableName), tags.labelName], color: palette.cyan },
    { tag: [tags.url, tags.link], color: palette.cyan, textDecoration: "underline" },
    { tag: [tags.escape, tags.regexp, tags.meta], color: palette.red },
    { tag: [tags.operator, tags.punctuation, tags.bracket, tags.separator], color: palette.white },
    { tag: tags.invalid, color: palette.brightRed },
  ]);
}

function themeFor(mode: "light" | "dark"): Extension {
  const palette = paletteFor(mode);
  return [
    EditorView.theme(
      {
        "&": { color: palette.foreground, backgroundColor: palette.background, height: "100%" },
        ".cm-content": { caretColor: palette.cursor, fontFamily: 'ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace' },
        ".cm-scroller": { fontFamily: 'ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace', lineHeight: "1.45" },
        ".cm-cursor, .cm-dropCursor": { borderLeftColor: palette.cursor },
        "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: palette.selectionBackground },
        ".cm-gutters": { backgroundColor: palette.background, color: palette.brightBlack, borderRight: `1px solid ${palette.selectionBackground}` },
        ".cm-activeLine": { backgroundColor: mode === "light" ? "#00000008" : "#ffffff08" },
        ".cm-activeLineGutter": { backgroundColor: mode === "light" ? "#0000000d" : "#ffffff0d", color: palette.foreground },
        "&.cm-focused .cm-matchingBracket": { backgroundColor: palette.selectionBackground, outline: "none" },
      },
      { dark: mode === "dark" },
    ),
    syntaxHighlighting(highlightFor(mode)),
  ];
}

export interface FileEditorViewOptions {
  host: HTMLElement;
  path: string;
  content: string;
  /** Called on every change of the text (the element keeps the dirty marker). */
  onChange(content: string): void;
  /** Ctrl+S / Cmd+S. */
  onSave(): void;
  /** Screen readers name the editor by this. */
  label: string;
}

export class FileEditorView {
  readonly language: FileLanguage;
  private readonly view: EditorView;
  private readonly theme = new Compartment();
  private readonly observer: MutationObserver;

  private constructor(options: FileEditorViewOptions, language: FileLanguage, languageSupport: Extension) {
    this.language = language;
    const mode = pageTheme();
    this.view = new EditorView({
      parent: options.host,
      state: EditorState.create({
        doc: options.content,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          EditorState.tabSize.of(2),
          keymap.of([
            // Before the default keymap, so the browser's "save page" never opens.
            { key: "Mod-s", preventDefault: true, run: () => (options.onSave(), true) },
            ...defaultKeymap,
            ...historyKeymap,
            // Tab indents; Escape then Tab leaves the editor (CodeMirror's own way out for keyboard users).
            indentWithTab,
          ]),
          languageSupport,
          this.theme.of(themeFor(mode)),
          EditorView.contentAttributes.of({ "aria-label": options.label, "data-testid": "file-editor-content" }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) options.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    // Starlight switches themes with data-theme on <html>.
    this.observer = new MutationObserver(() => this.view.dispatch({ effects: this.theme.reconfigure(themeFor(pageTheme())) }));
    this.observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  }

  static async create(options: FileEditorViewOptions): Promise<FileEditorView> {
    const language = languageOf(options.path);
    return new FileEditorView(options, language, await languageExtension(language));
  }

  get content(): string {
    return this.view.state.doc.toString();
  }

  /** Replaces the whole text (a reload), keeping the cursor where it can be. */
  setContent(content: string): void {
    const head = Math.min(this.view.state.selection.main.head, content.length);
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: content }, selection: { anchor: head } });
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.observer.disconnect();
    this.view.destroy();
  }
}
