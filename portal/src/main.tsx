// The customer portal: reads the session from the URL fragment (at load, and
// whenever a new one arrives while the page is open), wears the platform's
// theme, then lets a platform's customer manage webhook destinations and
// inspect deliveries.

import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Api, OPERATIONAL_TYPES, WEBHOOK_TYPES, type EventType } from "./api";
import { Catalog } from "./catalog";
import { DeliveryDetail } from "./deliveries";
import { CreateDestination, DestinationList, DestinationPage, EditDestination } from "./destinations";
import { openedByLink, useRoute } from "./router";
import { carriesToken, forgetSession, isReadOnly, loadSession, type Loaded, type Session } from "./session";
import { applyTheme, brandName } from "./theme";
import { formatTime, LiveRegion, PortalContext, useFocusHeading } from "./ui";

const ENDED_TITLE = "Session ended";

function Stop(props: { title: string; children: preact.ComponentChildren; returnUrl?: string }) {
  const heading = useFocusHeading(props.title);
  let back: string | null = null;
  try {
    back = props.returnUrl ? new URL(props.returnUrl).host : null;
  } catch {
    back = null;
  }
  return (
    <main id="main" class="stop" role="main">
      <h1 tabIndex={-1} ref={heading}>{props.title}</h1>
      <div role="alert">{props.children}</div>
      {back && props.returnUrl && (
        <p class="actions">
          <a class="button primary" href={props.returnUrl} target="_top">Back to {back}</a>
        </p>
      )}
    </main>
  );
}

function Portal({ session }: { session: Session }) {
  const [ended, setEnded] = useState<string | null>(null);
  const [catalog, setCatalog] = useState<EventType[] | null>(null);
  const api = useMemo(() => new Api(session, (message) => {
    forgetSession();
    setEnded(message);
  }), [session]);
  const route = useRoute();

  useEffect(() => {
    api.eventTypes().then(setCatalog, () => setCatalog(null));
    const ms = session.exp * 1000 - Date.now();
    const timer = window.setTimeout(() => {
      forgetSession();
      setEnded("Your session has expired. Ask for a new link to continue.");
    }, Math.min(Math.max(ms, 0), 2 ** 31 - 1));
    return () => window.clearTimeout(timer);
  }, [api]);

  if (ended) {
    return <Stop title={ENDED_TITLE} returnUrl={session.returnUrl}><p>{ended}</p></Stop>;
  }

  const webhookCatalog = catalog?.filter((t) => !t.operational) ?? [];
  const operationalCatalog = catalog?.filter((t) => t.operational) ?? [];
  const eventTypes = webhookCatalog.length ? webhookCatalog.map((t) => t.type) : WEBHOOK_TYPES;
  const operationalTypes = operationalCatalog.length ? operationalCatalog.map((t) => t.type) : OPERATIONAL_TYPES;
  const readOnly = isReadOnly(session);
  let view;
  switch (route.view) {
    case "list": view = <DestinationList />; break;
    case "new": view = <CreateDestination kind={route.kind} />; break;
    case "events": view = <Catalog />; break;
    case "destination": view = <DestinationPage key={route.kind} id={route.id} kind={route.kind} />; break;
    case "edit": view = <EditDestination id={route.id} kind={route.kind} />; break;
    case "delivery":
      view = <DeliveryDetail destinationId={route.id} deliveryId={route.deliveryId} kind={route.kind} />;
      break;
    default: view = <p>This page does not exist. <a href="#/">Go to the destinations</a>.</p>;
  }
  const onEvents = route.view === "events";

  return (
    <PortalContext.Provider value={{ session, api, catalog, eventTypes, operationalTypes }}>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}>Skip to content</a>
      <header class="top">
        <p class="brand">{brandName(session.theme)}</p>
        <nav aria-label="Portal">
          <a href="#/" aria-current={!onEvents ? "page" : undefined}>Destinations</a>
          <a href="#/events" aria-current={onEvents ? "page" : undefined}>Event types</a>
        </nav>
        <p class="session-info">
          {readOnly && <span class="badge badge-paused">Read-only</span>}{" "}
          <span>Session ends <time dateTime={new Date(session.exp * 1000).toISOString()}>{formatTime(new Date(session.exp * 1000).toISOString())}</time></span>
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        <LiveRegion />
        {view}
      </main>
    </PortalContext.Provider>
  );
}

/** Each session taken from the address gets a fresh page state (its own key). */
let taken = 0;

/** Takes the session the address carries (or this tab kept) and wears its theme. */
function take(): { loaded: Loaded; serial: number } {
  const { loaded, open } = loadSession();
  openedByLink(open);
  applyTheme(loaded.kind === "ok" || loaded.kind === "expired" ? loaded.session.theme : undefined);
  return { loaded, serial: ++taken };
}

function App() {
  const [{ loaded, serial }, setTaken] = useState(take);
  useEffect(() => {
    // A host page hands over a new session by changing only the fragment (a
    // same-document navigation): take it as a load would.
    const onHash = () => {
      if (carriesToken(window.location.hash)) setTaken(take());
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  switch (loaded.kind) {
    case "missing":
      return (
        <Stop title="No session">
          <p>This page opens from a link that carries a portal session. Open the link you were given again.</p>
        </Stop>
      );
    case "malformed":
      return <Stop title="Invalid link"><p>This link's session token cannot be read. Ask for a new link.</p></Stop>;
    case "expired":
      return (
        <Stop title={ENDED_TITLE} returnUrl={loaded.session.returnUrl}>
          <p>This session has expired. Ask for a new link to continue.</p>
        </Stop>
      );
    default:
      return <Portal key={serial} session={loaded.session} />;
  }
}

render(<App />, document.getElementById("app")!);
