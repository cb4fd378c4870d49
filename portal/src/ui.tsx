// Pieces every view uses: the live region that speaks results, times, buttons
// that a read-only session refuses, the one-time secret panel, the
// confirmation dialog and labelled form fields.

import { createContext, type ComponentChildren } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import type { Api, ApiError, EventType } from "./api";
import type { Session } from "./session";
import { can } from "./session";

export interface Portal {
  session: Session;
  api: Api;
  /** The catalog, or null while it loads or when it could not be read. */
  catalog: EventType[] | null;
  /** What webhook destinations may accept. */
  eventTypes: string[];
  /** What operational destinations may accept (edgehook's own events). */
  operationalTypes: string[];
}

export const PortalContext = createContext<Portal | null>(null);

export function usePortal(): Portal {
  const portal = useContext(PortalContext);
  if (!portal) throw new Error("usePortal outside PortalContext");
  return portal;
}

// --- the live region ----------------------------------------------------------------------

export interface Notice {
  kind: "ok" | "error" | "info";
  text: string;
  /** Changes on every announcement, so the same words are spoken again. */
  serial: number;
}

let noticeListener: ((n: Notice | null) => void) | null = null;
let serial = 0;

/** Shows `text` in the page's live region (screen readers read it out). */
export function announce(text: string, kind: Notice["kind"] = "ok"): void {
  noticeListener?.({ kind, text, serial: ++serial });
}

export function announceError(error: unknown): void {
  announce(error instanceof Error ? error.message : String(error), "error");
}

export function clearNotice(): void {
  noticeListener?.(null);
}

export function LiveRegion() {
  const [notice, setNotice] = useState<Notice | null>(null);
  useEffect(() => {
    noticeListener = setNotice;
    return () => {
      noticeListener = null;
    };
  }, []);
  return (
    <div class={`notice ${notice ? "notice-" + notice.kind : "notice-empty"}`}>
      <div id="notice" role="status" aria-live="polite" aria-atomic="true">
        {notice && (
          <p key={notice.serial}>
            <span class="visually-hidden">{notice.kind === "error" ? "Error: " : ""}</span>
            {notice.text}
          </p>
        )}
      </div>
      {notice && (
        <button type="button" class="link notice-close" onClick={() => setNotice(null)}>
          Dismiss
        </button>
      )}
    </div>
  );
}

// --- times --------------------------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateTime.format(t);
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return <time dateTime={iso} title={iso}>{formatTime(iso)}</time>;
}

// --- buttons a session may not be allowed to use ------------------------------------------

const READ_ONLY_REFUSAL = "Refused: this session is read-only, so it cannot make changes.";

/**
 * A button for a change. Without `perm` in the session it stays in the focus
 * order (so screen reader users find it) but is marked disabled and, when
 * pressed, says why instead of calling the API.
 */
export function ChangeButton(props: {
  perm: string | string[];
  onClick?: () => void;
  children: ComponentChildren;
  class?: string;
  busy?: boolean;
  type?: "button" | "submit";
}) {
  const { session } = usePortal();
  const perms = Array.isArray(props.perm) ? props.perm : [props.perm];
  const allowed = perms.some((p) => can(session, p));
  return (
    <button
      type={props.type ?? "button"}
      class={props.class ?? "button"}
      aria-disabled={!allowed || props.busy ? "true" : undefined}
      title={allowed ? undefined : "Read-only session"}
      onClick={(e) => {
        if (!allowed) {
          e.preventDefault();
          announce(READ_ONLY_REFUSAL, "error");
          return;
        }
        if (props.busy) {
          e.preventDefault();
          return;
        }
        if (props.type !== "submit") props.onClick?.();
      }}
    >
      {props.children}
    </button>
  );
}

// --- a secret shown once ------------------------------------------------------------------

async function copyText(text: string, fallbackNode: HTMLElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!fallbackNode) return false;
    const range = document.createRange();
    range.selectNodeContents(fallbackNode);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

export function SecretPanel(props: { title: string; secret: string; children?: ComponentChildren; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const code = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class="panel secret-panel" aria-labelledby="secret-title">
      <h2 id="secret-title" tabIndex={-1} ref={heading}>{props.title}</h2>
      <p class="warning">
        <strong>This secret will not be shown again.</strong> Copy it now and store it where your receiver can read it.
      </p>
      <div class="secret-row">
        <code class="secret" ref={code} aria-label="Signing secret">{props.secret}</code>
        <button
          type="button"
          class="button"
          onClick={async () => {
            const ok = await copyText(props.secret, code.current);
            setCopied(ok);
            announce(ok ? "Secret copied to the clipboard." : "Copying failed: select the secret and copy it by hand.",
              ok ? "ok" : "error");
          }}
        >
          {copied ? "Copied" : "Copy secret"}
        </button>
      </div>
      {props.children}
      <button type="button" class="button primary" onClick={props.onDone}>I have stored the secret</button>
    </section>
  );
}

// --- confirmation -------------------------------------------------------------------------

export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="dialog-title">{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" class="button" autofocus onClick={props.onCancel}>Cancel</button>
        <button type="button" class={`button ${props.danger ? "danger" : "primary"}`} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

// --- form fields --------------------------------------------------------------------------

/** The 422 messages for one field of a failed call, joined. */
export function fieldError(error: ApiError | null, field: string): string | undefined {
  const problems = error?.fields.filter((f) => f.field === field) ?? [];
  // One item of a list field is named ("Event types (item 2): …"); the field itself needs no name.
  return problems.length
    ? problems.map((p) => (/\(item \d+\)$/.test(p.label) ? `${p.label}: ${p.message}` : p.message)).join("; ")
    : undefined;
}

export function Field(props: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  children: (attrs: { id: string; "aria-describedby"?: string; "aria-invalid"?: "true" }) => ComponentChildren;
}) {
  const described = [props.hint && `${props.id}-hint`, props.error && `${props.id}-error`].filter(Boolean).join(" ");
  return (
    <div class={`field ${props.error ? "field-invalid" : ""}`}>
      <label for={props.id}>{props.label}</label>
      {props.hint && <p class="hint" id={`${props.id}-hint`}>{props.hint}</p>}
      {props.children({
        id: props.id,
        "aria-describedby": described || undefined,
        "aria-invalid": props.error ? "true" : undefined,
      })}
      {props.error && <p class="field-error" id={`${props.id}-error`}>{props.error}</p>}
    </div>
  );
}

/** False until the first view has shown: a page load leaves focus at the document's start. */
let viewShown = false;

/**
 * Moves focus to the view's heading when the view changes after the first
 * one, so keyboard and screen reader users land on what they opened.
 */
export function useFocusHeading(key: string) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (viewShown) ref.current?.focus();
    viewShown = true;
  }, [key]);
  return ref;
}

export function pluralize(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
