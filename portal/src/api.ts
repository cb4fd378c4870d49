// The edgehook API as the portal calls it: same origin, `/v1/{org}/…`, the
// session token as a Bearer, and every failure turned into plain words.

import type { Session } from "./session";

export interface Destination {
  id: string;
  url: string;
  name: string | null;
  accepted_types: string[];
  retry_attempts: number;
  timeout_seconds: number;
  is_active: boolean;
  /** At most this many webhooks a second (1–1000); null: no limit. */
  max_per_second?: number | null;
  /** "failing" when edgehook disabled it; null when active or paused by its owner. */
  disabled_reason?: string | null;
  disabled_at?: string | null;
  created_at: string;
  secret_generated_at: string;
  /** How `webhook-signature` is made: HMAC with the secret, or ed25519 with a key pair. */
  signing?: Signing;
  /** The ed25519 public key (`whpk_…`) receivers verify with; null for HMAC. */
  public_key?: string | null;
}

export type Signing = "hmac" | "ed25519";

/** Webhook destinations take the platform's events; operational ones take edgehook's own. */
export type Kind = "webhook" | "operational";

export type DeliveryState = "pending" | "retrying" | "success" | "failed" | "skipped";

export type StateCounts = Record<DeliveryState, number>;

/** `GET …/stats`: a destination's health over whole hours. */
export interface DestinationStats {
  since: string;
  until: string;
  deliveries: StateCounts;
  /** Delivered among finished deliveries, 0–1; null when none finished. */
  success_rate: number | null;
  attempts: number;
  attempt_success_rate: number | null;
  latency: { p50_ms?: number | null; p95_ms?: number | null; p99_ms?: number | null };
  /** Only the hours that have counts, oldest first. */
  series: { hour: string; deliveries: StateCounts; attempts: number; success_rate: number | null }[];
  /** The failing streak now, whatever the range: all null (and 0) while not failing. */
  health: DestinationHealth;
}

export interface DestinationHealth {
  failing_since: string | null;
  exhausted_deliveries: number;
  /** The last `destination.failing` warning, in percent of the time to disable (50, 75 or 90). */
  last_warning_percent: number | null;
  last_warning_at: string | null;
  last_error: string | null;
  /** When it is disabled if nothing succeeds; null once disabled or while not failing. */
  disable_at: string | null;
}

export interface RecoverRequest {
  since: string;
  until?: string;
  states?: ("failed" | "skipped")[];
  dry_run?: boolean;
}

export interface RecoveryProgress {
  state: "running" | "done";
  count: number;
  done: number;
  failed: number;
}

export interface Attempt {
  delivery_time: string;
  status_code: number;
  duration_ms?: number;
  error?: string | null;
  response_body?: string | null;
  response_body_truncated?: boolean;
}

export interface Delivery {
  id: string;
  type: string;
  webhook_content: unknown;
  status: "success" | "failed";
  state?: DeliveryState;
  delivery_attempts: Attempt[];
  dual_signed: boolean;
  created_at: string;
  next_retry_at?: string | null;
}

export interface DeliveryPage {
  webhook_deliveries: Delivery[];
  has_more: boolean;
  continuation_token: number | null;
}

export interface EventType {
  type: string;
  description: string;
  schema: unknown;
  example: unknown;
  /** edgehook's own events, for operational destinations. */
  operational?: boolean;
}

export interface FieldProblem {
  /** The field's key in the request (`url`, `retry_attempts`, …). */
  field: string;
  /** Where exactly, for people: "Event types (item 1)". */
  label: string;
  message: string;
}

/** The event types of the API (its `WebhookType`), used until the catalog answers. */
export const WEBHOOK_TYPES = [
  "conversation-post-processing-complete",
  "api-key-expiration-soon",
  "agent-framework-resource-updated",
];

/** edgehook's operational events, used until the catalog answers. */
export const OPERATIONAL_TYPES = [
  "destination.failing",
  "destination.disabled",
  "destination.recovered",
  "delivery.exhausted",
  "destination.created",
  "destination.updated",
  "destination.deleted",
];

