// A local webhook receiver for the Node SDK flows: it keeps every delivery (body and
// headers) and answers 200; `until` waits for the deliveries a flow expects.
"use strict";
const http = require("http");

async function receiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url, headers: req.headers,
                      body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("[accepted]");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received,
    async until(predicate, seconds = 30) {
      const deadline = Date.now() + seconds * 1000;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`no such delivery: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    close() { server.close(); },
  };
}

// The simulator's admin API (plain HTTP; its address comes from the test).
async function admin(method, path, body) {
  const res = await fetch(`${process.env.PAYSANDBOX_ADMIN}${path}`, {
    method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function run(flow) {
  flow().then((out) => { console.log(JSON.stringify(out)); process.exit(0); },
              (error) => { console.error(error); process.exit(1); });
}

module.exports = { receiver, admin, run };
