"""Oracle: drives the emulator with Stripe's official Python library (PyPI `stripe` 16.1.0) and verifies its
webhooks with `stripe.Webhook.construct_event`.

Usage: EMULATOR_URL=http://127.0.0.1:PORT STRIPE_KEY=sk_test_... python3 official_client.py
Exits non-zero on the first failed check.
"""
import http.client
import http.server
import os
import sys
import threading
import time
import urllib.parse

import stripe

BASE = os.environ.get("EMULATOR_URL", "http://127.0.0.1:12111")
KEY = os.environ.get("STRIPE_KEY", "sk_test_oracle")
client = stripe.StripeClient(KEY, base_addresses={"api": BASE}, max_network_retries=0)
checks = 0
received = []


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode("utf-8")
        received.append((body, self.headers.get("stripe-signature")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"


def wait_for(kind, secret, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for body, sig in list(received):
            event = stripe.Webhook.construct_event(body, sig, secret)
            if event.type == kind:
                return event, body, sig
        time.sleep(0.05)
    raise AssertionError(f"no {kind} webhook within {timeout} s")


def pay(url, card, email):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    form = urllib.parse.urlencode({"email": email, "cardNumber": card})
    conn.request("POST", u.path, form, {"content-type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    return resp.status, resp.getheader("location"), resp.read().decode("utf-8")


try:
    product = client.v1.products.create(params={"name": "Py Pro", "metadata": {"slug": "pro"}})
    check(product.id.startswith("prod_") and product.metadata["slug"] == "pro", "product")
    lookup = f"py-pro-{int(time.time() * 1000)}"
    price = client.v1.prices.create(params={
        "product": product.id, "currency": "usd", "unit_amount": 900,
        "recurring": {"interval": "month"}, "lookup_key": lookup,
    })
    check(price.recurring.interval == "month", "price")
    prices = client.v1.prices.list(params={"lookup_keys": [lookup], "expand": ["data.product"]})
    check(len(prices.data) == 1 and prices.data[0].product.name == "Py Pro", "prices by lookup_keys")
    endpoint = client.v1.webhook_endpoints.create(params={"url": hook_url, "enabled_events": ["checkout.session.completed"]})
    check(endpoint.secret.startswith("whsec_"), "endpoint secret")
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription",
        "line_items": [{"price": price.id, "quantity": 1}],
        "customer_email": "py@example.com",
        "client_reference_id": "site_py",
        "metadata": {"latch_site": "site_py"},
        "subscription_data": {"trial_period_days": 7, "metadata": {"latch_product": "pro"}},
        "success_url": "http://127.0.0.1:9/return?s={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/cancel",
    }, options={"idempotency_key": f"py-{lookup}"})
    check(session.status == "open" and session.url.startswith(BASE), "session")
    got = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    check(got.line_items.data[0].price.id == price.id, "retrieve with line_items")
    status, _, text = pay(session.url, "4000000000000002", "py@example.com")
    check(status == 402 and "Your card was declined." in text, "decline")
    status, location, _ = pay(session.url, "4242 4242 4242 4242", "py@example.com")
    check(status == 303 and location == f"http://127.0.0.1:9/return?s={session.id}", "redirect")
    event, body, sig = wait_for("checkout.session.completed", endpoint.secret)
    check(event.data.object.id == session.id, "completed event verified")
    try:
        stripe.Webhook.construct_event(body.replace("complete", "COMPLETE"), sig, endpoint.secret)
        check(False, "tampered body must fail")
    except stripe.SignatureVerificationError:
        check(True, "tampered body rejected")
    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    check(done.subscription.status == "trialing", "trialing subscription")
    sub = client.v1.subscriptions.update(done.subscription.id, params={"cancel_at_period_end": True})
    check(sub.cancel_at_period_end is True, "cancel at period end")
    conf = client.v1.billing_portal.configurations.create(params={
        "features": {"subscription_cancel": {"enabled": False}, "invoice_history": {"enabled": True}},
        "business_profile": {"privacy_policy_url": "https://example.com/privacy"},
    })
    check(conf.object == "billing_portal.configuration" and conf.features.subscription_cancel.enabled is False,
          "portal configuration")
    conf = client.v1.billing_portal.configurations.update(conf.id, params={
        "business_profile": {"terms_of_service_url": "https://example.com/terms"},
        "features": {"subscription_cancel": {"enabled": True}},
    })
    check(conf.business_profile.terms_of_service_url == "https://example.com/terms"
          and conf.business_profile.privacy_policy_url == "https://example.com/privacy", "portal configuration update")
    check(client.v1.billing_portal.configurations.retrieve(conf.id).features.subscription_cancel.enabled is True,
          "portal configuration retrieve")
    listed = client.v1.billing_portal.configurations.list(params={"active": True})
    check(any(c.id == conf.id for c in listed.data), "portal configurations list")
    portal = client.v1.billing_portal.sessions.create(params={
        "customer": done.subscription.customer, "configuration": conf.id})
    check(portal.configuration == conf.id, "portal session with a configuration")
    try:
        client.v1.billing_portal.configurations.create(params={"business_profile": {"headline": "x"}})
        check(False, "features is required")
    except stripe.InvalidRequestError as e:
        check(e.code == "parameter_missing" and e.param == "features", "missing features refused")
    member = client.v1.customers.create(params={"email": "py-setup@example.com"})
    setup = client.v1.checkout.sessions.create(params={
        "mode": "setup", "customer": member.id, "currency": "usd", "success_url": "http://127.0.0.1:9/ok"})
    status, _, _ = pay(setup.url, "4242 4242 4242 4242", "py-setup@example.com")
    check(status == 303, "setup mode completed")
    seti = client.v1.setup_intents.retrieve(
        client.v1.checkout.sessions.retrieve(setup.id).setup_intent, params={"expand": ["payment_method"]})
    card = seti.payment_method
    check(seti.status == "succeeded" and card.customer == member.id, "setup intent, card attached")
    check(client.v1.payment_methods.attach(card.id, params={"customer": member.id}).id == card.id, "re-attach no-op")
    other = client.v1.customers.create(params={"email": "py-other@example.com"})
    try:
        client.v1.payment_methods.attach(card.id, params={"customer": other.id})
        check(False, "another customer's card must be refused")
    except stripe.InvalidRequestError as e:
        check(e.http_status == 400 and "already been attached" in e.user_message, "attached elsewhere")
    fresh = client.v1.payment_methods.attach("pm_card_visa", params={"customer": other.id})
    check(fresh.customer == other.id and fresh.card.last4 == "4242", "test card attached")
    listed = client.v1.payment_methods.list(params={"customer": member.id, "type": "card"})
    check([p.id for p in listed.data] == [card.id], "payment methods of a customer")
    updated = client.v1.customers.update(member.id, params={"invoice_settings": {"default_payment_method": card.id}})
    check(updated.invoice_settings.default_payment_method == card.id, "invoice default set")
    try:
        client.v1.customers.update(member.id, params={"invoice_settings": {"default_payment_method": fresh.id}})
        check(False, "a default must be attached to the customer")
    except stripe.InvalidRequestError as e:
        check(e.param == "invoice_settings[default_payment_method]", "default not attached refused")
    try:
        client.v1.subscriptions.update(done.subscription.id, params={"default_payment_method": card.id})
        check(False, "another customer's card cannot be a subscription default")
    except stripe.InvalidRequestError as e:
        check(e.param == "default_payment_method", "subscription default not attached refused")
    try:
        client.v1.prices.retrieve("price_missing")
        check(False, "missing price must fail")
    except stripe.InvalidRequestError as e:
        check(e.http_status == 404 and e.code == "resource_missing", "resource_missing")
    try:
        stripe.StripeClient("sk_test_wrong", base_addresses={"api": BASE}).v1.products.list()
        check(False, "wrong key must fail")
    except stripe.AuthenticationError:
        check(True, "authentication error")
    for i in range(3):
        client.v1.products.create(params={"name": f"Py page {i}"})
    seen = sum(1 for _ in client.v1.products.list(params={"limit": 2}).auto_paging_iter())
    check(seen >= 4, f"auto-pagination ({seen})")
    # Where Stripe is strict, the emulator is too.
    try:
        client.v1.products.list(options={"stripe_account": "acct_1NeverConnected"})
        check(False, "an account that never connected cannot be acted on")
    except stripe.PermissionError as e:
        check(e.http_status == 403 and e.json_body["error"]["code"] == "account_invalid"
              and "does not have access to account 'acct_1NeverConnected'" in str(e), "unconnected Stripe-Account refused")
    try:
        client.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": "price_gone", "quantity": 1}]})
        check(False, "a missing price named in a parameter must fail")
    except stripe.InvalidRequestError as e:
        check(e.http_status == 400 and e.code == "resource_missing" and e.param == "line_items[0][price]",
              "missing object in a parameter: 400 naming it")
    try:
        client.v1.customers.list(params={"emial": "a@x.test"})
        check(False, "an unknown query parameter must fail")
    except stripe.InvalidRequestError as e:
        check(e.code == "parameter_unknown" and e.param == "emial", "unknown GET parameter refused")
    try:
        client.v1.prices.create(params={"product": product.id, "currency": "xyz", "unit_amount": 100})
        check(False, "an unknown currency must fail")
    except stripe.InvalidRequestError as e:
        check(e.param == "currency" and "Invalid currency: xyz" in str(e), "currency checked against Stripe's list")
    try:
        client.v1.customers.create(params={"metadata": {"note": "x" * 501}})
        check(False, "a 501-character metadata value must fail")
    except stripe.InvalidRequestError as e:
        check(e.param == "metadata[note]", "metadata value limit")
    try:
        client.v1.customers.create(params={"metadata": {f"k{i}": "v" for i in range(51)}})
        check(False, "51 metadata keys must fail")
    except stripe.InvalidRequestError as e:
        check(e.param == "metadata", "metadata key count limit")
    cheap = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 20})
    try:
        client.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": cheap.id, "quantity": 1}]})
        check(False, "a payment under the minimum must fail")
    except stripe.InvalidRequestError as e:
        check("at least $0.50 usd" in str(e) and e.code == "amount_too_small", "minimum charge amount")
    once = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1500})
    guest = client.v1.checkout.sessions.create(params={
        "mode": "payment", "line_items": [{"price": once.id, "quantity": 1}],
        "success_url": "https://site.test/ok",
    })
    check(guest.customer_creation == "if_required", "customer_creation defaults to if_required")
    pay(guest.url, "4242424242424242", "guest@x.test")
    guest = client.v1.checkout.sessions.retrieve(guest.id)
    check(guest.customer is None and guest.customer_details.email == "guest@x.test",
          "payment mode makes no Customer unless asked")
    try:
        client.v1.checkout.sessions.create(params={
            "mode": "subscription", "line_items": [{"price": price.id, "quantity": 1}], "customer_creation": "always",
        })
        check(False, "customer_creation outside payment mode must fail")
    except stripe.InvalidRequestError as e:
        check("can only be used in `payment` mode" in str(e), "customer_creation is for payment mode only")
    print(f"python oracle: {checks} checks passed")
except Exception as e:  # noqa: BLE001
    print(f"python oracle: FAILED after {checks} checks: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
finally:
    server.shutdown()
