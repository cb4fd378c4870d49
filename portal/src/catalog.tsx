// The event-type catalog: every type the organization's destinations can
// accept, with its description, JSON Schema and an example payload; edgehook's
// own (operational) events are marked, since only operational destinations take them.

import { useEffect, useState } from "preact/hooks";
import type { EventType } from "./api";
import { announceError, useFocusHeading, usePortal } from "./ui";

export function Catalog() {
  const { api } = usePortal();
  const heading = useFocusHeading("events");
  const [types, setTypes] = useState<EventType[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.eventTypes().then(setTypes, (e) => {
      setError(e.message);
      announceError(e);
    });
  }, []);

  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1} ref={heading}>Event types</h1>
      <p class="hint">What each webhook carries. Every webhook's body is JSON with a <code>type</code> field.</p>
      {error && <p class="error-text">{error}</p>}
      {!types && !error && <p aria-busy="true">Loading event types…</p>}
      {types && types.map((t) => (
        <article class="panel event-type" key={t.type} aria-labelledby={`type-${t.type}`}>
          <h2 id={`type-${t.type}`}><code>{t.type}</code></h2>
          {t.operational && <p><span class="badge badge-paused">Operational</span> For operational destinations.</p>}
          <p>{t.description}</p>
          <details>
            <summary>Example payload</summary>
            <pre class="code" tabIndex={0}>{JSON.stringify(t.example, null, 2)}</pre>
          </details>
          <details>
            <summary>JSON Schema</summary>
            <pre class="code" tabIndex={0}>{JSON.stringify(t.schema, null, 2)}</pre>
          </details>
        </article>
      ))}
    </section>
  );
}
