// Entry for Node (ESM and CommonJS), browsers, bundlers and Deno: the wasm is inlined, so it instantiates synchronously on import, with no file or network access.
import { initSync, reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret } from '../wasm/edgehook_sdk.js';
import wasmBase64 from 'edgehook:wasm-base64';
import { createApi } from './webhook.js';

const wasmBytes = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
const { memory } = initSync({ module: wasmBytes });

const core = { reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret };
export const { Webhook } = createApi(core, memory);
export { WebhookVerificationError } from './webhook.js';
