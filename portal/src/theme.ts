// The platform's look on the page: light or dark (the session's mode, or the
// reader's system preference), and the accent colours the server checked for
// contrast when it minted the session. Without a theme the portal keeps its
// own look.

import type { Theme } from "./session";

const DEFAULT_TITLE = "Webhooks";
const prefersDark = window.matchMedia?.("(prefers-color-scheme: dark)");
let current: Theme | undefined;

function paint(): void {
  const root = document.documentElement;
  const mode = current?.mode && current.mode !== "auto" ? current.mode : prefersDark?.matches ? "dark" : "light";
  root.dataset.mode = mode;
  const palette = mode === "dark" ? current?.dark : current?.light;
  const vars: [string, string | undefined][] = [
    ["--accent", palette?.accent],
    ["--accent-text", palette?.on_accent],
    ["--link", palette?.link],
  ];
  for (const [name, value] of vars) {
    if (value) root.style.setProperty(name, value);
    else root.style.removeProperty(name);
  }
  document.title = current?.name ? `${current.name} · ${DEFAULT_TITLE}` : DEFAULT_TITLE;
}

/** Applies a session's theme (none: the portal's own), and follows the system's mode while it is `auto`. */
export function applyTheme(theme: Theme | undefined): void {
  current = theme;
  paint();
}

/** The name the header shows. */
export function brandName(theme: Theme | undefined): string {
  return theme?.name ?? DEFAULT_TITLE;
}

prefersDark?.addEventListener?.("change", paint);
paint();
