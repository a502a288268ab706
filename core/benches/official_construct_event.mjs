// Stripe's official Node library (npm `stripe`) verifying and parsing the same ~3 KB event as
// `cargo bench -p latch-core --bench webhook` (webhook/verify_parse_apply): `stripe.webhooks.constructEvent`
// (HMAC-SHA256 check, tolerance 300 s, JSON.parse). Prints `{"ns_per_event": N}` on stdout.
//
// Run from the repository root after `npm install`: `node core/benches/official_construct_event.mjs`
// Options (environment): LATCH_BENCH_SECONDS (measurement time per round, default 2), LATCH_BENCH_ROUNDS (default 5;
// the median round is reported).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const body = readFileSync(fileURLToPath(new URL('./fixtures/event.json', import.meta.url)));
const secret = 'whsec_bench_0123456789abcdefghijklmnop';
const stripe = new Stripe('sk_test_unused');
const seconds = Number(process.env.LATCH_BENCH_SECONDS ?? 2);
const rounds = Number(process.env.LATCH_BENCH_ROUNDS ?? 5);

function header() {
  return stripe.webhooks.generateTestHeaderString({
    payload: body.toString('utf8'),
    secret,
    timestamp: Math.floor(Date.now() / 1000),
  });
}

let sink = 0;
function run(iterations, sig) {
  for (let i = 0; i < iterations; i++) {
    const event = stripe.webhooks.constructEvent(body, sig, secret, 300);
    sink += event.created & 1;
  }
}

// Warm up the JIT, and check the header verifies.
let sig = header();
run(20000, sig);

const results = [];
for (let r = 0; r < rounds; r++) {
  sig = header(); // fresh timestamp so the tolerance check never fails
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < deadline) {
    run(1000, sig);
    iterations += 1000;
    now = process.hrtime.bigint();
  }
  results.push(Number(now - start) / iterations);
}
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)];
if (sink < 0) console.error('unreachable');
process.stderr.write(`rounds (ns/event): ${results.map(Math.round).join(', ')}; body ${body.length} bytes\n`);
process.stdout.write(JSON.stringify({ ns_per_event: Math.round(median) }) + '\n');
