// Entry for Node (ESM and CommonJS), browsers, bundlers and Deno: the wasm is inlined, so it instantiates synchronously on import, with no file or network access.
import { initSync, WasmWebhook } from '../wasm/edgehook_sdk.js';
import wasmBase64 from 'edgehook:wasm-base64';
import { createApi } from './webhook.js';

const wasmBytes = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
const { memory } = initSync({ module: wasmBytes });

export const { Webhook } = createApi(WasmWebhook, memory);
export { WebhookVerificationError } from './webhook.js';
