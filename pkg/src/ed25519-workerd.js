// Entry `@edgehook/sdk/ed25519` for Cloudflare Workers: the ed25519 build's wasm file imported as a module (wrangler bundles it) and instantiated synchronously, as in the default Workers entry.
import { initSync, reserve, parse_secret, parse_public_key, verify_standard, verify_amigo, sign, generate_secret } from '../wasm-ed25519/edgehook_sdk_ed25519.js';
import wasmModule from './edgehook_sdk_ed25519_bg.wasm';
import { createApi } from './webhook.js';

const { memory } = initSync({ module: wasmModule });

const core = { reserve, parse_secret, parse_public_key, verify_standard, verify_amigo, sign, generate_secret };
export const { Webhook } = createApi(core, memory);
export { WebhookVerificationError } from './webhook.js';
