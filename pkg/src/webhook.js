// The package's JavaScript API around the wasm core: header lookup, encoding inputs into wasm memory, typed errors, JSON parsing.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const DEFAULT_TOLERANCE_SECONDS = 300;

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

/**
 * Builds the public API over one instantiated wasm core: `WasmWebhook` (the wasm-bindgen class)
 * and the module's `memory`.
 */
export function createApi(WasmWebhook, memory) {
  // Writes into wasm memory go through one view per Webhook, rebuilt only when the buffer moves
  // (it grew) or the memory grew (the old view is then detached and reads as empty).
  class Webhook {
    #core;
    #view = new Uint8Array(0);
    #clock;

    /**
     * @param secret one `whsec_…` secret, or several (newest first) while the sender rotates.
     * @param options `toleranceSeconds` (default 300) and `clock` (ms or Date; for tests).
     */
    constructor(secret, options = {}) {
      const secrets = Array.isArray(secret) ? secret : [secret];
      if (secrets.some((s) => typeof s !== 'string' || s.includes('\n'))) {
        throw new WebhookVerificationError('malformed_secret', 'a secret must be a whsec_ string');
      }
      const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
      if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 0xffffffff) {
        throw new RangeError('toleranceSeconds must be a non-negative integer');
      }
      this.#clock = options.clock;
      this.#core = new WasmWebhook(tolerance);
      const joined = secrets.join('\n');
      this.#reserve(joined.length * 3);
      const status = this.#core.set_secrets(this.#writeString(joined, 0));
      if (status !== 0) {
        this.#core.free();
        throw failure(status);
      }
    }

    /**
     * Verifies the raw body against the headers and returns the parsed event. Throws a
     * `WebhookVerificationError` naming the failed check.
     */
    verify(payload, headers) {
      if (headers === null || typeof headers !== 'object') {
        throw new TypeError('headers must be a Headers, a plain object or IncomingHttpHeaders');
      }
      const now = this.#clock ? Number(this.#clock()) : Date.now();
      let status;
      const signature = header(headers, 'webhook-signature', ' ');
      const id = header(headers, 'webhook-id', '');
      const timestamp = header(headers, 'webhook-timestamp', '');
      if (signature !== undefined || id !== undefined || timestamp !== undefined) {
        if (id === undefined) throw missing('webhook-id');
        if (timestamp === undefined) throw missing('webhook-timestamp');
        if (signature === undefined) throw missing('webhook-signature');
        const extra = id.length + timestamp.length + signature.length;
        const bodyLen = this.#writeBody(payload, extra);
        const idLen = this.#writeString(id, bodyLen);
        const tsLen = this.#writeString(timestamp, bodyLen + idLen);
        const sigLen = this.#writeString(signature, bodyLen + idLen + tsLen);
        status = this.#core.verify_standard(bodyLen, idLen, tsLen, sigLen, now);
      } else {
        const amigoTs = header(headers, 'x-amigo-request-timestamp', '');
        const amigoSig = header(headers, 'x-amigo-request-signature', ',');
        if (amigoTs === undefined && amigoSig === undefined) throw missing('webhook-id');
        if (amigoTs === undefined) throw missing('x-amigo-request-timestamp');
        if (amigoSig === undefined) throw missing('x-amigo-request-signature');
        const extra = amigoTs.length + amigoSig.length;
        const bodyLen = this.#writeBody(payload, extra);
        const tsLen = this.#writeString(amigoTs, bodyLen);
        const sigLen = this.#writeString(amigoSig, bodyLen + tsLen);
        status = this.#core.verify_amigo(bodyLen, tsLen, sigLen, now);
      }
      if (status !== 0) throw failure(status);
      return parseEvent(payload);
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
      const bodyLen = this.#writeBody(payload, msgId.length);
      const idLen = this.#writeString(msgId, bodyLen);
      const outLen = this.#core.sign(bodyLen, idLen, Math.trunc(ms));
      const text = decoder.decode(new Uint8Array(memory.buffer, this.#core.out_ptr(), outLen));
      const headers = {};
      for (const line of text.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon)] = line.slice(colon + 1);
      }
      return headers;
    }

    /** Releases the wasm memory held by this instance (also done by the garbage collector). */
    free() {
      this.#core.free();
    }

    // Makes room for `len` bytes in the core's input buffer and returns the view over it.
    #reserve(len) {
      let view = this.#view;
      if (view.length < len || view.byteLength === 0) {
        const size = Math.max(len, 1024);
        const ptr = this.#core.reserve(size);
        view = this.#view = new Uint8Array(memory.buffer, ptr, size);
      }
      return view;
    }

    // Writes the body at the start of the buffer, leaving room for `extra` more UTF-16 units.
    #writeBody(payload, extra) {
      if (typeof payload === 'string') {
        const view = this.#reserve((payload.length + extra) * 3);
        return encoder.encodeInto(payload, view).written;
      }
      const bytes = asBytes(payload);
      const view = this.#reserve(bytes.length + extra * 3);
      view.set(bytes);
      return bytes.length;
    }

    // Writes a header value at `offset`; ASCII (all valid values) is copied without an encoder.
    // The caller has reserved room for it (three bytes per UTF-16 unit at most).
    #writeString(text, offset) {
      const view = this.#view;
      const n = text.length;
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) return encoder.encodeInto(text, view.subarray(offset)).written;
        view[offset + i] = c;
      }
      return n;
    }

    /** A new `whsec_` secret: base64 of 32 bytes from the runtime's CSPRNG. */
    static generateSecret() {
      const core = new WasmWebhook(0);
      try {
        const ptr = core.reserve(32);
        crypto.getRandomValues(new Uint8Array(memory.buffer, ptr, 32));
        const len = core.secret_from_buffer();
        return decoder.decode(new Uint8Array(memory.buffer, core.out_ptr(), len));
      } finally {
        core.free();
      }
    }
  }

  return { Webhook, WebhookVerificationError };
}
