/**
 * The page's one LabStore per lab, on the lab server the page uses: the
 * checkpoints, the progress and the terminals all read the same one. A new
 * server (the reader changed it under Server) gets a new store.
 */
import { LabApiClient } from "./lab-api-client.ts";
import { LabStore } from "./lab-store.ts";
import { SERVER_CHANGED, serverUrl } from "./settings.ts";
import { browserStore } from "./storage.ts";

const stores = new Map<string, LabStore>();
/** Tabs of this browser tell each other when they changed an environment (a check, a solve, a reset): the others ask the server again. */
const tabs = typeof BroadcastChannel === "undefined" ? undefined : new BroadcastChannel("nwl:lab");

/** The lab's checkpoint ids in order, as the build wrote them on the page's <nwl-lab>. */
function checkpointOrder(lab: string): string[] {
  const root = document.querySelector<HTMLElement>(`nwl-lab[data-lab="${CSS.escape(lab)}"], [data-lab="${CSS.escape(lab)}"][data-checkpoints]`);
  return (root?.dataset.checkpoints ?? "").split(",").filter(Boolean);
}

export function labStore(lab: string): LabStore {
  let store = stores.get(lab);
  if (!store || store.server !== serverUrl()) {
    const server = serverUrl();
    store = new LabStore({
      lab,
      order: checkpointOrder(lab),
      backend: new LabApiClient(server, lab),
      memory: browserStore,
      onChanged: () => tabs?.postMessage({ server, lab }),
    });
    stores.set(lab, store);
    void store.refresh();
  }
  return store;
}

/** Subscribes to a lab's store, and to its successor when the server changes; returns an unsubscribe. The listener gets the store it heard from. */
export function subscribeLab(lab: string, listener: (snapshot: LabStore["state"], store: LabStore) => void): () => void {
  const follow = (store: LabStore) => store.subscribe((snapshot) => listener(snapshot, store));
  let unsubscribe = follow(labStore(lab));
  const replaced = () => {
    unsubscribe();
    unsubscribe = follow(labStore(lab));
  };
  window.addEventListener(SERVER_CHANGED, replaced);
  return () => {
    unsubscribe();
    window.removeEventListener(SERVER_CHANGED, replaced);
  };
}

// Another tab of this browser changed the environment: ask the server again.
tabs?.addEventListener("message", (event: MessageEvent<{ server?: string; lab?: string }>) => {
  for (const store of stores.values()) if (store.server === event.data.server && store.lab === event.data.lab) void store.refresh();
});
// Back to a tab after a while: the environment may have changed meanwhile (a reset elsewhere, a restart).
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") for (const store of stores.values()) void store.refresh();
});
