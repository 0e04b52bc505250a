/**
 * Terminal colours for Starlight's two themes. The ANSI palettes are tuned
 * per background: the usual yellow and white are unreadable on a light page.
 */
import type { ITheme } from "@xterm/xterm";

export const darkTheme: ITheme = {
  background: "#17181c",
  foreground: "#e3e4e8",
  cursor: "#e3e4e8",
  cursorAccent: "#17181c",
  selectionBackground: "#4b5263aa",
  black: "#1e2127",
  red: "#ef6b73",
  green: "#8fc26a",
  yellow: "#e5c07b",
  blue: "#61afef",
  magenta: "#c678dd",
  cyan: "#56b6c2",
  white: "#d7dae0",
  brightBlack: "#7f848e",
  brightRed: "#ff7b86",
  brightGreen: "#a5e075",
  brightYellow: "#f0d197",
  brightBlue: "#7cc1ff",
  brightMagenta: "#de8ef0",
  brightCyan: "#6ad1dc",
  brightWhite: "#ffffff",
};

export const lightTheme: ITheme = {
  background: "#f8f8fa",
  foreground: "#23262e",
  cursor: "#23262e",
  cursorAccent: "#f8f8fa",
  selectionBackground: "#9db7e0aa",
  black: "#23262e",
  red: "#c0313a",
  green: "#2d7d1f",
  yellow: "#8a6100",
  blue: "#1f5fbf",
  magenta: "#9131a6",
  cyan: "#0b7480",
  white: "#6b6f78",
  brightBlack: "#5c6370",
  brightRed: "#d9434c",
  brightGreen: "#3a9128",
  brightYellow: "#9c6f00",
  brightBlue: "#2e6fd6",
  brightMagenta: "#a542bb",
  brightCyan: "#128593",
  brightWhite: "#3b3f47",
};

export function pageTheme(): "light" | "dark" {
  return document.documentElement.dataset.theme === "light" ? "light" : "dark";
}

export function themeFor(mode: "light" | "dark"): ITheme {
  return mode === "light" ? lightTheme : darkTheme;
}
