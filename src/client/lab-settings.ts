/**
 * The reader's settings for the lab pane, kept in the browser: whether the
 * terminals run in xterm's screen reader mode (an accessible text view of the
 * screen that a screen reader can read and follow).
 */
import { browserStore } from "./storage.ts";

const SCREEN_READER_KEY = "nwl:screen-reader-mode";
export const SCREEN_READER_CHANGED = "nwl:screen-reader-mode";

export function screenReaderMode(): boolean {
  return browserStore.getItem(SCREEN_READER_KEY) === "on";
}

export function setScreenReaderMode(on: boolean): void {
  if (on) browserStore.setItem(SCREEN_READER_KEY, "on");
  else browserStore.removeItem(SCREEN_READER_KEY);
  window.dispatchEvent(new CustomEvent(SCREEN_READER_CHANGED, { detail: on }));
}
