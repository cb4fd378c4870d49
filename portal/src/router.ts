// Views live in the fragment after the session token is taken from it:
// `#/`, `#/new`, `#/events`, `#/d/{id}`, `#/d/{id}/edit`, `#/d/{id}/delivery/{delivery_id}`.

import { useEffect, useState } from "preact/hooks";
import { clearNotice } from "./ui";

export type Route =
  | { view: "list" }
  | { view: "new" }
  | { view: "events" }
  | { view: "destination"; id: string }
  | { view: "edit"; id: string }
  | { view: "delivery"; id: string; deliveryId: string }
  | { view: "unknown" };

const ID = "([a-zA-Z0-9_-]{1,64})";

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  let m: RegExpExecArray | null;
  if (path === "/") return { view: "list" };
  if (path === "/new") return { view: "new" };
  if (path === "/events") return { view: "events" };
  if ((m = new RegExp(`^/d/${ID}$`).exec(path))) return { view: "destination", id: m[1] };
  if ((m = new RegExp(`^/d/${ID}/edit$`).exec(path))) return { view: "edit", id: m[1] };
  if ((m = new RegExp(`^/d/${ID}/delivery/${ID}$`).exec(path))) return { view: "delivery", id: m[1], deliveryId: m[2] };
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

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => {
      if (!keepNotice) clearNotice();
      keepNotice = false;
      setRoute(parseRoute(window.location.hash));
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
