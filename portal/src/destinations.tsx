// Destinations: the list (webhook destinations, then the organization's
// operational destinations under their own heading), the create and edit
// forms, and one destination's page with its health, actions (pause, rotate,
// test event, recover, delete) and delivery log.

import { useEffect, useState } from "preact/hooks";
import { ApiError, type Destination, type Kind, type Signing } from "./api";
import { DeliveryLog } from "./deliveries";
import { ActiveBadge, destinationState, HealthPanel, RecoverPanel, StatsPanel } from "./health";
import { PERM } from "./session";
import {
  announce, announceError, ChangeButton, clearNotice, ConfirmDialog, Field, fieldError, pluralize,
  SecretPanel, Time, useFocusHeading, usePortal,
} from "./ui";
import { base, leaveMissingLink, linkOpened, navigate } from "./router";

export function displayName(d: Destination): string {
  return d.name || "Unnamed destination";
}

function Types({ types }: { types: string[] }) {
  if (!types.length) return <span class="muted">none</span>;
  return (
    <ul class="chips">
      {types.map((t) => <li key={t}><code>{t}</code></li>)}
    </ul>
  );
}

/** "no limit" or "N a second". */
function rateLimit(d: Pick<Destination, "max_per_second">): string {
  return d.max_per_second ? `${d.max_per_second} a second` : "no limit";
}

const KIND_WORDS: Record<Kind, { one: string; many: string; add: string }> = {
  webhook: { one: "destination", many: "destinations", add: "Add destination" },
  operational: { one: "operational destination", many: "operational destinations", add: "Add operational destination" },
};

// --- list ---------------------------------------------------------------------------------

