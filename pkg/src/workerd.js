// Entry for Cloudflare Workers, which refuse to compile wasm from bytes at run time: the wasm file is imported as a module (wrangler bundles it) and instantiated synchronously.
import { initSync, WasmWebhook } from '../wasm/edgehook_sdk.js';
import wasmModule from './edgehook_sdk_bg.wasm';
import { createApi } from './webhook.js';

const { memory } = initSync({ module: wasmModule });

export const { Webhook } = createApi(WasmWebhook, memory);
export { WebhookVerificationError } from './webhook.js';
