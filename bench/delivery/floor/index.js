// The runtime's own floor for what a publish must do before its 202, run under
// the same `wrangler dev` as edgehook: the least a Worker can do and still
// answer only after a Durable Object stored the event durably.
//
//   GET  /     answers 204 (the no-op request)
//   POST /one  one object stores the body in its SQLite, then 202
//   POST /two  a first object (where a quota would be counted) hands the body
//              to a second, which stores it in its SQLite, then 202
import { DurableObject } from "cloudflare:workers";

export class Store extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  }
  async fetch(request) {
    this.ctx.storage.sql.exec("INSERT INTO events (body) VALUES (?)", await request.text());
    return new Response(null, { status: 202 });
  }
}

export class Front extends DurableObject {
  async fetch(request) {
    const store = this.env.STORE.get(this.env.STORE.idFromName("destination"));
    return store.fetch("https://store/", { method: "POST", body: await request.text() });
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (request.method !== "POST") return new Response(null, { status: 204 });
    const ns = path === "/two" ? env.FRONT : env.STORE;
    const stub = ns.get(ns.idFromName(path === "/two" ? "organization" : "destination"));
    const answer = await stub.fetch("https://object/", { method: "POST", body: await request.text() });
    return new Response(null, { status: answer.status });
  },
};
