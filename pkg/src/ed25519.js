// Entry `@edgehook/sdk/ed25519` for Node (ESM and CommonJS), browsers, bundlers and Deno: the same API, built with ed25519 so that `whpk_` public keys verify Standard Webhooks `v1a` signatures. The wasm is inlined, as in the default entry.
import { initSync, reserve, parse_secret, parse_public_key, verify_standard, verify_amigo, sign, generate_secret } from '../wasm-ed25519/edgehook_sdk_ed25519.js';
import wasmHex from 'edgehook:wasm-hex';
import { createApi, fromHex } from './webhook.js';

const { memory } = initSync({ module: fromHex(wasmHex) });

const core = { reserve, parse_secret, parse_public_key, verify_standard, verify_amigo, sign, generate_secret };
export const { Webhook } = createApi(core, memory);
export { WebhookVerificationError } from './webhook.js';
