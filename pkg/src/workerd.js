// Entry for Cloudflare Workers, which refuse to compile wasm from bytes at run time: the wasm file is imported as a module (wrangler bundles it) and instantiated synchronously.
import { initSync, reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret } from '../wasm/edgehook_sdk.js';
import wasmModule from './edgehook_sdk_bg.wasm';
import { createApi } from './webhook.js';

const { memory } = initSync({ module: wasmModule });

const core = { reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret };
export const { Webhook } = createApi(core, memory);
export { WebhookVerificationError } from './webhook.js';