function DestinationTable({ items, kind }: { items: Destination[]; kind: Kind }) {
  const caption = `${kind}-destinations-count`;
  return (
    <table class="table responsive" aria-describedby={caption} data-kind={kind}>
      <caption id={caption} class="visually-hidden">
        {pluralize(items.length, KIND_WORDS[kind].one, KIND_WORDS[kind].many)}
      </caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">URL</th>
          <th scope="col">Event types</th>
          <th scope="col">Status</th>
          <th scope="col">Retries</th>
          <th scope="col">Timeout</th>
          <th scope="col">Rate limit</th>
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id} data-destination-id={d.id}>
            <td data-label="Name"><a href={`${base(kind)}/${d.id}`}>{displayName(d)}</a></td>
            <td data-label="URL" class="url"><a href={`${base(kind)}/${d.id}`} aria-label={`${d.url} (${displayName(d)})`}>{d.url}</a></td>
            <td data-label="Event types"><Types types={d.accepted_types} /></td>
            <td data-label="Status"><ActiveBadge dest={d} /></td>
            <td data-label="Retries">{d.retry_attempts}</td>
            <td data-label="Timeout">{d.timeout_seconds} s</td>
            <td data-label="Rate limit">{rateLimit(d)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DestinationList() {
  const { api } = usePortal();
  const heading = useFocusHeading("list");
  const [items, setItems] = useState<Destination[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ops, setOps] = useState<Destination[] | null>(null);
  const [opsError, setOpsError] = useState<string | null>(null);

  useEffect(() => {
    api.listDestinations().then(setItems, (e) => {
      setError(e.message);
      announceError(e);
    });
    api.listDestinations("operational").then(setOps, (e) => setOpsError(e.message));
  }, []);

  return (
    <>
      <section aria-labelledby="view-title">
        <div class="view-head">
          <h1 id="view-title" tabIndex={-1} ref={heading}>Destinations</h1>
          <ChangeButton perm={PERM.create} class="button primary" onClick={() => navigate("#/new")}>
            {KIND_WORDS.webhook.add}
          </ChangeButton>
        </div>
        {items === null && !error && <p aria-busy="true">Loading destinations…</p>}
        {error && <p class="error-text">{error}</p>}
        {items && items.length === 0 && (
          <p class="empty">No destinations yet. Add one to start receiving webhooks.</p>
        )}
        {items && items.length > 0 && <DestinationTable items={items} kind="webhook" />}
      </section>
      <section aria-labelledby="ops-title" class="operational">
        <div class="view-head">
          <h2 id="ops-title">Operational destinations</h2>
          <ChangeButton perm={PERM.create} class="button" onClick={() => navigate("#/o/new")}>
            {KIND_WORDS.operational.add}
          </ChangeButton>
        </div>
        <p class="hint">
          Where edgehook tells you about your destinations themselves: failing, disabled, recovered, deliveries
          that failed for good, and changes. At most 3.
        </p>
        {ops === null && !opsError && <p aria-busy="true">Loading operational destinations…</p>}
        {opsError && <p class="error-text">{opsError}</p>}
        {ops && ops.length === 0 && <p class="empty">No operational destinations yet.</p>}
        {ops && ops.length > 0 && <DestinationTable items={ops} kind="operational" />}
      </section>
    </>
  );
}

// --- create and edit ----------------------------------------------------------------------

interface FormValues {
  url: string;
  name: string;
  types: string[];
  retries: number;
  timeout: number;
  /** The rate limit as typed: "" for none. */
  perSecond: string;
  /** Chosen at creation only. */
  signing: Signing;
}

/**
 * The form's rate limit as the API takes it: null for none, a whole number as
 * a number, anything else as typed (so that the API's 422 says what is wrong
 * instead of the page guessing).
 */
export function perSecondValue(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  return (/^-?\d+$/.test(t) ? Number(t) : t) as number;
}

function DestinationFields(props: {
  values: FormValues;
  set: (v: FormValues) => void;
  error: ApiError | null;
  editing: boolean;
  kind: Kind;
}) {
  const portal = usePortal();
  const eventTypes = props.kind === "operational" ? portal.operationalTypes : portal.eventTypes;
  const { values, set, error } = props;
  const typesError = fieldError(error, "accepted_types");
  return (
    <>
      {props.editing ? (
        <div class="field">
          <span class="label">URL</span>
          <p class="url"><code>{values.url}</code></p>
          <p class="hint">A destination's URL never changes: add a new destination for another URL.</p>
        </div>
      ) : (
        <Field id="f-url" label="URL" hint="Where webhooks are sent: an HTTPS address." error={fieldError(error, "url")}>
          {(a) => (
            <input {...a} type="url" required inputMode="url" autoComplete="off" placeholder="https://example.com/webhooks"
              value={values.url} onInput={(e) => set({ ...values, url: e.currentTarget.value })} />
          )}
        </Field>
      )}
      <Field id="f-name" label="Name (optional)" error={fieldError(error, "name")}>
        {(a) => (
          <input {...a} type="text" maxLength={200} autoComplete="off" value={values.name}
            onInput={(e) => set({ ...values, name: e.currentTarget.value })} />
        )}
      </Field>
      <fieldset class={`field ${typesError ? "field-invalid" : ""}`} aria-describedby={typesError ? "f-types-error" : undefined}>
        <legend>Event types</legend>
        {eventTypes.map((t) => (
          <label class="check" key={t}>
            <input type="checkbox" name="accepted_types" value={t} checked={values.types.includes(t)}
              onChange={(e) => set({
                ...values,
                types: e.currentTarget.checked ? [...values.types, t] : values.types.filter((x) => x !== t),
              })} />
            <code>{t}</code>
          </label>
        ))}
        {typesError && <p class="field-error" id="f-types-error">{typesError}</p>}
      </fieldset>
      <div class="field-row">
        <Field id="f-retries" label="Retries" hint="1 to 5, after the first attempt." error={fieldError(error, "retry_attempts")}>
          {(a) => (
            <input {...a} type="number" min={1} max={5} step={1} required value={values.retries}
              onInput={(e) => set({ ...values, retries: e.currentTarget.valueAsNumber })} />
          )}
        </Field>
        <Field id="f-timeout" label="Timeout (seconds)" hint="1 to 30, per attempt." error={fieldError(error, "timeout_seconds")}>
          {(a) => (
            <input {...a} type="number" min={1} max={30} step={1} required value={values.timeout}
              onInput={(e) => set({ ...values, timeout: e.currentTarget.valueAsNumber })} />
          )}
        </Field>
        <Field id="f-rate" label="Webhooks per second (optional)"
          hint="1 to 1000; empty for no limit. Deliveries over the limit wait their turn."
          error={fieldError(error, "max_per_second")}>
          {(a) => (
            <input {...a} type="text" inputMode="numeric" autoComplete="off" value={values.perSecond}
              placeholder="no limit" onInput={(e) => set({ ...values, perSecond: e.currentTarget.value })} />
          )}
        </Field>
      </div>
      {!props.editing && (
        <Field id="f-signing" label="Signature"
          hint="Ed25519 adds a public-key signature that receivers verify without a secret; it cannot be changed later."
          error={fieldError(error, "signing")}>
          {(a) => (
            <select {...a} value={values.signing}
              onChange={(e) => set({ ...values, signing: e.currentTarget.value as Signing })}>
              <option value="hmac">HMAC-SHA256 with a secret</option>
              <option value="ed25519">Ed25519 with a public key</option>
            </select>
          )}
        </Field>
      )}
    </>
  );
}

/** Submits a destination form once at a time: a field error of the API goes
 * next to its field, any error is announced, and the form is usable again. */
async function submitForm(
  e: Event,
  busy: boolean,
  setBusy: (b: boolean) => void,
  setError: (e: ApiError | null) => void,
  send: () => Promise<void>,
): Promise<void> {
  e.preventDefault();
  if (busy) return;
  setBusy(true);
  setError(null);
  clearNotice();
  try {
    await send();
  } catch (err) {
    if (err instanceof ApiError) setError(err);
    announceError(err);
  } finally {
    setBusy(false);
  }
}

export function CreateDestination({ kind }: { kind: Kind }) {
  const { api } = usePortal();
  const heading = useFocusHeading("new" + kind);
  const [values, setValues] = useState<FormValues>({
    url: "", name: "", types: [], retries: 3, timeout: 10, perSecond: "", signing: "hmac",
  });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);

  if (created) {
    return (
      <SecretPanel title="Destination created: its signing secret" secret={created.secret}
        onDone={() => navigate(`${base(kind)}/${created.id}`)}>
        <p>Webhooks to this destination are signed with this secret. Verify each one with it before trusting it.</p>
      </SecretPanel>
    );
  }

  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>
        {kind === "operational" ? "Add an operational destination" : "Add a destination"}
      </h1>
      <form
        class="form"
        onSubmit={(e) =>
          submitForm(e, busy, setBusy, setError, async () => {
            const body = {
              url: values.url.trim(),
              accepted_types: values.types,
              retry_attempts: values.retries,
              timeout_seconds: values.timeout,
              max_per_second: perSecondValue(values.perSecond),
              ...(values.name.trim() ? { name: values.name.trim() } : {}),
              ...(values.signing === "ed25519" ? { signing: values.signing } : {}),
            };
            const r = await api.createDestination(body, kind);
            announce("Destination created. Copy its secret now: it will not be shown again.");
            setCreated({ id: r.webhook_destination_id, secret: r.secret });
          })
        }
      >
        <DestinationFields values={values} set={setValues} error={error} editing={false} kind={kind} />
        <div class="actions">
          <ChangeButton perm={PERM.create} type="submit" class="button primary" busy={busy}>
            {busy ? "Creating…" : "Create destination"}
          </ChangeButton>
          <a class="button" href="#/">Cancel</a>
        </div>
      </form>
    </section>
  );
}

