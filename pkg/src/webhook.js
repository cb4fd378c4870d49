// The package's JavaScript API around the wasm core: header lookup, encoding inputs into wasm memory, typed errors, JSON parsing.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const DEFAULT_TOLERANCE_SECONDS = 300;
// Bytes of one HMAC key state as the core writes it (sdk-wasm/src/sha256.rs, `HmacKey::BYTES`).
const KEY = 64;

// Status codes returned by the wasm core (sdk-wasm/src/bindings.rs, module `status`).
const FAILURES = {
  2: ['malformed_timestamp', 'timestamp header is not a decimal number'],
  3: ['timestamp_too_old', 'timestamp is older than the tolerance'],
  4: ['timestamp_too_new', 'timestamp is newer than the tolerance'],
  5: ['no_matching_signature', 'no signature matches the body'],
  10: ['malformed_secret', 'no secret given'],
  11: ['malformed_secret', 'secret does not start with whsec_'],
  12: ['malformed_secret', 'secret is not valid base64 after whsec_'],
  13: ['malformed_secret', 'secret holds no key bytes after whsec_'],
  14: ['malformed_secret', 'key is not the base64 of 32 bytes after its prefix'],
  15: ['malformed_secret', 'public key is not a valid ed25519 key'],
  16: ['malformed_secret', 'public keys (whpk_) are verified by @edgehook/sdk/ed25519'],
};

/** Thrown by `new Webhook` and `verify`; `code` names the check that failed. */
export class WebhookVerificationError extends Error {
  constructor(code, message, header) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
    if (header !== undefined) this.header = header;
  }
}

function failure(status) {
  const [code, message] = FAILURES[status] || ['internal', `unexpected status ${status}`];
  return new WebhookVerificationError(code, message);
}

function missing(name) {
  return new WebhookVerificationError('missing_header', `missing header ${name}`, name);
}

// A header's value from a Headers (or anything with get), a plain object or Node's
// IncomingHttpHeaders, matched case-insensitively. Repeated headers arrive as arrays.
function header(headers, name, separator) {
  let value;
  if (typeof headers.get === 'function') {
    value = headers.get(name);
  } else {
    value = headers[name];
    if (value === undefined) {
      for (const key in headers) {
        if (key.length === name.length && key.toLowerCase() === name) {
          value = headers[key];
          break;
        }
      }
    }
  }
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.join(separator);
  return String(value);
}

function parseEvent(payload) {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
  } catch (e) {
    throw new WebhookVerificationError('invalid_payload', 'body is signed but is not JSON');
  }
}

function asBytes(payload) {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new TypeError('payload must be the raw body: a string, Uint8Array, Buffer or ArrayBuffer');
}

// Parsed keys by their text, shared by every Webhook of one core: constructing a Webhook per
// request (the common pattern in serverless handlers) then costs a Map lookup instead of a base64
// decode and four SHA-256 blocks in wasm. Bounded: a process that sees many keys starts over.
const CACHE_LIMIT = 64;

/**
 * Builds the public API over one instantiated wasm core: the wasm-bindgen module's functions
 * (`reserve`, `parse_secret`, `verify_standard`, `verify_amigo`, `sign`, `generate_secret`, and
 * `parse_public_key` in the ed25519 build) and its `memory`.
 */
