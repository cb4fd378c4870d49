// A destination's delivery log (filters, sorting, paging) and one delivery's
// detail with its body, every attempt and a retry when it failed. A delivery
// published while its destination was paused or disabled reads "Skipped".

import { useEffect, useRef, useState } from "preact/hooks";
import type { Delivery, DeliveryPage, Kind } from "./api";
import { base, leaveMissingLink, linkOpened } from "./router";
import { PERM } from "./session";
import { announce, announceError, ChangeButton, clearNotice, pluralize, Time, useFocusHeading, usePortal } from "./ui";

const SORTS: { value: string; label: string }[] = [
  { value: "-created_at", label: "Newest first" },
  { value: "created_at", label: "Oldest first" },
  { value: "type", label: "Type, A to Z" },
  { value: "-type", label: "Type, Z to A" },
  { value: "status", label: "Status, failed first" },
  { value: "-status", label: "Status, delivered first" },
];

const STATES = ["pending", "retrying", "success", "failed", "skipped"];

export const STATE_LABELS: Record<string, string> = {
  pending: "Pending",
  retrying: "Retrying",
  success: "Delivered",
  failed: "Failed",
  skipped: "Skipped",
};

interface Filters {
  status: string;
  state: string;
  type: string;
  after: string;
  before: string;
  sort: string;
  limit: number;
}

const EMPTY: Filters = { status: "", state: "", type: "", after: "", before: "", sort: "-created_at", limit: 20 };

/** A `datetime-local` value (the reader's local time) as an RFC 3339 UTC time. */
export function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? value : t.toISOString();
}

export function StateBadge({ delivery }: { delivery: Pick<Delivery, "state" | "status"> }) {
  const state = delivery.state ?? (delivery.status === "success" ? "success" : "failed");
  return <span class={`badge badge-${state}`}>{STATE_LABELS[state] ?? state}</span>;
}