const FIELD_LABELS: Record<string, string> = {
  url: "URL",
  name: "Name",
  accepted_types: "Event types",
  retry_attempts: "Retries",
  timeout_seconds: "Timeout",
  max_per_second: "Webhooks per second",
  is_active: "Active",
  since: "Since",
  until: "Until",
  states: "States",
  dry_run: "Dry run",
  status: "Status",
  state: "State",
  type: "Event type",
  created_after: "Created after",
  created_before: "Created before",
  limit: "Page size",
  sort_by: "Sort",
  continuation_token: "Page",
};

function fieldProblem(loc: unknown, msg: unknown): FieldProblem {
  const parts = Array.isArray(loc) ? loc.map(String) : [];
  const path = parts[0] === "body" || parts[0] === "query" || parts[0] === "path" ? parts.slice(1) : parts;
  const field = path[0] ?? "request";
  let label = FIELD_LABELS[field] ?? field;
  const index = path[1];
  if (index !== undefined && /^\d+$/.test(index)) label += ` (item ${Number(index) + 1})`;
  return { field, label, message: typeof msg === "string" ? msg : "is not valid" };
}

/** A failed call, with the words to show for it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldProblem[] = [],
    readonly retryAfter: number | null = null,
    /** The server's own words, when it gave a sentence rather than field errors. */
    readonly detail: string = "",
  ) {
    super(message);
  }
}

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : s + ".";
}

function seconds(n: number): string {
  return n === 1 ? "1 second" : `${n} seconds`;
}

function describe(status: number, detail: string, retryAfter: number | null, fields: FieldProblem[]): string {
  switch (status) {
    case 400:
      return `Refused: ${detail || "the request was not accepted"}.`.replace(/\.\.$/, ".");
    case 401:
      return "Your session has ended: it expired or was revoked. Ask for a new link to continue.";
    case 403:
      return "Refused: this session is not allowed to make this change (it is read-only)." +
        (detail ? ` ${sentence(detail)}` : "");
    case 404:
      return "Not found." + (detail ? ` ${sentence(detail)}` : "");
    case 409:
      return "Another change to this destination is in progress. Try again in a moment.";
    case 422:
      return fields.length
        ? "Some values were not accepted: " + fields.map((f) => `${f.label}: ${f.message}`).join("; ") + "."
        : "Some values were not accepted." + (detail ? ` ${sentence(detail)}` : "");
    case 429:
      return retryAfter !== null
        ? `Too many requests. Wait ${seconds(retryAfter)} and try again.`
        : "Too many requests. Wait a minute and try again.";
    case 503:
      return "edgehook is down for maintenance." +
        (retryAfter !== null ? ` Try again in ${seconds(retryAfter)}.` : " Try again later.");
    default:
      return `The server could not handle the request (HTTP ${status}). Try again.` +
        (detail ? ` ${sentence(detail)}` : "");
  }
}

async function errorFrom(response: Response): Promise<ApiError> {
  let detail = "";
  let fields: FieldProblem[] = [];
  try {
    const body = await response.json();
    if (Array.isArray(body?.detail)) {
      fields = body.detail.map((d: { loc?: unknown; msg?: unknown }) => fieldProblem(d.loc, d.msg));
    } else if (typeof body?.detail === "string") {
      detail = body.detail;
    }
  } catch {
    // no JSON body: the status alone speaks
  }
  const header = response.headers.get("Retry-After");
  let retryAfter: number | null = null;
  if (header !== null) {
    const n = Number(header);
    retryAfter = Number.isFinite(n)
      ? Math.max(0, Math.ceil(n))
      : Math.max(0, Math.ceil((Date.parse(header) - Date.now()) / 1000)) || null;
  }
  return new ApiError(response.status, describe(response.status, detail, retryAfter, fields), fields, retryAfter, detail);
}

type Query = Record<string, string | number | string[] | undefined>;

function collection(kind: Kind): string {
  return kind === "operational" ? "/operational_destination/" : "/webhook_destination/";
}

/** One client per session; `onEnded` runs once when the server answers 401. */
export class Api {
  private ended = false;

