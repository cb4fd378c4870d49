// The runtime's ceiling: a Worker that answers 204 and does nothing else, run
// under the same `wrangler dev` as edgehook so the benchmark can say how much of
// a request's cost is the local runtime itself.
export default {
  fetch() {
    return new Response(null, { status: 204 });
  },
};
