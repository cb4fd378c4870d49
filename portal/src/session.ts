// The portal session: the token handed over in the URL fragment, kept in memory
// (and in this tab's sessionStorage for reloads), and the claims the page needs.

/** Where a reload of the same tab finds the token again (never localStorage). */
const STORAGE_KEY = "edgehook.portal.token";

export const PERM = {
  get: "Webhook:GetWebhookDestination",
  create: "Webhook:CreateWebhookDestination",
  update: "Webhook:UpdateWebhookDestination",
  remove: "Webhook:DeleteWebhookDestination",
  deliveries: "Webhook:GetWebhookDeliveries",
  send: "Webhook:SendWebhookEvent",
} as const;

export interface Session {
  token: string;
  org: string;
  perms: string[];
  /** Unix seconds. */
  exp: number;
}

export type SessionProblem = "missing" | "malformed" | "expired";

function decodeBase64Url(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Reads a JWT's payload without verifying it: the server verifies every call. */
export function parseToken(token: string): Session | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(decodeBase64Url(parts[1]));
    if (typeof claims.org !== "string" || typeof claims.exp !== "number") return null;
    const perms = Array.isArray(claims.perms) ? claims.perms.filter((p: unknown) => typeof p === "string") : [];
    return { token, org: claims.org, perms, exp: claims.exp };
  } catch {
    return null;
  }
}

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage blocked (e.g. some framed contexts): memory only
  }
}

/**
 * Takes the token from `#token=…` (then removes the fragment from the address
 * bar and history) or, on a reload of the same tab, from sessionStorage.
 */
export function loadSession(): Session | SessionProblem {
  let token: string | null = null;
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (match) {
    token = decodeURIComponent(match[1]);
    history.replaceState(history.state, "", window.location.pathname + window.location.search);
    storage()?.setItem(STORAGE_KEY, token);
  } else {
    token = storage()?.getItem(STORAGE_KEY) ?? null;
  }
  if (!token) return "missing";
  const session = parseToken(token);
  if (!session) {
    forgetSession();
    return "malformed";
  }
  if (session.exp * 1000 <= Date.now()) {
    forgetSession();
    return "expired";
  }
  return session;
}

export function forgetSession(): void {
  storage()?.removeItem(STORAGE_KEY);
}

export function can(session: Session, perm: string): boolean {
  return session.perms.includes(perm);
}

/** True when the session may change nothing (only `Get…` permissions). */
export function isReadOnly(session: Session): boolean {
  return !session.perms.some((p) => !/^Webhook:Get/.test(p));
}