export function DeliveryLog({ destinationId, version, kind }: { destinationId: string; version: number; kind: Kind }) {
  const { api, session, eventTypes } = usePortal();
  const [form, setForm] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  /** The continuation tokens that opened the pages before this one (undefined: the first page). */
  const [trail, setTrail] = useState<(number | undefined)[]>([]);
  const [cursor, setCursor] = useState<number | undefined>(undefined);
  const [page, setPage] = useState<DeliveryPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const request = useRef(0);

  async function load(filters: Filters, token: number | undefined, nextTrail: (number | undefined)[]) {
    const serial = ++request.current;
    setLoading(true);
    setError(null);
    try {
      const result = await api.listDeliveries(destinationId, {
        status: filters.status || undefined,
        state: filters.state || undefined,
        type: filters.type || undefined,
        created_after: localToIso(filters.after),
        created_before: localToIso(filters.before),
        sort_by: filters.sort,
        limit: filters.limit,
        continuation_token: token,
      }, kind);
      if (serial !== request.current) return;
      setPage(result);
      setApplied(filters);
      setCursor(token);
      setTrail(nextTrail);
    } catch (err) {
      if (serial !== request.current) return;
      setError((err as Error).message);
      announceError(err);
    } finally {
      if (serial === request.current) setLoading(false);
    }
  }

  useEffect(() => {
    if (!session.perms.includes(PERM.deliveries)) return;
    load(applied, undefined, []);
  }, [destinationId, version]);

  if (!session.perms.includes(PERM.deliveries)) {
    return <p class="muted">This session may not read deliveries.</p>;
  }

  const rows = page?.webhook_deliveries ?? [];
  const pageNumber = trail.length + 1;
  return (
    <section class="log" aria-labelledby="log-title">
      <h2 id="log-title">Deliveries</h2>
      <form class="filters" aria-label="Filter and sort deliveries" onSubmit={(e) => {
        e.preventDefault();
        clearNotice();
        load(form, undefined, []);
      }}>
        <div class="field">
          <label for="flt-status">Status</label>
          <select id="flt-status" value={form.status} onChange={(e) => setForm({ ...form, status: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="success">Delivered (success)</option>
            <option value="failed">Not delivered (failed or skipped)</option>
          </select>
        </div>
        <div class="field">
          <label for="flt-state">State</label>
          <select id="flt-state" value={form.state} onChange={(e) => setForm({ ...form, state: e.currentTarget.value })}>
            <option value="">Any</option>
            {STATES.map((s) => <option key={s} value={s}>{STATE_LABELS[s]}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="flt-type">Event type</label>
          <select id="flt-type" value={form.type} onChange={(e) => setForm({ ...form, type: e.currentTarget.value })}>
            <option value="">Any</option>
            {eventTypes.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="flt-after">Created after</label>
          <input id="flt-after" type="datetime-local" step={1} value={form.after}
            onInput={(e) => setForm({ ...form, after: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="flt-before">Created before</label>
          <input id="flt-before" type="datetime-local" step={1} value={form.before}
            onInput={(e) => setForm({ ...form, before: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="flt-sort">Sort</label>
          <select id="flt-sort" value={form.sort} onChange={(e) => setForm({ ...form, sort: e.currentTarget.value })}>
            {SORTS.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="flt-limit">Per page</label>
          <select id="flt-limit" value={String(form.limit)} onChange={(e) => setForm({ ...form, limit: Number(e.currentTarget.value) })}>
            {[10, 20, 50].map((n) => <option key={n} value={String(n)}>{n}</option>)}
          </select>
        </div>
        <div class="actions">
          <button type="submit" class="button primary" aria-disabled={loading ? "true" : undefined}>Show deliveries</button>
          <button type="button" class="button" onClick={() => {
            setForm(EMPTY);
            load(EMPTY, undefined, []);
          }}>Reset</button>
        </div>
      </form>

      {error && <p class="error-text">{error}</p>}
      {loading && <p aria-busy="true" class="muted">Loading deliveries…</p>}
      {page && !loading && rows.length === 0 && (
        <p class="empty">{pageNumber === 1 ? "No deliveries match." : "No more deliveries."}</p>
      )}
      {page && rows.length > 0 && (
        <table class="table responsive deliveries">
          <caption>
            Page {pageNumber}: {pluralize(rows.length, "delivery", "deliveries")}
            {SORTS.find((s) => s.value === applied.sort) ? `, ${SORTS.find((s) => s.value === applied.sort)!.label.toLowerCase()}` : ""}
          </caption>
          <thead>
            <tr>
              <th scope="col">Delivery</th>
              <th scope="col">Type</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td data-label="Delivery"><a href={`${base(kind)}/${destinationId}/delivery/${d.id}`}><code>{d.id}</code></a></td>
                <td data-label="Type"><code>{d.type}</code></td>
                <td data-label="State"><StateBadge delivery={d} /></td>
                <td data-label="Created"><Time iso={d.created_at} /></td>
                <td data-label="Attempts">{d.delivery_attempts.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && (
        <nav class="pager" aria-label="Delivery pages">
          <button type="button" class="button" disabled={trail.length === 0 || loading}
            onClick={() => load(applied, trail[trail.length - 1], trail.slice(0, -1))}>Previous page</button>
          <button type="button" class="button" disabled={loading}
            onClick={() => load(applied, cursor, trail)}>Refresh</button>
          <button type="button" class="button" disabled={!page.has_more || loading}
            onClick={() => load(applied, page.continuation_token ?? undefined, [...trail, cursor])}>Next page</button>
        </nav>
      )}
    </section>
  );
}

export function DeliveryDetail({ destinationId, deliveryId, kind }: { destinationId: string; deliveryId: string; kind: Kind }) {
  const { api } = usePortal();
  const heading = useFocusHeading("del" + deliveryId);
  const [delivery, setDelivery] = useState<Delivery | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api.getDelivery(destinationId, deliveryId, kind).then(
      (d) => {
        linkOpened();
        setDelivery(d);
        setError(null);
      },
      (e) => {
        if (leaveMissingLink(e, destinationId, deliveryId)) return;
        setError(e.message);
        announceError(e);
      },
    );
  useEffect(() => {
    load();
  }, [destinationId, deliveryId, kind]);

  const failed = delivery && (delivery.state ? delivery.state === "failed" : delivery.status === "failed");
  const skipped = delivery?.state === "skipped";
  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a> / <a href={`${base(kind)}/${destinationId}`}>Destination</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>Delivery <code>{deliveryId}</code></h1>
      {error && <p class="error-text">{error}</p>}
      {!delivery && !error && <p aria-busy="true">Loading…</p>}
      {delivery && (
        <>
          <dl class="settings">
            <div><dt>Type</dt><dd><code>{delivery.type}</code></dd></div>
            <div><dt>State</dt><dd><StateBadge delivery={delivery} /></dd></div>
            <div><dt>Created</dt><dd><Time iso={delivery.created_at} /></dd></div>
            <div><dt>Attempts</dt><dd>{delivery.delivery_attempts.length}</dd></div>
            {delivery.next_retry_at && <div><dt>Next retry</dt><dd><Time iso={delivery.next_retry_at} /></dd></div>}
            <div><dt>Signed with</dt><dd>{delivery.dual_signed ? "both secrets (dual signing)" : "one secret"}</dd></div>
          </dl>
          {skipped && (
            <p class="note" data-testid="skipped-note">
              Skipped: published while this destination was paused or disabled. It is kept but never sent unless you
              recover it ("Recover since…" on the destination's page).
            </p>
          )}
          <div class="actions wrap">
            {failed && (
              <ChangeButton perm={PERM.update} class="button primary" busy={busy} onClick={async () => {
                setBusy(true);
                clearNotice();
                try {
                  await api.retryDelivery(destinationId, deliveryId, kind);
                  announce("Retry started: the delivery is attempted again.");
                  await load();
                } catch (err) {
                  announceError(err);
                } finally {
                  setBusy(false);
                }
              }}>Retry delivery</ChangeButton>
            )}
            <button type="button" class="button" onClick={() => load().then(() => announce("Delivery refreshed.", "info"))}>
              Refresh
            </button>
          </div>

          <h2>Body</h2>
          <pre class="code" tabIndex={0} aria-label="Webhook body">{JSON.stringify(delivery.webhook_content, null, 2)}</pre>

          <h2>Attempts</h2>
          {delivery.delivery_attempts.length === 0 ? (
            <p class="empty">{skipped ? "Never attempted: it was skipped." : "Not attempted yet."}</p>
          ) : (
            <ol class="attempts">
              {delivery.delivery_attempts.map((a, i) => (
                <li key={i} class="attempt">
                  <h3>Attempt {i + 1}</h3>
                  <dl class="settings">
                    <div><dt>Time</dt><dd><Time iso={a.delivery_time} /></dd></div>
                    <div><dt>Status code</dt><dd>{a.status_code === 0 ? "0 (no HTTP answer)" : a.status_code}</dd></div>
                    <div><dt>Duration</dt><dd>{a.duration_ms === undefined ? "—" : `${a.duration_ms} ms`}</dd></div>
                    <div><dt>Error</dt><dd>{a.error ?? "none"}</dd></div>
                  </dl>
                  {a.response_body ? (
                    <details>
                      <summary>Response body{a.response_body_truncated ? " (first 4 KB)" : ""}</summary>
                      <pre class="code">{a.response_body}</pre>
                    </details>
                  ) : null}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
