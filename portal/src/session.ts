// The portal session: the token handed over in the URL fragment (at load, or
// later while the page is open), kept in memory (and in this tab's
// sessionStorage for reloads), and the claims the page needs: organization,
// permissions, expiry, the platform's theme and where to send the customer
// back when the session ends.

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

/** The colours of one scheme, checked for contrast by the server when it minted the session. */
export interface Palette {
  accent: string;
  on_accent: string;
  link: string;
}

export interface Theme {
  name?: string;
  mode: "auto" | "light" | "dark";
  light?: Palette;
  dark?: Palette;
}

export interface Session {
  token: string;
  org: string;
  perms: string[];
  /** Unix seconds. */
  exp: number;
  theme?: Theme;
  /** The platform's page to go back to once the session has ended. */
  returnUrl?: string;
}

/** What the fragment asked the page to open. */
export interface OpenAt {
  destination: string;
  delivery?: string;
}

export type Loaded =
  | { kind: "ok"; session: Session }
  | { kind: "missing" }
  | { kind: "malformed" }
  | { kind: "expired"; session: Session };

function decodeBase64Url(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

const COLOUR = /^#[0-9a-f]{6}$/;

function palette(v: unknown): Palette | undefined {
  const p = v as Partial<Palette> | null;
  return p && [p.accent, p.on_accent, p.link].every((c) => typeof c === "string" && COLOUR.test(c))
    ? { accent: p.accent!, on_accent: p.on_accent!, link: p.link! }
    : undefined;
}

function theme(v: unknown): Theme | undefined {
  if (!v || typeof v !== "object") return undefined;
  const t = v as Record<string, unknown>;
  const mode = t.mode === "light" || t.mode === "dark" ? t.mode : "auto";
  return {
    name: typeof t.name === "string" && t.name.trim() ? t.name.slice(0, 60) : undefined,
    mode,
    light: palette(t.light),
    dark: palette(t.dark),
  };
}

function returnUrl(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  try {
    const url = new URL(v);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a JWT's payload without verifying it: the server verifies every call. */
export function parseToken(token: string): Session | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(decodeBase64Url(parts[1]));
    if (typeof claims.org !== "string" || typeof claims.exp !== "number") return null;
    const perms = Array.isArray(claims.perms) ? claims.perms.filter((p: unknown) => typeof p === "string") : [];
    return {
      token,
      org: claims.org,
      perms,
      exp: claims.exp,
      theme: theme(claims.portal?.theme),
      returnUrl: returnUrl(claims.portal?.return_url),
    };
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

/** True when the address carries a token: `#token=…`. */
export function carriesToken(hash: string): boolean {
  return /^#token=/.test(hash);
}

const ID = /^[a-f0-9]{24}$/;

/** The view the fragment's `destination` and `delivery` open, as a route. */
function routeOf(open: OpenAt | null): string {
  if (!open) return "";
  return open.delivery ? `#/d/${open.destination}/delivery/${open.delivery}` : `#/d/${open.destination}`;
}

/**
 * Takes the session from `#token=…[&destination=…[&delivery=…]]` (then
 * replaces the fragment, in the address bar and in history, with the view it
 * opens) or, on a reload of the same tab, from sessionStorage. Returns what
 * was loaded and what the fragment asked to open.
 */
export function loadSession(): { loaded: Loaded; open: OpenAt | null } {
  let token: string | null = null;
  let open: OpenAt | null = null;
  const handedOver = carriesToken(window.location.hash);
  if (handedOver) {
    const params = new URLSearchParams(window.location.hash.slice(1));
    token = params.get("token") || null;
    const destination = params.get("destination");
    const delivery = params.get("delivery");
    if (destination && ID.test(destination)) {
      open = { destination, delivery: delivery && ID.test(delivery) ? delivery : undefined };
    }
    history.replaceState(history.state, "", window.location.pathname + window.location.search + routeOf(open));
    if (token) storage()?.setItem(STORAGE_KEY, token);
  } else {
    token = storage()?.getItem(STORAGE_KEY) ?? null;
  }
  if (!token) {
    forgetSession();
    return { loaded: { kind: handedOver ? "malformed" : "missing" }, open: null };
  }
  const session = parseToken(token);
  if (!session) {
    forgetSession();
    return { loaded: { kind: "malformed" }, open: null };
  }
  if (session.exp * 1000 <= Date.now()) {
    forgetSession();
    return { loaded: { kind: "expired", session }, open: null };
  }
  return { loaded: { kind: "ok", session }, open };
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