export function createApi(core, memory) {
  // The core is stateless: every call reads its inputs from one buffer in wasm memory, shared by
  // all Webhook instances. `view` covers it; it is rebuilt only when the buffer must grow or the
  // memory grew (the old view is then detached and reads as empty).
  let view = new Uint8Array(0);
  const cache = new Map();

  function reserve(len) {
    if (view.length < len || view.byteLength === 0) {
      const size = Math.max(len, 2 * view.length, 65536);
      const ptr = core.reserve(size);
      if (ptr === 0) throw new RangeError('out of memory for the webhook body');
      view = new Uint8Array(memory.buffer, ptr, size);
    }
    return view;
  }

  // Writes text at `offset`; ASCII (all valid header values) is copied without an encoder. The
  // caller has reserved room for it (three bytes per UTF-16 unit at most).
  function writeString(text, offset) {
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return encoder.encodeInto(text, view.subarray(offset)).written;
      view[offset + i] = c;
    }
    return n;
  }

  // Writes `keys` then the body at the start of the buffer, leaving room for `extra` more UTF-16
  // units; returns the body's length in bytes.
  function writeKeysAndBody(keys, payload, extra) {
    const start = keys.length;
    if (typeof payload === 'string') {
      reserve(start + (payload.length + extra) * 3);
      view.set(keys);
      return encoder.encodeInto(payload, view.subarray(start)).written;
    }
    const bytes = asBytes(payload);
    reserve(start + bytes.length + extra * 3);
    view.set(keys);
    view.set(bytes, start);
    return bytes.length;
  }

  // One key parsed by the core: a secret's key states (`amigo` and `standard`), or a public
  // key's 32 bytes (`pk`). Cached by its text.
  function parseKey(text) {
    let key = cache.get(text);
    if (key !== undefined) return key;
    if (typeof text !== 'string') throw new WebhookVerificationError('malformed_secret', 'a secret must be a whsec_ string');
    const pk = text.startsWith('whpk_');
    if (pk && !core.parse_public_key) throw failure(16);
    reserve(text.length * 3 + 2 * KEY);
    const len = writeString(text, 0);
    const status = pk ? core.parse_public_key(len) : core.parse_secret(len);
    if (status !== 0) throw failure(status);
    key = pk ? { pk: view.slice(len, len + 32) } : { amigo: view.slice(len, len + KEY), standard: view.slice(len + KEY, len + 2 * KEY) };
    key.list = [key];
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, key);
    return key;
  }

  class Webhook {
    // Standard Webhooks keys as the core reads them (HMAC states, then public keys), Amigo's
    // HMAC states, the parsed keys in the order given (for signing), and for each key passed to
    // the core, in that order, its position in that list.
    #standard;
    #publicCount;
    #amigo;
    #keys;
    #order;
    #tolerance;
    #clock;

    /**
     * @param secret one `whsec_…` secret (or, from `@edgehook/sdk/ed25519`, a `whpk_…` public
     *   key), or several (newest first) while the sender rotates.
     * @param options `toleranceSeconds` (default 300) and `clock` (ms or Date; for tests).
     */
    constructor(secret, options) {
      const tolerance = options?.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
      if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 0xffffffff) {
        throw new RangeError('toleranceSeconds must be a non-negative integer');
      }
      this.#tolerance = tolerance;
      this.#clock = options?.clock;
      if (!Array.isArray(secret)) {
        // The per-request path: one key, its parsed form used as it is.
        const key = parseKey(secret);
        this.#keys = key.list;
        this.#order = ORDER_ONE;
        this.#standard = key.pk ?? key.standard;
        this.#publicCount = key.pk ? 1 : 0;
        this.#amigo = key.amigo ?? EMPTY;
        return;
      }
      if (secret.length === 0) throw failure(10);
      const keys = secret.map(parseKey);
      const secrets = keys.filter((k) => k.amigo);
      const pks = keys.filter((k) => k.pk);
      this.#keys = keys;
      this.#order = [...secrets, ...pks].map((k) => keys.indexOf(k));
      this.#standard = concat([...secrets.map((k) => k.standard), ...pks.map((k) => k.pk)]);
      this.#publicCount = pks.length;
      this.#amigo = concat(secrets.map((k) => k.amigo));
    }

    /**
     * Verifies the raw body against the headers and returns the parsed event. Throws a
     * `WebhookVerificationError` naming the failed check.
     */
    verify(payload, headers) {
      this.#check(payload, headers);
      return parseEvent(payload);
    }

    /**
     * Like `verify`, and also tells what verified it: `{ event, scheme: 'standard' | 'amigo',
     * asymmetric, keyIndex, webhookId }`. `webhookId` is set only when the Standard Webhooks
     * signature, which covers it, verified: deduplicate on it, never on Amigo's unsigned id.
     */
    verifyDetailed(payload, headers) {
      const matched = this.#check(payload, headers);
      const standard = matched < AMIGO;
      const index = matched % AMIGO;
      return {
        event: parseEvent(payload),
        scheme: standard ? 'standard' : 'amigo',
        asymmetric: standard && index >= this.#order.length - this.#publicCount,
        keyIndex: this.#order[index],
        webhookId: standard ? header(headers, 'webhook-id', '') : null,
      };
    }

    // Verifies; returns the index of the key that matched as the core counts them, plus `AMIGO`
    // when Amigo's headers verified (a number: nothing is allocated on this path).
    #check(payload, headers) {
      if (headers === null || typeof headers !== 'object') {
        throw new TypeError('headers must be a Headers, a plain object or IncomingHttpHeaders');
      }
      const now = this.#clock ? Number(this.#clock()) : Date.now();
      let status;
      const signature = header(headers, 'webhook-signature', ' ');
      const id = header(headers, 'webhook-id', '');
      const timestamp = header(headers, 'webhook-timestamp', '');
      const standard = signature !== undefined || id !== undefined || timestamp !== undefined;
      if (standard) {
        if (id === undefined) throw missing('webhook-id');
        if (timestamp === undefined) throw missing('webhook-timestamp');
        if (signature === undefined) throw missing('webhook-signature');
        const keys = this.#standard;
        const bodyLen = writeKeysAndBody(keys, payload, id.length + timestamp.length + signature.length);
        let at = keys.length + bodyLen;
        const idLen = writeString(id, at);
        const tsLen = writeString(timestamp, (at += idLen));
        const sigLen = writeString(signature, (at += tsLen));
        const pks = this.#publicCount;
        status = core.verify_standard((keys.length - 32 * pks) / KEY, pks, bodyLen, idLen, tsLen, sigLen, this.#tolerance, now);
      } else {
        const amigoTs = header(headers, 'x-amigo-request-timestamp', '');
        const amigoSig = header(headers, 'x-amigo-request-signature', ',');
        if (amigoTs === undefined && amigoSig === undefined) throw missing('webhook-id');
        if (amigoTs === undefined) throw missing('x-amigo-request-timestamp');
        if (amigoSig === undefined) throw missing('x-amigo-request-signature');
        const keys = this.#amigo;
        const bodyLen = writeKeysAndBody(keys, payload, amigoTs.length + amigoSig.length);
        const at = keys.length + bodyLen;
        const tsLen = writeString(amigoTs, at);
        const sigLen = writeString(amigoSig, at + tsLen);
        status = core.verify_amigo(keys.length / KEY, bodyLen, tsLen, sigLen, this.#tolerance, now);
      }
      if (status < MATCHED) throw failure(status);
      return status - MATCHED + (standard ? 0 : AMIGO);
    }

    /**
     * Signs a body as edgehook does: both header sets, one signature per secret (newest first).
     * `timestamp` is a Date or Unix milliseconds. Returns the six headers as a plain object.
     */
    sign(msgId, timestamp, payload) {
      const ms = timestamp instanceof Date ? timestamp.getTime() : Number(timestamp);
      if (typeof msgId !== 'string' || !Number.isFinite(ms)) {
        throw new TypeError('sign(msgId: string, timestamp: Date | number, payload)');
      }
      const keys = concat(this.#keys.flatMap((k) => (k.amigo ? [k.amigo, k.standard] : [])));
      const n = keys.length / (2 * KEY);
      if (n === 0) throw new WebhookVerificationError('malformed_secret', 'signing needs a whsec_ secret');
      // Room for the id, then the output: the id twice, two timestamps, the header names and
      // one hex (65) and one base64 (48) signature per secret.
      const bodyLen = writeKeysAndBody(keys, payload, 3 * msgId.length + 80 + 40 * n);
      const idLen = writeString(msgId, keys.length + bodyLen);
      const outLen = core.sign(n, bodyLen, idLen, Math.trunc(ms));
      if (outLen === 0) throw new RangeError('signing output did not fit');
      const start = keys.length + bodyLen + idLen;
      const headers = {};
      for (const line of decoder.decode(view.subarray(start, start + outLen)).split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon)] = line.slice(colon + 1);
      }
      return headers;
    }

    /** A new `whsec_` secret: base64 of 32 bytes from the runtime's CSPRNG. */
    static generateSecret() {
      reserve(128);
      crypto.getRandomValues(view.subarray(0, 32));
      const len = core.generate_secret();
      return decoder.decode(view.subarray(32, 32 + len));
    }
  }

  return { Webhook, WebhookVerificationError };
}

const MATCHED = 0x100;
const AMIGO = 0x10000;
const ORDER_ONE = [0];
const EMPTY = new Uint8Array(0);

/** The bytes of a hex string (the inlined wasm). */
export function fromHex(hex) {
  const bytes = new Uint8Array(hex.length >> 1);
  const digit = (c) => (c > 57 ? c - 87 : c - 48);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (digit(hex.charCodeAt(2 * i)) << 4) | digit(hex.charCodeAt(2 * i + 1));
  return bytes;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