  constructor(
    private readonly session: Session,
    private readonly onEnded: (message: string) => void,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    if (this.ended) throw new ApiError(401, describe(401, "", null, []));
    let url = `/v1/${encodeURIComponent(this.session.org)}${path}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v === undefined || v === "") continue;
        for (const one of Array.isArray(v) ? v : [v]) params.append(k, String(one));
      }
      const qs = params.toString();
      if (qs) url += "?" + qs;
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.session.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "Could not reach edgehook. Check the connection and try again.");
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401 && !this.ended) {
        this.ended = true;
        this.onEnded(error.message);
      }
      throw error;
    }
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new ApiError(response.status, "The server's answer could not be read. Try again.");
    }
  }

  private dest(id: string, suffix = "", kind: Kind = "webhook"): string {
    return `${collection(kind)}${encodeURIComponent(id)}${suffix}`;
  }

  listDestinations(kind: Kind = "webhook"): Promise<Destination[]> {
    // Operational destinations answer in the same shape, field names included.
    return this.call<{ webhook_destinations: Destination[] }>("GET", collection(kind))
      .then((r) => r.webhook_destinations);
  }

  getDestination(id: string, kind: Kind = "webhook"): Promise<Destination> {
    return this.call("GET", this.dest(id, "", kind));
  }

  createDestination(body: {
    url: string;
    name?: string;
    accepted_types: string[];
    retry_attempts: number;
    timeout_seconds: number;
    max_per_second?: number | null;
    signing?: Signing;
  }, kind: Kind = "webhook"): Promise<{ webhook_destination_id: string; secret: string }> {
    return this.call("POST", collection(kind), body);
  }

  updateDestination(id: string, body: Partial<Pick<Destination,
    "name" | "accepted_types" | "retry_attempts" | "timeout_seconds" | "is_active" | "max_per_second">>,
  kind: Kind = "webhook"): Promise<void> {
    return this.call("POST", this.dest(id, "", kind), body);
  }

  deleteDestination(id: string, kind: Kind = "webhook"): Promise<void> {
    return this.call("DELETE", this.dest(id, "", kind));
  }

  rotateSecret(id: string, kind: Kind = "webhook"): Promise<{
    secret: string; dual_signing_stops_at: string; public_key?: string;
  }> {
    return this.call("POST", this.dest(id, "/rotate-secret", kind));
  }

  listDeliveries(id: string, query: Query, kind: Kind = "webhook"): Promise<DeliveryPage> {
    return this.call("GET", this.dest(id, "/delivery", kind), undefined, query);
  }

  getDelivery(id: string, deliveryId: string, kind: Kind = "webhook"): Promise<Delivery> {
    return this.call("GET", this.dest(id, `/delivery/${encodeURIComponent(deliveryId)}`, kind));
  }

  retryDelivery(id: string, deliveryId: string, kind: Kind = "webhook"): Promise<unknown> {
    return this.call("POST", this.dest(id, `/delivery/${encodeURIComponent(deliveryId)}/retry`, kind));
  }

  /** Health over `[since, until]` (whole hours, at most 30 days). */
  stats(id: string, since: string, kind: Kind = "webhook"): Promise<DestinationStats> {
    return this.call("GET", this.dest(id, "/stats", kind), undefined, { since });
  }

  /** Starts a recovery (or, with `dry_run`, only counts). */
  recover(id: string, body: RecoverRequest, kind: Kind = "webhook"): Promise<{
    recovery_id: string | null; count: number;
  }> {
    return this.call("POST", this.dest(id, "/recover", kind), body);
  }

  recovery(id: string, recoveryId: string, kind: Kind = "webhook"): Promise<RecoveryProgress> {
    return this.call("GET", this.dest(id, `/recover/${encodeURIComponent(recoveryId)}`, kind));
  }

  sendTestEvent(id: string, type: string): Promise<{ delivery_id: string }> {
    return this.call("POST", this.dest(id, "/test"), { type });
  }

  eventTypes(): Promise<EventType[]> {
    return this.call<{ event_types: EventType[] }>("GET", "/event_type/").then((r) => r.event_types);
  }
}
