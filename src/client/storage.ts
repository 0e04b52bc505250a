/**
 * Web Storage that never throws: storage can be disabled or full (private
 * modes, sandboxed iframes) and a lab page must still work, just forgetting.
 */
export type KeyValueStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

const memory = new Map<string, string>();
const memoryStore: KeyValueStore = {
  getItem: (key) => memory.get(key) ?? null,
  setItem: (key, value) => void memory.set(key, value),
  removeItem: (key) => void memory.delete(key),
};

function safe(get: () => Storage): KeyValueStore {
  return {
    getItem(key) {
      try {
        return get().getItem(key);
      } catch {
        return memoryStore.getItem(key);
      }
    },
    setItem(key, value) {
      try {
        get().setItem(key, value);
      } catch {
        memoryStore.setItem(key, value);
      }
    },
    removeItem(key) {
      try {
        get().removeItem(key);
      } catch {
        memoryStore.removeItem(key);
      }
    },
  };
}

/** Per tab, survives reloads: sessions and environments. */
export const tabStore = safe(() => sessionStorage);
/** Per browser, survives restarts: settings and progress. */
export const browserStore = safe(() => localStorage);

/** Where a tab keeps a terminal's session id (tabStore), to resume its shell after a reload. */
export const SESSION_KEY_PREFIX = "nwl:session:";
export const sessionKey = (lab: string, name: string): string => `${SESSION_KEY_PREFIX}${lab}:${name}`;

/** Keys of a Storage matching a prefix (for clean-ups). */
export function keysWithPrefix(storage: () => Storage, prefix: string): string[] {
  try {
    const store = storage();
    const keys: string[] = [];
    for (let index = 0; index < store.length; index++) {
      const key = store.key(index);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    return keys;
  } catch {
    return [];
  }
}
