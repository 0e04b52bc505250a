/**
 * The phone key bar above the drawer's terminal: the keys a phone keyboard
 * lacks. Esc, Tab and the arrows go straight to the active terminal; Ctrl is
 * sticky: the next key typed in the pane is sent as Ctrl+key (Ctrl, then c:
 * an interrupt). The buttons never take the focus, so the phone's keyboard
 * stays up.
 */
import type { Terminal } from "@xterm/xterm";

interface KeyTarget {
  sendKeys(data: string): void;
  readonly xterm: Terminal | undefined;
  reveal(focus?: boolean): void;
}

/** Arrow keys as the terminal asks for them: normal (CSI) or application cursor mode (SS3, e.g. in less or vim). */
function arrow(target: KeyTarget, letter: string): string {
  return target.xterm?.modes.applicationCursorKeysMode ? `\x1bO${letter}` : `\x1b[${letter}`;
}

const KEYS: Record<string, (target: KeyTarget) => string> = {
  esc: () => "\x1b",
  tab: () => "\t",
  up: (target) => arrow(target, "A"),
  down: (target) => arrow(target, "B"),
  right: (target) => arrow(target, "C"),
  left: (target) => arrow(target, "D"),
};

/** The control character for Ctrl+key: letters and @[\]^_ map to 0–31, ? to DEL; other keys have none. */
export function controlCharacter(key: string): string | undefined {
  if (key.length !== 1) return undefined;
  if (key === "?") return "\x7f";
  if (key === " ") return "\x00";
  // Only ASCII letters are uppercased: "ß".toUpperCase() is "SS", which must not become ^S.
  const typed = key.charCodeAt(0);
  const code = typed >= 97 && typed <= 122 ? typed - 32 : typed;
  return code >= 64 && code <= 95 ? String.fromCharCode(code - 64) : undefined;
}

export function installKeyBar(bar: HTMLElement, pane: HTMLElement, activeTerminal: () => KeyTarget | undefined): void {
  const ctrl = bar.querySelector<HTMLButtonElement>('[data-key="ctrl"]')!;
  const armCtrl = (on: boolean) => ctrl.setAttribute("aria-pressed", String(on));
  const ctrlArmed = () => ctrl.getAttribute("aria-pressed") === "true";

  // The terminal keeps the focus (and the phone its keyboard) when a key of the bar is pressed.
  bar.addEventListener("mousedown", (event) => event.preventDefault());
  bar.addEventListener("click", (event) => {
    const key = (event.target as Element).closest<HTMLElement>("[data-key]")?.dataset.key;
    const target = activeTerminal();
    if (!key || !target) return;
    if (key === "ctrl") {
      armCtrl(!ctrlArmed());
    } else {
      target.sendKeys(KEYS[key]!(target));
      armCtrl(false);
    }
    target.reveal(true);
  });

  const sendWithCtrl = (event: Event, key: string): void => {
    const target = activeTerminal();
    const control = controlCharacter(key);
    if (!ctrlArmed() || !target || control === undefined || !pane.contains(event.target as Node)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    armCtrl(false);
    target.sendKeys(control);
  };
  // Capture phase, before xterm's own handlers: a hardware key, or a phone keyboard's text input.
  document.addEventListener(
    "keydown",
    (event) => {
      if (!event.ctrlKey && !event.altKey && !event.metaKey) sendWithCtrl(event, event.key);
    },
    { capture: true },
  );
  document.addEventListener(
    "beforeinput",
    (event) => {
      if (event.inputType === "insertText" && event.data) sendWithCtrl(event, event.data);
    },
    { capture: true },
  );
}
