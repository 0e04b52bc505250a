/**
 * On every page of the site (LabContent.astro): the lab server prints an
 * access link to this site with its token in the fragment; whichever page it
 * opens keeps the token and takes it out of the address bar. Then links to
 * lab pages show the reader's progress in each. Tiny on purpose.
 */
import { takeAccessLinkFromLocation } from "./access.ts";
import { showSeriesProgress } from "./series-progress.ts";

takeAccessLinkFromLocation();
void showSeriesProgress();
