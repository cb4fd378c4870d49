// Destinations: the list, the create and edit forms, and one destination's
// page with its actions (pause, rotate, test event, delete) and delivery log.

import { useEffect, useState } from "preact/hooks";
import { ApiError, type Destination } from "./api";
import { DeliveryLog } from "./deliveries";
import { PERM } from "./session";
import {
  announce, announceError, ChangeButton, clearNotice, ConfirmDialog, Field, fieldError, pluralize,
  SecretPanel, Time, useFocusHeading, usePortal,
} from "./ui";
import { leaveMissingLink, linkOpened, navigate } from "./router";

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

function ActiveBadge({ active }: { active: boolean }) {
  return <span class={`badge ${active ? "badge-ok" : "badge-paused"}`}>{active ? "Active" : "Paused"}</span>;
}

// --- list ---------------------------------------------------------------------------------

export function DestinationList() {
  const { api } = usePortal();
  const heading = useFocusHeading("list");
  const [items, setItems] = useState<Destination[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.listDestinations().then(setItems, (e) => {
      setError(e.message);
      announceError(e);
    });
  }, []);

  return (
    <section aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1} ref={heading}>Destinations</h1>
        <ChangeButton perm={PERM.create} class="button primary" onClick={() => navigate("#/new")}>
          Add destination
        </ChangeButton>
      </div>
      {items === null && !error && <p aria-busy="true">Loading destinations…</p>}
      {error && <p class="error-text">{error}</p>}
      {items && items.length === 0 && (
        <p class="empty">No destinations yet. Add one to start receiving webhooks.</p>
      )}
      {items && items.length > 0 && (
        <table class="table responsive" aria-describedby="destinations-count">
          <caption id="destinations-count" class="visually-hidden">
            {pluralize(items.length, "destination", "destinations")}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">URL</th>
              <th scope="col">Event types</th>
              <th scope="col">Status</th>
              <th scope="col">Retries</th>
              <th scope="col">Timeout</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-destination-id={d.id}>
                <td data-label="Name"><a href={`#/d/${d.id}`}>{displayName(d)}</a></td>
                <td data-label="URL" class="url"><a href={`#/d/${d.id}`} aria-label={`${d.url} (${displayName(d)})`}>{d.url}</a></td>
                <td data-label="Event types"><Types types={d.accepted_types} /></td>
                <td data-label="Status"><ActiveBadge active={d.is_active} /></td>
                <td data-label="Retries">{d.retry_attempts}</td>
                <td data-label="Timeout">{d.timeout_seconds} s</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// --- create and edit ----------------------------------------------------------------------

interface FormValues {
  url: string;
  name: string;
  types: string[];
  retries: number;
  timeout: number;
}

function DestinationFields(props: {
  values: FormValues;
  set: (v: FormValues) => void;
  error: ApiError | null;
  editing: boolean;
}) {
  const { eventTypes } = usePortal();
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
      </div>
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

export function CreateDestination() {
  const { api } = usePortal();
  const heading = useFocusHeading("new");
  const [values, setValues] = useState<FormValues>({ url: "", name: "", types: [], retries: 3, timeout: 10 });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);

  if (created) {
    return (
      <SecretPanel title="Destination created: its signing secret" secret={created.secret}
        onDone={() => navigate(`#/d/${created.id}`)}>
        <p>Webhooks to this destination are signed with this secret. Verify each one with it before trusting it.</p>
      </SecretPanel>
    );
  }

  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>Add a destination</h1>
      <form
        class="form"
        onSubmit={(e) =>
          submitForm(e, busy, setBusy, setError, async () => {
            const body = {
              url: values.url.trim(),
              accepted_types: values.types,
              retry_attempts: values.retries,
              timeout_seconds: values.timeout,
              ...(values.name.trim() ? { name: values.name.trim() } : {}),
            };
            const r = await api.createDestination(body);
            announce("Destination created. Copy its secret now: it will not be shown again.");
            setCreated({ id: r.webhook_destination_id, secret: r.secret });
          })
        }
      >
        <DestinationFields values={values} set={setValues} error={error} editing={false} />
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

export function EditDestination({ id }: { id: string }) {
  const { api } = usePortal();
  const heading = useFocusHeading("edit" + id);
  const [values, setValues] = useState<FormValues | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.getDestination(id).then(
      (d) => setValues({ url: d.url, name: d.name ?? "", types: d.accepted_types, retries: d.retry_attempts, timeout: d.timeout_seconds }),
      (e) => {
        setLoadError(e.message);
        announceError(e);
      },
    );
  }, [id]);

  return (
    <section aria-labelledby="view-title">
      <p class="crumbs"><a href="#/">Destinations</a> / <a href={`#/d/${id}`}>Destination</a></p>
      <h1 id="view-title" tabIndex={-1} ref={heading}>Edit destination</h1>
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
              });
              announce("Changes saved.");
              navigate(`#/d/${id}`);
            })
          }
        >
          <DestinationFields values={values} set={(v) => setValues(v)} error={error} editing={true} />
          <div class="actions">
            <ChangeButton perm={PERM.update} type="submit" class="button primary" busy={busy}>
              {busy ? "Saving…" : "Save changes"}
            </ChangeButton>
            <a class="button" href={`#/d/${id}`}>Cancel</a>
          </div>
        </form>
      )}
    </section>
  );
}

