// Types of @edgehook/sdk and @edgehook/sdk/ed25519: the Webhook verifier, its error, and edgehook's event payloads.

/** A conversation finished post-processing. */
export interface ConversationPostProcessingCompleteEvent {
  type: 'conversation-post-processing-complete';
  post_processing_type: string;
  conversation_id: string;
  org_id: string;
}

/** A resource of the agent framework changed. */
export interface AgentFrameworkResourceUpdatedEvent {
  type: 'agent-framework-resource-updated';
  org_id: string;
  resource_type: string;
  resource_id: string;
  /** ISO 8601 time of the change. */
  updated_at: string;
}

/** An API key expires soon. */
export interface ApiKeyExpirationSoonEvent {
  type: 'api-key-expiration-soon';
  org_id: string;
  api_key_id: string;
  user_id: string;
  /** ISO 8601 time of the expiry. */
  expires_at: string;
}

/** Fields of every operational event: the destination it is about. */
interface OperationalEventBase {
  org_id: string;
  /** The webhook destination the event is about. */
  destination_id: string;
}

/** Operational: a destination's deliveries have only failed for `percent` % of the time to disable. */
export interface DestinationFailingEvent extends OperationalEventBase {
  type: 'destination.failing';
  /** 50, 75 or 90. */
  percent: number;
  /** ISO 8601 time of the streak's first failed attempt. */
  failing_since: string;
  /** ISO 8601 time it is disabled if it keeps failing. */
  disable_at: string;
  last_error: string;
}

/** Operational: a failing destination was disabled (`disabled_reason: "failing"`). */
export interface DestinationDisabledEvent extends OperationalEventBase {
  type: 'destination.disabled';
  reason: 'failing';
  disabled_at: string;
  failing_since: string;
  /** Deliveries exhausted during the streak. */
  exhausted: number;
  last_error: string;
}

/** Operational: a destination that was warned about or disabled works again. */
export interface DestinationRecoveredEvent extends OperationalEventBase {
  type: 'destination.recovered';
  reason: 'success' | 're-enabled';
  recovered_at: string;
}

/** Operational: a delivery failed for good (its attempt budget is spent). */
export interface DeliveryExhaustedEvent extends OperationalEventBase {
  type: 'delivery.exhausted';
  delivery_id: string;
  event_type: WebhookEventType;
  attempts: number;
  /** 0 when no answer came. */
  last_status_code: number;
  error_class: 'timeout' | 'connection' | 'tls' | 'dns' | 'redirect' | 'http_status' | 'other';
}

/** Operational: a webhook destination was created. */
export interface DestinationCreatedEvent extends OperationalEventBase {
  type: 'destination.created';
  url: string;
  accepted_types: WebhookEventType[];
  is_active: boolean;
}

/** Operational: a webhook destination's settings changed. */
export interface DestinationUpdatedEvent extends OperationalEventBase {
  type: 'destination.updated';
  /** The fields sent in the change. */
  changed: string[];
  is_active: boolean;
}

/** Operational: a webhook destination was deleted. */
export interface DestinationDeletedEvent extends OperationalEventBase {
  type: 'destination.deleted';
}

/** Every operational event edgehook sends to an operational destination. */
export type OperationalEvent =
  | DestinationFailingEvent
  | DestinationDisabledEvent
  | DestinationRecoveredEvent
  | DeliveryExhaustedEvent
  | DestinationCreatedEvent
  | DestinationUpdatedEvent
  | DestinationDeletedEvent;

/** Every event edgehook delivers; narrow it with `switch (event.type)`. */
export type WebhookEvent =
  | ConversationPostProcessingCompleteEvent
  | AgentFrameworkResourceUpdatedEvent
  | ApiKeyExpirationSoonEvent
  | OperationalEvent;

export type WebhookEventType =
  | ConversationPostProcessingCompleteEvent['type']
  | AgentFrameworkResourceUpdatedEvent['type']
  | ApiKeyExpirationSoonEvent['type'];

export type OperationalEventType = OperationalEvent['type'];

/** The check that failed. */
export type WebhookVerificationErrorCode =
  | 'missing_header'
  | 'malformed_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'malformed_secret'
  | 'invalid_payload';

export class WebhookVerificationError extends Error {
  readonly name: 'WebhookVerificationError';
  readonly code: WebhookVerificationErrorCode;
  /** The missing header's lowercase name, when `code` is `missing_header`. */
  readonly header?: string;
}

/** Request headers: a fetch `Headers`, Node's `IncomingHttpHeaders`, or a plain object (any case). */
export type WebhookHeaders =
  | { get(name: string): string | null | undefined }
  | Record<string, string | string[] | undefined>;

/** The raw body exactly as received: never a re-serialized object. */
export type WebhookPayload = string | Uint8Array | ArrayBuffer | ArrayBufferView;

export interface WebhookOptions {
  /** How far the timestamp may be from now, in seconds, either way. Default 300. */
  toleranceSeconds?: number;
  /** The current time (Unix ms or a Date); defaults to `Date.now`. For tests. */
  clock?: () => number | Date;
}

/** What verified a webhook, from `verifyDetailed`. */
export interface Verification<E = WebhookEvent> {
  /** The parsed event, as `verify` returns it. */
  event: E;
  /** The header set whose signature matched: Standard Webhooks' or Amigo's. */
  scheme: 'standard' | 'amigo';
  /** Whether a `v1a` (ed25519) signature matched a `whpk_` public key, rather than an HMAC. */
  asymmetric: boolean;
  /** The position of the key that matched in the list given to the constructor (0 for one key). */
  keyIndex: number;
  /**
   * `webhook-id` when the Standard Webhooks signature, which covers it, verified; `null` for
   * Amigo's scheme, which does not sign its id. Deduplicate on this, never on an unsigned id.
   */
  webhookId: string | null;
}

/** The headers edgehook sends with one delivery attempt. */
export interface SignedHeaders {
  'x-amigo-idempotent-key': string;
  'x-amigo-request-timestamp': string;
  'x-amigo-request-signature': string;
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export class Webhook {
  /**
   * @param secret the destination's `whsec_…` secret, or several (newest first) during a rotation.
   *   From `@edgehook/sdk/ed25519`, a `whpk_…` public key is accepted as well (alone or in the list).
   * @throws WebhookVerificationError with code `malformed_secret`.
   */
  constructor(secret: string | readonly string[], options?: WebhookOptions);
  /**
   * Verifies the signature (Standard Webhooks headers, else Amigo's) and the timestamp, and
   * returns the parsed event.
   * @throws WebhookVerificationError naming the failed check.
   */
  verify<E = WebhookEvent>(payload: WebhookPayload, headers: WebhookHeaders): E;
  /** Like `verify`, and also tells which scheme and key verified the webhook. */
  verifyDetailed<E = WebhookEvent>(payload: WebhookPayload, headers: WebhookHeaders): Verification<E>;
  /** Signs a body as edgehook does with the `whsec_` secrets (for tests of a receiver). `timestamp`: Date or Unix ms. */
  sign(msgId: string, timestamp: Date | number, payload: WebhookPayload): SignedHeaders;
  /** A new `whsec_` secret from 32 random bytes. */
  static generateSecret(): string;
}
