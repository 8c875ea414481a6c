// Drives Fastly's official JavaScript client (npm "fastly") against the
// purge gateway, unchanged but for where it sends its requests: its purge
// calls ignore ApiClient.basePath, so a superagent plugin, the client's own
// request hook, rewrites the API host to the gateway. Prints one JSON line
// per call: {"call": ..., "status": ..., "body": ...}.
//
// Environment: GATEWAY_URL (http://127.0.0.1:PORT), FASTLY_KEY (a
// Kubernetes token), SERVICE_ID (<namespace>.<name>).
const Fastly = require("fastly");

const gateway = process.env.GATEWAY_URL;
const client = Fastly.ApiClient.instance;
client.authenticate(process.env.FASTLY_KEY);
client.plugins = [(req) => {
  req.url = req.url.replace("https://api.fastly.com", gateway);
}];
const purge = new Fastly.PurgeApi();
const service_id = process.env.SERVICE_ID;

async function report(call, promise) {
  try {
    const res = await promise;
    console.log(JSON.stringify({ call, status: res.response.status, body: res.data }));
  } catch (err) {
    console.log(JSON.stringify({ call, status: err.status || 0, body: String(err) }));
  }
}

(async () => {
  await report("purgeTag", purge.purgeTagWithHttpInfo({ service_id, surrogate_key: "product-42", fastly_soft_purge: 1 }));
  await report("bulkPurgeTag", purge.bulkPurgeTagWithHttpInfo({ service_id, purge_response: { surrogate_keys: ["a", "b"] } }));
  await report("purgeAll", purge.purgeAllWithHttpInfo({ service_id }));
  await report("purgeSingleUrl", purge.purgeSingleUrlWithHttpInfo({ cached_url: "www.example.com/products/7?page=2", fastly_soft_purge: 1 }));
})();
