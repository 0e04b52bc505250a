/**
 * <nwl-environment-kind>: of the environment kinds a page describes, marks
 * the one this page's lab server gives (from its /healthz `driver`), so the
 * page says which one the reader is in. With no server answering, all stay
 * as written, none marked.
 */
import { define } from "./define.ts";
import { probeServer } from "./server-probe.ts";
import { SERVER_CHANGED, serverUrl } from "./settings.ts";

class EnvironmentKindElement extends HTMLElement {
  connectedCallback(): void {
    void this.update();
    window.addEventListener(SERVER_CHANGED, () => void this.update());
  }

  private async update(): Promise<void> {
    const probe = await probeServer(serverUrl());
    const driver = probe.ok ? probe.driver : undefined;
    if (driver) this.dataset.current = driver;
    else delete this.dataset.current;
    for (const kind of this.querySelectorAll<HTMLElement>("[data-driver]")) {
      kind.toggleAttribute("data-yours", kind.dataset.driver === driver);
    }
  }
}

define("nwl-environment-kind", EnvironmentKindElement);
