/**
 * A reader's progress through a lab, kept in localStorage so it survives
 * reloads and restarts. The latest check of a checkpoint wins: progress says
 * what the server last confirmed, not what once was true.
 */
import { browserStore } from "./storage.ts";

export const PROGRESS_CHANGED = "nwl:progress";

export interface CheckpointRecord {
  passed: boolean;
  at: number;
}

type Progress = Record<string, CheckpointRecord>;

const key = (lab: string) => `nwl:progress:${lab}`;

export function readProgress(lab: string): Progress {
  try {
    const value = JSON.parse(browserStore.getItem(key(lab)) ?? "{}") as unknown;
    return value && typeof value === "object" ? (value as Progress) : {};
  } catch {
    return {};
  }
}

export function recordCheck(lab: string, checkpoint: string, passed: boolean): void {
  const progress = readProgress(lab);
  progress[checkpoint] = { passed, at: Date.now() };
  browserStore.setItem(key(lab), JSON.stringify(progress));
  announce(lab);
}

export function resetProgress(lab: string): void {
  browserStore.removeItem(key(lab));
  announce(lab);
}

function announce(lab: string): void {
  window.dispatchEvent(new CustomEvent(PROGRESS_CHANGED, { detail: { lab } }));
}

/** Calls back on changes from this page and from other tabs (the storage event). */
export function onProgressChange(lab: string, callback: () => void): () => void {
  const local = (event: Event) => (event as CustomEvent<{ lab: string }>).detail.lab === lab && callback();
  const other = (event: StorageEvent) => (event.key === key(lab) || event.key === null) && callback();
  window.addEventListener(PROGRESS_CHANGED, local);
  window.addEventListener("storage", other);
  return () => {
    window.removeEventListener(PROGRESS_CHANGED, local);
    window.removeEventListener("storage", other);
  };
}
