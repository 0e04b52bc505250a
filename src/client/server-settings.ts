/** Entry for pages that show the settings control without being lab pages (home, self-hosting). */
import { takeAccessLinkFromLocation } from "./access.ts";
import { define } from "./define.ts";
import { NwlServerSettings } from "./server-settings-element.ts";

takeAccessLinkFromLocation();
define("nwl-server-settings", NwlServerSettings);
