// Oracle: drives the emulator with Stripe's official Node client (npm `stripe`, pinned in the repo's
// package.json) and verifies its webhooks with `stripe.webhooks.constructEvent`.
//
// Usage: EMULATOR_URL=http://127.0.0.1:PORT STRIPE_KEY=sk_test_... node official_client.mjs
// Exits non-zero on the first failed check.
import http from 'node:http';
import assert from 'node:assert/strict';
import Stripe from 'stripe';

const base = new URL(process.env.EMULATOR_URL ?? 'http://127.0.0.1:12111');
const key = process.env.STRIPE_KEY ?? 'sk_test_oracle';
const options = { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0, telemetry: false };
const stripe = new Stripe(key, options);
let checks = 0;
const check = (cond, what) => {
  assert.ok(cond, what);
  checks += 1;
};

// A tiny webhook receiver that keeps raw bodies.
const received = [];
const waiters = [];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    received.push({ body, signature: req.headers['stripe-signature'] });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"received":true}');
    for (const w of waiters.splice(0)) w();
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${server.address().port}/hook`;

async function waitForEvent(type, secret, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const r of received) {
      const event = stripe.webhooks.constructEvent(r.body, r.signature, secret);
      if (event.type === type) return { event, raw: r };
    }
    if (Date.now() > deadline) throw new Error(`no ${type} webhook within ${timeoutMs} ms (got ${received.length})`);
    await new Promise((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 200);
    });
  }
}

async function payHosted(url, card, email) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, cardNumber: card }).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

try {
  // Catalog.
  const product = await stripe.products.create({ name: 'Oracle Pro', metadata: { slug: 'pro' } });
  check(product.id.startsWith('prod_') && product.object === 'product' && product.metadata.slug === 'pro', 'product');
  const lookupKey = `oracle-pro-monthly-${Date.now()}`;
  const price = await stripe.prices.create({
    product: product.id, currency: 'usd', unit_amount: 900, recurring: { interval: 'month' },
    lookup_key: lookupKey, transfer_lookup_key: true,
  });
  check(price.id.startsWith('price_') && price.recurring.interval === 'month' && price.unit_amount === 900, 'price');
  const prices = await stripe.prices.list({ lookup_keys: [lookupKey], expand: ['data.product'] });
  check(prices.object === 'list' && prices.data.length === 1 && prices.data[0].id === price.id, 'prices by lookup_keys');
  check(prices.data[0].product.name === 'Oracle Pro', 'expand data.product');

  // Webhook endpoint pointing at our receiver.
  const endpoint = await stripe.webhookEndpoints.create({
    url: hookUrl, enabled_events: ['checkout.session.completed', 'customer.subscription.created', 'invoice.paid'],
  });
  check(endpoint.secret?.startsWith('whsec_'), 'webhook endpoint secret');

  // Checkout Session (idempotent).
  const params = {
    mode: 'subscription',
    line_items: [{ price: price.id, quantity: 1 }],
    customer_email: 'oracle@example.com',
    client_reference_id: 'site_oracle',
    metadata: { latch_site: 'site_oracle', latch_product: 'pro' },
    subscription_data: { trial_period_days: 7, metadata: { latch_product: 'pro' } },
    allow_promotion_codes: true,
    billing_address_collection: 'auto',
    success_url: 'http://127.0.0.1:9/return?latch_session={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://127.0.0.1:9/cancel',
  };
  const idem = `oracle-${Date.now()}`;
  const session = await stripe.checkout.sessions.create(params, { idempotencyKey: idem });
  check(session.id.startsWith('cs_test_') && session.status === 'open' && session.url.startsWith(base.origin), 'session');
  const again = await stripe.checkout.sessions.create(params, { idempotencyKey: idem });
  check(again.id === session.id, 'idempotent replay returns the same session');
  try {
    await stripe.checkout.sessions.create({ ...params, client_reference_id: 'other' }, { idempotencyKey: idem });
    check(false, 'reused idempotency key with other params must fail');
  } catch (e) {
    check(e.type === 'StripeIdempotencyError', `idempotency error type (${e.type})`);
  }
  const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
  check(retrieved.id === session.id && retrieved.line_items.data[0].price.id === price.id, 'retrieve with line_items');
  check(retrieved.metadata.latch_site === 'site_oracle' && retrieved.client_reference_id === 'site_oracle', 'metadata');

  // Pay on the hosted page: decline first, then the good card.
  const declined = await payHosted(session.url, '4000 0000 0000 0002', 'oracle@example.com');
  check(declined.status === 402 && declined.text.includes('Your card was declined.'), 'decline shown');
  const paid = await payHosted(session.url, '4242 4242 4242 4242', 'oracle@example.com');
  check(paid.status === 303 && paid.location === `http://127.0.0.1:9/return?latch_session=${session.id}`, 'redirect');

  // The webhook, verified by the official library.
  const { event, raw } = await waitForEvent('checkout.session.completed', endpoint.secret);
  check(event.data.object.id === session.id && event.data.object.status === 'complete', 'completed event');
  check(event.api_version && event.livemode === false && event.object === 'event', 'event envelope');
  try {
    stripe.webhooks.constructEvent(raw.body.replace('complete', 'COMPLETE'), raw.signature, endpoint.secret);
    check(false, 'tampered body must not verify');
  } catch (e) {
    check(e.type === 'StripeSignatureVerificationError', 'tampered body rejected');
  }
  const sub = await waitForEvent('customer.subscription.created', endpoint.secret);
  check(sub.event.data.object.status === 'trialing', 'subscription trialing');

  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription', 'customer'] });
  check(done.payment_status === 'no_payment_required' && done.subscription.status === 'trialing', 'session complete');
  check(done.customer.email === 'oracle@example.com', 'customer expanded');
  check(done.subscription.items.data[0].current_period_end === done.subscription.trial_end, 'period on items');

  // Subscriptions and portal.
  const subs = await stripe.subscriptions.list({ customer: done.customer.id, status: 'all' });
  check(subs.data.length === 1, 'subscriptions list');
  const updated = await stripe.subscriptions.update(done.subscription.id, { cancel_at_period_end: true });
  check(updated.cancel_at_period_end === true && updated.cancel_at === done.subscription.trial_end, 'cancel at period end');
  const portal = await stripe.billingPortal.sessions.create({ customer: done.customer.id, return_url: 'http://127.0.0.1:9/account' });
  check(portal.url.startsWith(`${base.origin}/portal/`), 'portal session');
  const conf = await stripe.billingPortal.configurations.create({
    features: { subscription_cancel: { enabled: false }, invoice_history: { enabled: true } },
    business_profile: { privacy_policy_url: 'https://example.com/privacy', terms_of_service_url: 'https://example.com/terms' },
  });
  check(conf.object === 'billing_portal.configuration' && conf.features.subscription_cancel.enabled === false, 'portal configuration');
  const confUpdated = await stripe.billingPortal.configurations.update(conf.id, {
    features: { subscription_cancel: { enabled: true, mode: 'at_period_end' } },
  });
  check(confUpdated.features.subscription_cancel.enabled === true
    && confUpdated.business_profile.terms_of_service_url === 'https://example.com/terms', 'portal configuration update');
  check((await stripe.billingPortal.configurations.retrieve(conf.id)).id === conf.id, 'portal configuration retrieve');
  const confs = await stripe.billingPortal.configurations.list({ active: true });
  check(confs.data.some((c) => c.id === conf.id), 'portal configurations list');
  const configured = await stripe.billingPortal.sessions.create({ customer: done.customer.id, configuration: conf.id });
  check(configured.configuration === conf.id, 'portal session with a configuration');
  try {
    await stripe.billingPortal.configurations.create({
      features: { invoice_history: { enabled: true } }, business_profile: { privacy_policy_url: 'not a url' },
    });
    check(false, 'an invalid policy URL must be refused');
  } catch (e) {
    check(e.type === 'StripeInvalidRequestError' && e.code === 'url_invalid', 'invalid portal URL refused');
  }
  try {
    await stripe.billingPortal.sessions.create({ customer: done.customer.id, configuration: 'bpc_missing' });
    check(false, 'an unknown configuration must be refused');
  } catch (e) {
    check(e.statusCode === 400 && e.code === 'resource_missing', 'unknown portal configuration refused');
  }
  const canceled = await stripe.subscriptions.cancel(done.subscription.id);
  check(canceled.status === 'canceled', 'cancel now');

  // One-time payment and a partial refund.
  const once = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 2500 });
  const pay = await stripe.checkout.sessions.create({
    mode: 'payment', line_items: [{ price: once.id, quantity: 1 }], success_url: 'http://127.0.0.1:9/ok',
  });
  const paidOnce = await payHosted(pay.url, '4242424242424242', 'buyer@example.com');
  check(paidOnce.status === 303, 'payment mode paid');
  const paySession = await stripe.checkout.sessions.retrieve(pay.id, { expand: ['payment_intent'] });
  check(paySession.payment_intent.status === 'succeeded' && paySession.amount_total === 2500, 'payment intent');
  const refund = await stripe.refunds.create({ payment_intent: paySession.payment_intent.id, amount: 1000 });
  check(refund.status === 'succeeded' && refund.amount === 1000, 'refund');
  const charge = await stripe.charges.retrieve(paySession.payment_intent.latest_charge);
  check(charge.amount_refunded === 1000 && charge.refunded === false, 'charge partially refunded');

  // Setup mode saves a card on the customer; attach, defaults for invoices and a subscription.
  const member = await stripe.customers.create({ email: 'setup@example.com' });
  const setup = await stripe.checkout.sessions.create({
    mode: 'setup', customer: member.id, currency: 'usd', success_url: 'http://127.0.0.1:9/ok',
  });
  check((await payHosted(setup.url, '4242424242424242', 'setup@example.com')).status === 303, 'setup mode completed');
  const setupDone = await stripe.checkout.sessions.retrieve(setup.id, { expand: ['setup_intent.payment_method'] });
  const card = setupDone.setup_intent.payment_method;
  check(setupDone.setup_intent.status === 'succeeded' && card.customer === member.id, 'setup intent, card attached');
  check((await stripe.paymentMethods.attach(card.id, { customer: member.id })).id === card.id, 're-attach is a no-op');
  const other = await stripe.customers.create({ email: 'other@example.com' });
  try {
    await stripe.paymentMethods.attach(card.id, { customer: other.id });
    check(false, "another customer's card must be refused");
  } catch (e) {
    check(e.type === 'StripeInvalidRequestError' && e.statusCode === 400
      && e.message === 'The payment method you provided has already been attached to a customer.', 'attached elsewhere');
  }
  try {
    await stripe.customers.update(other.id, { invoice_settings: { default_payment_method: card.id } });
    check(false, 'a default must be attached');
  } catch (e) {
    check(e.statusCode === 400 && e.param === 'invoice_settings[default_payment_method]', 'default not attached refused');
  }
  const fresh = await stripe.paymentMethods.attach('pm_card_visa', { customer: other.id });
  check(fresh.id.startsWith('pm_') && fresh.customer === other.id && fresh.card.last4 === '4242', 'test card attached');
  const listed = await stripe.paymentMethods.list({ customer: member.id, type: 'card' });
  check(listed.data.length === 1 && listed.data[0].id === card.id, 'payment methods of a customer');
  const withDefault = await stripe.customers.update(member.id, { invoice_settings: { default_payment_method: card.id } });
  check(withDefault.invoice_settings.default_payment_method === card.id, 'invoice default set');
  const monthly = await stripe.checkout.sessions.create({
    mode: 'subscription', customer: member.id, line_items: [{ price: price.id, quantity: 1 }], success_url: 'http://127.0.0.1:9/ok',
  });
  check((await payHosted(monthly.url, '4242424242424242', 'setup@example.com')).status === 303, 'member subscribed');
  const memberSub = (await stripe.subscriptions.list({ customer: member.id })).data[0];
  const switched = await stripe.subscriptions.update(memberSub.id, { default_payment_method: card.id });
  check(switched.default_payment_method === card.id, 'subscription default set');
  try {
    await stripe.subscriptions.update(memberSub.id, { default_payment_method: fresh.id });
    check(false, "another customer's card cannot be a subscription default");
  } catch (e) {
    check(e.statusCode === 400 && e.param === 'default_payment_method', 'subscription default not attached refused');
  }
  const paidCard = (await stripe.paymentIntents.retrieve(paySession.payment_intent.id)).payment_method;
  try {
    await stripe.paymentMethods.attach(paidCard, { customer: member.id });
    check(false, 'a card used once without a customer cannot be attached');
  } catch (e) {
    check(e.statusCode === 400 && e.message.includes('It may not be used again'), 'single-use card refused');
  }

  // Errors and pagination.
  try {
    await stripe.prices.retrieve('price_missing');
    check(false, 'missing price must 404');
  } catch (e) {
    check(e.type === 'StripeInvalidRequestError' && e.statusCode === 404 && e.code === 'resource_missing', 'resource_missing');
  }
  try {
    await new Stripe('sk_test_wrong', options).products.list();
    check(process.env.STRIPE_ANY_KEY === '1', 'wrong key must 401');
  } catch (e) {
    check(e.type === 'StripeAuthenticationError' && e.statusCode === 401, 'authentication error');
  }
  for (let i = 0; i < 3; i += 1) await stripe.products.create({ name: `Page ${i}` });
  let seen = 0;
  for await (const p of stripe.products.list({ limit: 2 })) {
    if (p.object === 'product') seen += 1;
  }
  check(seen >= 4, `auto-pagination (${seen})`);
  const events = await stripe.events.list({ type: 'checkout.session.completed' });
  check(events.data.some((e) => e.data.object.id === session.id), 'events list');

  console.log(`oracle: ${checks} checks passed`);
  server.close();
  process.exit(0);
} catch (e) {
  console.error(`oracle: FAILED after ${checks} checks: ${e.stack ?? e}`);
  if (e.raw) console.error(JSON.stringify(e.raw));
  server.close();
  process.exit(1);
}