export function EditDestination({ id, kind }: { id: string; kind: Kind }) {
  const { api } = usePortal();
  const heading = useFocusHeading("edit" + id);
  const [values, setValues] = useState<FormValues | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.getDestination(id, kind).then(
      (d) => setValues({
        url: d.url, name: d.name ?? "", types: d.accepted_types, retries: d.retry_attempts,
        timeout: d.timeout_seconds, perSecond: d.max_per_second ? String(d.max_per_second) : "",
        signing: d.signing ?? "hmac",
      }),
      (e) => {
        setLoadError(e.message);
        announceError(e);
      },
    );
  }, [id, kind]);

  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a> / <a href={`${base(kind)}/${id}`}>Destination</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>
        {kind === "operational" ? "Edit operational destination" : "Edit destination"}
      </h1>
      {loadError && <p class="error-text">{loadError}</p>}
      {!values && !loadError && <p aria-busy="true">Loading…</p>}
      {values && (
        <form
          class="form"
          onSubmit={(e) =>
            submitForm(e, busy, setBusy, setError, async () => {
              await api.updateDestination(id, {
                name: values.name.trim(), // "" clears the name
                accepted_types: values.types,
                retry_attempts: values.retries,
                timeout_seconds: values.timeout,
                max_per_second: perSecondValue(values.perSecond),
              }, kind);
              announce("Changes saved.");
              navigate(`${base(kind)}/${id}`);
            })
          }
        >
          <DestinationFields values={values} set={(v) => setValues(v)} error={error} editing={true} kind={kind} />
          <div class="actions">
            <ChangeButton perm={PERM.update} type="submit" class="button primary" busy={busy}>
              {busy ? "Saving…" : "Save changes"}
            </ChangeButton>
            <a class="button" href={`${base(kind)}/${id}`}>Cancel</a>
          </div>
        </form>
      )}
    </section>
  );
}

