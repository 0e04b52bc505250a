/** Entry for pages that show the settings control without being lab pages (home, self-hosting). */
import { define } from "./define.ts";
import { NwlServerSettings } from "./server-settings-element.ts";

define("nwl-server-settings", NwlServerSettings);
