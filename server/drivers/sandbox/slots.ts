/**
 * uid/gid ranges of sandbox environments: slot N is host ids
 * base + N*65536 … base + N*65536 + 65535, mapped to 0 … 65535 inside.
 *
 * Two live environments must never share a range (same host uid: they could
 * signal each other's processes or read each other's files), whichever lab
 * server made them: slots are claimed machine-wide, by creating a file
 * `<slot>` exclusively in one folder (default /run/nix-way-labs/sandbox-slots,
 * on a tmpfs where there is one: after a reboot every sandbox is gone). The
 * file names the data dir and environment that hold it, so a later server
 * can clean up after one that was killed.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";

export const RANGE_SIZE = 65_536;
export const DEFAULT_UID_BASE = 1_000_000;
export const DEFAULT_SLOTS_DIR = "/run/nix-way-labs/sandbox-slots";

export interface SlotClaim {
  slot: number;
  /** First host uid (and gid) of the range: uid 0 inside. */
  base: number;
  file: string;
}

export interface SlotOwner {
  dataDir: string;
  environment: string;
  /** The environment's record (written right after the claim, removed with the environment). */
  record: string;
  /** The lab server that claimed it. */
  serverPid: number;
}

/** A claim this old whose record is gone (a data dir wiped by hand) and whose range no process uses is free again. */
const ORPHAN_AFTER_MS = 60_000;

export function slotBase(uidBase: number, slot: number): number {
  return uidBase + slot * RANGE_SIZE;
}

/** The highest slot whose range still fits below 2^32 - 1 (the kernel's invalid uid). */
export function maxSlot(uidBase: number): number {
  return Math.floor((0xffffffff - 1 - uidBase) / RANGE_SIZE) - 1;
}

/** Processes (zombies aside: they hold nothing) with a real, effective or saved uid inside the range: an environment's, or a nested namespace's. */
export function processesInRange(base: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      if (/^State:\s+[ZX]/m.test(status)) continue;
      if (uids && [uids[1], uids[2], uids[3]].some((uid) => Number(uid) >= base && Number(uid) < base + RANGE_SIZE)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

export class SlotRegistry {
  readonly dir: string;
  readonly uidBase: number;
  readonly maxSlots: number;

  constructor(options: { dir?: string; uidBase?: number; maxSlots?: number } = {}) {
    this.dir = options.dir ?? DEFAULT_SLOTS_DIR;
    this.uidBase = options.uidBase ?? DEFAULT_UID_BASE;
    this.maxSlots = Math.min(options.maxSlots ?? 4096, maxSlot(this.uidBase) + 1);
  }

  private file(slot: number): string {
    return path.join(this.dir, String(slot));
  }

  /** Claims the lowest free slot; throws when every slot is taken. */
  claim(owner: SlotOwner): SlotClaim {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const listed = this.list();
    const orphans = new Set(listed.filter((entry) => this.orphaned(entry)).map((entry) => entry.slot));
    const taken = new Set(listed.map((entry) => entry.slot).filter((slot) => !orphans.has(slot)));
    for (let slot = 0; slot < this.maxSlots; slot++) {
      if (taken.has(slot)) continue;
      const file = this.file(slot);
      let fd: number;
      try {
        if (orphans.has(slot) && !this.reclaim(slot)) continue;
        fd = openSync(file, "wx", 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw error;
      }
      const base = slotBase(this.uidBase, slot);
      // A range some process still uses (a sandbox of a server whose files were wiped) is not free.
      if (processesInRange(base).length) {
        closeSync(fd);
        rmSync(file, { force: true });
        continue;
      }
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return { slot, base, file };
    }
    throw new Error(`no free sandbox uid range: all ${this.maxSlots} slots in ${this.dir} are taken`);
  }

  /** A claim left by a data dir wiped by hand: old, its record gone, nothing running with its ids. */
  private orphaned(entry: { slot: number; owner: SlotOwner | undefined }): boolean {
    if (!entry.owner?.record || existsSync(entry.owner.record)) return false;
    try {
      if (Date.now() - statSync(this.file(entry.slot)).mtimeMs < ORPHAN_AFTER_MS) return false;
    } catch {
      return false;
    }
    return processesInRange(slotBase(this.uidBase, entry.slot)).length === 0;
  }

  /**
   * Removes an orphaned claim's file, checking again under a lock (a folder
   * made exclusively): only reclaims remove claims, so two servers never
   * remove a claim just made.
   */
  private reclaim(slot: number): boolean {
    const lock = path.join(this.dir, ".reclaiming");
    try {
      mkdirSync(lock);
    } catch {
      try {
        // A reclaimer killed while holding it.
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      return false;
    }
    try {
      const entry = this.list().find((candidate) => candidate.slot === slot);
      if (!entry || !this.orphaned(entry)) return false;
      rmSync(this.file(slot), { force: true });
      return true;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }

  release(slot: number): void {
    rmSync(this.file(slot), { force: true });
  }

  /** Every claimed slot, with its owner when the file is readable. */
  list(): { slot: number; owner: SlotOwner | undefined }[] {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return [];
    }
    return entries
      .filter((entry) => /^\d+$/.test(entry))
      .map((entry) => {
        let owner: SlotOwner | undefined;
        try {
          owner = JSON.parse(readFileSync(this.file(Number(entry)), "utf8")) as SlotOwner;
        } catch {
          // being written, or damaged
        }
        return { slot: Number(entry), owner };
      });
  }
}
