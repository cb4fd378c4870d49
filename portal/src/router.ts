// Views live in the fragment after the session token is taken from it:
// `#/`, `#/new`, `#/events`, `#/d/{id}`, `#/d/{id}/edit`, `#/d/{id}/delivery/{delivery_id}`,
// and the same under `#/o/` for operational destinations (`#/o/new`, `#/o/{id}`, …).
// A session's link may open one destination or delivery; when that does not
// exist, the page goes to the destinations with a note instead.

import { useEffect, useState } from "preact/hooks";
import type { ApiError, Kind } from "./api";
import { carriesToken, type OpenAt } from "./session";
import { announce, clearNotice } from "./ui";

export type Route =
  | { view: "list" }
  | { view: "new"; kind: Kind }
  | { view: "events" }
  | { view: "destination"; kind: Kind; id: string }
  | { view: "edit"; kind: Kind; id: string }
  | { view: "delivery"; kind: Kind; id: string; deliveryId: string }
  | { view: "unknown" };

/** The fragment's prefix of a destination of `kind`: `#/d` or `#/o`. */
export function base(kind: Kind): string {
  return kind === "operational" ? "#/o" : "#/d";
}

const ID = "([a-zA-Z0-9_-]{1,64})";

function kindOf(letter: string): Kind {
  return letter === "o" ? "operational" : "webhook";
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  let m: RegExpExecArray | null;
  if (path === "/") return { view: "list" };
  if (path === "/new") return { view: "new", kind: "webhook" };
  if (path === "/o/new") return { view: "new", kind: "operational" };
  if (path === "/events") return { view: "events" };
  if ((m = new RegExp(`^/([do])/${ID}$`).exec(path))) return { view: "destination", kind: kindOf(m[1]), id: m[2] };
  if ((m = new RegExp(`^/([do])/${ID}/edit$`).exec(path))) return { view: "edit", kind: kindOf(m[1]), id: m[2] };
  if ((m = new RegExp(`^/([do])/${ID}/delivery/${ID}$`).exec(path))) {
    return { view: "delivery", kind: kindOf(m[1]), id: m[2], deliveryId: m[3] };
  }
  return { view: "unknown" };
}

/** Set by `navigate` so that the message that led there stays on screen. */
let keepNotice = false;

/** Goes to a view after an action; the action's message stays. */
export function navigate(hash: string): void {
  keepNotice = true;
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = hash;
}

/** What the session's link opened, until its view has loaded or failed. */
let opened: OpenAt | null = null;

/** Remembers what a new session's link opens. */
export function openedByLink(open: OpenAt | null): void {
  opened = open;
}

/**
 * Called when a view fails to load what it shows. When it is what the link
 * opened and it does not exist, goes to the destinations with a plain note
 * (true); otherwise the view shows the error itself (false).
 */
export function leaveMissingLink(error: ApiError, destination: string, delivery?: string): boolean {
  const mine = opened && opened.destination === destination && opened.delivery === delivery;
  opened = null;
  if (!mine || (error.status !== 404 && error.status !== 422)) return false;
  navigate("#/");
  announce(
    delivery
      ? "The delivery this link opens does not exist (any more). Here are your destinations."
      : "The destination this link opens does not exist (any more). Here are your destinations.",
    "info",
  );
  return true;
}

/** Called once a view has loaded: what the link opened is there. */
export function linkOpened(): void {
  opened = null;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => {
      // A new session's token: the app takes it and opens that session's view.
      if (carriesToken(window.location.hash)) return;
      if (!keepNotice) clearNotice();
      keepNotice = false;
      setRoute(parseRoute(window.location.hash));
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