// --- one destination ----------------------------------------------------------------------

type Dialog = "rotate" | "delete" | null;

export function DestinationPage({ id }: { id: string }) {
  const { api, session, eventTypes } = usePortal();
  const heading = useFocusHeading("d" + id);
  const [dest, setDest] = useState<Destination | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [busy, setBusy] = useState(false);
  const [rotated, setRotated] = useState<{ secret: string; until: string } | null>(null);
  const [testType, setTestType] = useState(eventTypes[0]);
  const [lastTest, setLastTest] = useState<string | null>(null);
  const [logVersion, setLogVersion] = useState(0);

  const load = () =>
    api.getDestination(id).then((d) => {
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
            <div><dt>Status</dt><dd><ActiveBadge active={dest.is_active} /></dd></div>
            <div class="wide"><dt>Event types</dt><dd><Types types={dest.accepted_types} /></dd></div>
            <div><dt>Retries</dt><dd>{dest.retry_attempts}</dd></div>
            <div><dt>Timeout</dt><dd>{dest.timeout_seconds} s</dd></div>
            <div><dt>Created</dt><dd><Time iso={dest.created_at} /></dd></div>
            <div><dt>Secret created</dt><dd><Time iso={dest.secret_generated_at} /></dd></div>
            <div><dt>ID</dt><dd><code>{dest.id}</code></dd></div>
          </dl>
          <div class="actions wrap" role="group" aria-label="Destination actions">
            <ChangeButton perm={PERM.update} onClick={() => navigate(`#/d/${id}/edit`)}>Edit</ChangeButton>
            <ChangeButton perm={PERM.update} busy={busy} onClick={() => run(async () => {
              const next = !dest.is_active;
              await api.updateDestination(id, { is_active: next });
              setDest({ ...dest, is_active: next });
              announce(next
                ? "Resumed: events are delivered to this destination again."
                : "Paused: this destination receives nothing until you resume it.");
            })}>
              {dest.is_active ? "Pause" : "Resume"}
            </ChangeButton>
            <ChangeButton perm={PERM.update} onClick={() => setDialog("rotate")}>Rotate secret</ChangeButton>
            <ChangeButton perm={PERM.remove} class="button danger" onClick={() => setDialog("delete")}>Delete</ChangeButton>
          </div>

          <section class="panel" aria-labelledby="test-title">
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
          </section>

          <DeliveryLog destinationId={id} version={logVersion} />
        </>
      )}

      {dialog === "rotate" && dest && (
        <ConfirmDialog title="Rotate the signing secret?" confirmLabel="Rotate secret"
          onCancel={() => setDialog(null)}
          onConfirm={() => {
            setDialog(null);
            run(async () => {
              const r = await api.rotateSecret(id);
              announce("Secret rotated. Copy the new secret now: it will not be shown again.");
              setRotated({ secret: r.secret, until: r.dual_signing_stops_at });
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
              await api.deleteDestination(id);
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