// --- one destination ----------------------------------------------------------------------

type Dialog = "rotate" | "delete" | null;

export function DestinationPage({ id, kind }: { id: string; kind: Kind }) {
  const { api, session, eventTypes } = usePortal();
  const heading = useFocusHeading("d" + id);
  const [dest, setDest] = useState<Destination | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [busy, setBusy] = useState(false);
  const [rotated, setRotated] = useState<{ secret: string; until: string; publicKey?: string } | null>(null);
  const [testType, setTestType] = useState(eventTypes[0]);
  const [lastTest, setLastTest] = useState<string | null>(null);
  const [logVersion, setLogVersion] = useState(0);

  const load = () =>
    api.getDestination(id, kind).then((d) => {
      linkOpened();
      setDest(d);
    }, (e) => {
      if (leaveMissingLink(e, id)) return;
      setLoadError(e.message);
      announceError(e);
    });
  useEffect(() => {
    setDest(null);
    setLoadError(null);
    load();
  }, [id]);

  async function run(action: () => Promise<void>) {
    if (busy) return;
    setBusy(true);
    clearNotice();
    try {
      await action();
    } catch (err) {
      announceError(err);
    } finally {
      setBusy(false);
    }
  }

  if (rotated) {
    return (
      <SecretPanel title="New signing secret" secret={rotated.secret}
        onDone={() => {
          setRotated(null);
          load();
        }}>
        <p>
          Until <strong><Time iso={rotated.until} /></strong> every webhook is signed with both the old and the new
          secret (dual signing), so switch your receiver to the new secret before then.
        </p>
        {rotated.publicKey && (
          <p>
            Its new ed25519 public key, which signs beside the old one until then:{" "}
            <code class="url" data-testid="new-public-key">{rotated.publicKey}</code>
          </p>
        )}
      </SecretPanel>
    );
  }

  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>{dest ? displayName(dest) : "Destination"}</h1>
      {loadError && <p class="error-text">{loadError}</p>}
      {!dest && !loadError && <p aria-busy="true">Loading…</p>}
      {dest && (
        <>
          <dl class="settings">
            <div><dt>URL</dt><dd class="url"><code>{dest.url}</code></dd></div>
            <div><dt>Status</dt><dd><ActiveBadge dest={dest} /></dd></div>
            {kind === "operational" && <div><dt>Kind</dt><dd>Operational: edgehook's own events</dd></div>}
            <div class="wide"><dt>Event types</dt><dd><Types types={dest.accepted_types} /></dd></div>
            <div><dt>Retries</dt><dd>{dest.retry_attempts}</dd></div>
            <div><dt>Timeout</dt><dd>{dest.timeout_seconds} s</dd></div>
            <div><dt>Rate limit</dt><dd>{rateLimit(dest)}</dd></div>
            <div><dt>Created</dt><dd><Time iso={dest.created_at} /></dd></div>
            <div><dt>Secret created</dt><dd><Time iso={dest.secret_generated_at} /></dd></div>
            <div><dt>Signature</dt><dd>{dest.signing === "ed25519"
              ? <>Ed25519 in <code>webhook-signature</code>; HMAC in <code>x-amigo-request-signature</code></>
              : "HMAC-SHA256 with the secret"}</dd></div>
            {dest.public_key && (
              <div class="wide"><dt>Public key</dt><dd class="url"><code data-testid="public-key">{dest.public_key}</code></dd></div>
            )}
            <div><dt>ID</dt><dd><code>{dest.id}</code></dd></div>
          </dl>
          <div class="actions wrap" role="group" aria-label="Destination actions">
            <ChangeButton perm={PERM.update} onClick={() => navigate(`${base(kind)}/${id}/edit`)}>Edit</ChangeButton>
            <ChangeButton perm={PERM.update} busy={busy} onClick={() => run(async () => {
              const next = !dest.is_active;
              await api.updateDestination(id, { is_active: next }, kind);
              await load();
              announce(next
                ? "Resumed: events are delivered to this destination again."
                : "Paused: this destination receives nothing until you resume it. Events published meanwhile are kept as skipped.");
            })}>
              {dest.is_active ? "Pause" : destinationState(dest) === "disabled" ? "Re-enable" : "Resume"}
            </ChangeButton>
            <ChangeButton perm={PERM.update} onClick={() => setDialog("rotate")}>Rotate secret</ChangeButton>
            <ChangeButton perm={PERM.remove} class="button danger" onClick={() => setDialog("delete")}>Delete</ChangeButton>
          </div>

          <HealthPanel dest={dest} kind={kind} />
          <StatsPanel destinationId={id} kind={kind} version={logVersion} />
          <RecoverPanel destinationId={id} kind={kind} onFinished={() => setLogVersion((v) => v + 1)} />

          {kind === "webhook" && <section class="panel" aria-labelledby="test-title">
            <h2 id="test-title">Send a test event</h2>
            <p class="hint">Delivers a signed example of the chosen type to this destination, recorded in its log.</p>
            <form class="inline-form" onSubmit={(e) => {
              e.preventDefault();
              if (!session.perms.includes(PERM.update) && !session.perms.includes(PERM.send)) return;
              run(async () => {
                const r = await api.sendTestEvent(id, testType);
                setLastTest(r.delivery_id);
                setLogVersion((v) => v + 1);
                announce(`Test event sent: delivery ${r.delivery_id}.`);
              });
            }}>
              <label for="test-type">Event type</label>
              <select id="test-type" value={testType} onChange={(e) => setTestType(e.currentTarget.value)}>
                {eventTypes.map((t) => <option key={t} value={t}>{t}</option>)}
              </select>
              <ChangeButton perm={[PERM.update, PERM.send]} type="submit" busy={busy}>Send test event</ChangeButton>
            </form>
            {lastTest && (
              <p>Last test: <a href={`#/d/${id}/delivery/${lastTest}`}>delivery <code>{lastTest}</code></a></p>
            )}
          </section>}

          <DeliveryLog destinationId={id} version={logVersion} kind={kind} />
        </>
      )}

      {dialog === "rotate" && dest && (
        <ConfirmDialog title="Rotate the signing secret?" confirmLabel="Rotate secret"
          onCancel={() => setDialog(null)}
          onConfirm={() => {
            setDialog(null);
            run(async () => {
              const r = await api.rotateSecret(id, kind);
              announce("Secret rotated. Copy the new secret now: it will not be shown again.");
              setRotated({ secret: r.secret, until: r.dual_signing_stops_at, publicKey: r.public_key });
            });
          }}>
          <p>A new secret is made and shown once. For a while both secrets sign every webhook, so your receiver keeps
            working while you switch it over. A secret can be rotated at most once an hour.</p>
        </ConfirmDialog>
      )}
      {dialog === "delete" && dest && (
        <ConfirmDialog title={`Delete “${displayName(dest)}”?`} confirmLabel="Delete destination" danger
          onCancel={() => setDialog(null)}
          onConfirm={() => {
            setDialog(null);
            run(async () => {
              await api.deleteDestination(id, kind);
              announce(`Deleted ${displayName(dest)} (${dest.url}).`);
              navigate("#/");
            });
          }}>
          <p>Nothing more is delivered to <code>{dest.url}</code> and its delivery log is deleted with it. This cannot
            be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
