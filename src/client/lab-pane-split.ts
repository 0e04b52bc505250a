/**
 * The split between the text and the lab pane on wide screens: the pane's
 * left edge drags (pointer) and moves with the arrow keys (a focusable
 * separator). The width is --nwl-pane-width on <html>, remembered in the
 * browser; CSS (labs.css) keeps it within what leaves the text readable.
 */
import { browserStore } from "./storage.ts";

const KEY = "nwl:pane-width";
const STEP_PX = 24;
const MIN_PX = 320;
/** The text keeps at least this much (24rem), besides Starlight's sidebar. */
const TEXT_MIN_PX = 384;

/** A length custom property of <html> in pixels (Starlight's are in rem). */
function lengthOf(property: string): number {
  const style = getComputedStyle(document.documentElement);
  const value = style.getPropertyValue(property).trim();
  const number = parseFloat(value) || 0;
  return value.endsWith("rem") ? number * (parseFloat(style.fontSize) || 16) : number;
}

/** As labs.css clamps --nwl-pane-inline: the text keeps its minimum besides Starlight's sidebar and a TOC column. */
function bounds(): { min: number; max: number } {
  const taken = lengthOf("--sl-content-inline-start") + lengthOf("--nwl-toc-inline");
  return { min: MIN_PX, max: Math.max(MIN_PX, innerWidth - taken - TEXT_MIN_PX) };
}

export function installPaneSplit(pane: HTMLElement, divider: HTMLElement): void {
  const root = document.documentElement;
  const width = () => pane.getBoundingClientRect().width;
  const saved = Number(browserStore.getItem(KEY));
  if (saved > 0) root.style.setProperty("--nwl-pane-width", `${saved}px`);

  const describe = () => {
    const { min, max } = bounds();
    divider.setAttribute("aria-valuemin", String(Math.round(min)));
    divider.setAttribute("aria-valuemax", String(Math.round(max)));
    divider.setAttribute("aria-valuenow", String(Math.round(width())));
    divider.setAttribute("aria-valuetext", `${Math.round((100 * width()) / innerWidth)}% of the window`);
  };
  /** The width while dragging: the CSS variable only (no layout read, no storage write per pointer move). */
  const apply = (px: number, limits = bounds()) => {
    const clamped = Math.round(Math.min(limits.max, Math.max(limits.min, px)));
    root.style.setProperty("--nwl-pane-width", `${clamped}px`);
    return clamped;
  };
  /** The width settled (a key, the end of a drag): kept for the next visit, and told to assistive tech. */
  const set = (px: number) => {
    browserStore.setItem(KEY, String(apply(px)));
    describe();
  };

  divider.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    divider.setPointerCapture(event.pointerId);
    pane.toggleAttribute("data-resizing", true);
    const rtl = getComputedStyle(pane).direction === "rtl";
    const limits = bounds();
    let last = width();
    const move = (moved: PointerEvent) => (last = apply(rtl ? moved.clientX : innerWidth - moved.clientX, limits));
    const end = () => {
      set(last);
      pane.removeAttribute("data-resizing");
      divider.removeEventListener("pointermove", move);
      divider.removeEventListener("pointerup", end);
      divider.removeEventListener("pointercancel", end);
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", end);
    divider.addEventListener("pointercancel", end);
  });

  // Left widens the pane (it grows towards the text), Right narrows it; Home/End to the limits.
  divider.addEventListener("keydown", (event) => {
    const rtl = getComputedStyle(pane).direction === "rtl";
    const step = (event.shiftKey ? 4 : 1) * STEP_PX;
    const { min, max } = bounds();
    const next = {
      ArrowLeft: width() + (rtl ? -step : step),
      ArrowRight: width() + (rtl ? step : -step),
      Home: max,
      End: min,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    set(next);
  });
  divider.addEventListener("focus", describe);
  addEventListener("resize", describe);
  describe();
}
