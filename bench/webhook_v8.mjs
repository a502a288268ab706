// latch-core's webhook path compiled to wasm (bench/webhook-wasm, the Worker's release profile) against Stripe's
// official Node library's `constructEventAsync` with its SubtleCrypto provider (what a Worker written in
// JavaScript uses), in one V8, on the same ~3 KB event, same secret, same tolerance; rounds alternate so both meet
// the same background load. Prints `{"latch_ns": N, "official_ns": M}` (the best round of each) on stdout.
//
// Run by `cargo xtask bench`: `node bench/webhook_v8.mjs <path to the wasm-bindgen nodejs glue>`.
// Options (environment): LATCH_BENCH_SECONDS (per round and side, default 2), LATCH_BENCH_ROUNDS (default 3).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const require = createRequire(import.meta.url);
const { Webhook } = require(process.argv[2]);
const body = readFileSync(fileURLToPath(new URL('../core/benches/fixtures/event.json', import.meta.url)));
const text = body.toString('utf8');
// The fixture's Stripe product (as core/benches/webhook.rs links it).
const product = 'prod_QXg1hqf4jFNsqG';
const secret = 'whsec_bench_0123456789abcdefghijklmnop';
const stripe = new Stripe('sk_test_unused');
const provider = Stripe.createSubtleCryptoProvider();
const seconds = Number(process.env.LATCH_BENCH_SECONDS ?? 2);
const rounds = Number(process.env.LATCH_BENCH_ROUNDS ?? 3);
const bytes = new Uint8Array(body);

const nowSecs = () => Math.floor(Date.now() / 1000);
const header = () => stripe.webhooks.generateTestHeaderString({ payload: text, secret, timestamp: nowSecs() });
const site = new Webhook(bytes, product, nowSecs());

let sink = 0;
async function latch(n, sig, now) {
  for (let i = 0; i < n; i++) if (site.deliver(bytes, sig, secret, now)) sink++;
}
async function official(n, sig) {
  for (let i = 0; i < n; i++) {
    const event = await stripe.webhooks.constructEventAsync(body, sig, secret, 300, provider);
    sink += event.created & 1;
  }
}

async function round(run) {
  const sig = header(); // a fresh timestamp, so the tolerance check never fails
  const now = nowSecs();
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let t = start;
  while (t < deadline) {
    await run(500, sig, now);
    iterations += 500;
    t = process.hrtime.bigint();
  }
  return Number(t - start) / iterations;
}

// Warm both up and check both accept the delivery.
await latch(5000, header(), nowSecs());
await official(5000, header());
if (!site.deliver(bytes, header(), secret, nowSecs())) throw new Error('latch-core refused the fixture');
const ours = [];
const theirs = [];
for (let r = 0; r < rounds; r++) {
  ours.push(await round(latch));
  theirs.push(await round(official));
}
const best = (v) => Math.round(Math.min(...v));
process.stderr.write(`rounds (ns/event): latch ${ours.map(Math.round).join(', ')}; official ${theirs.map(Math.round).join(', ')}\n`);
if (sink < 0) console.error('unreachable');
process.stdout.write(JSON.stringify({ latch_ns: best(ours), official_ns: best(theirs) }) + '\n');
