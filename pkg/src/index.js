// Entry for Node (ESM and CommonJS), browsers, bundlers and Deno: the wasm is inlined, so it instantiates synchronously on import, with no file or network access.
import { initSync, reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret } from '../wasm/edgehook_sdk.js';
import wasmHex from 'edgehook:wasm-hex';
import { createApi, fromHex } from './webhook.js';

const { memory } = initSync({ module: fromHex(wasmHex) });

const core = { reserve, parse_secret, verify_standard, verify_amigo, sign, generate_secret };
export const { Webhook } = createApi(core, memory);
export { WebhookVerificationError } from './webhook.js';
