//! One person, one member, when the email typed on Stripe's page and the member Latch knows disagree (issue 4,
//! members): a signed-in member paying with another email keeps their email and gets the access, with no ghost
//! member for the typed email; a signed-out buyer using an existing member's email lands on that member; a member
//! with no Stripe customer yet checks out with their own email pre-filled. Promotion codes and the per-product
//! billing address setting reach Stripe. Checkout and claim are rate limited.
//! Real wrangler dev + D1 + the emulator.

use latch_e2e::{DEMO_SITE, Stack, StackOptions, read_json, unix_now};
use serde_json::{Value, json};

const PAYS: &str = "4242 4242 4242 4242";

fn answer(resp: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Opens a checkout for `price` (as a signed-in member with `token`): the session as the edge answered it.
fn checkout(stack: &Stack, price: &str, token: Option<&str>, email: Option<&str>) -> Value {
    let mut req = ureq::post(&format!("{}/v1/checkout", stack.edge_url));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let mut body = json!({ "site": DEMO_SITE, "price": price, "return_url": format!("{}/demo/", stack.edge_url) });
    if let Some(e) = email {
        body["email"] = json!(e);
    }
    let (status, session) = answer(req.send_json(body));
    assert_eq!(status, 200, "{session}");
    session
}

/// Pays a session at the emulator typing `typed` as the email (empty: keep what Stripe pre-filled), then claims.
fn pay_and_claim(stack: &Stack, session: &Value, typed: &str) -> Value {
    let id = session["id"].as_str().expect("session id");
    stack
        .emulator_control(&format!("/checkout/sessions/{id}/pay"), &json!({ "card": PAYS, "email": typed }))
        .expect("pay");
    let (status, claimed) = answer(
        ureq::post(&format!("{}/v1/claim", stack.edge_url))
            .send_json(json!({ "site": DEMO_SITE, "checkout_session_id": id })),
    );
    assert_eq!(status, 200, "{claimed}");
    claimed
}

fn stripe_session(stack: &Stack, id: &str) -> Value {
    read_json(
        ureq::get(&format!("{}/v1/checkout/sessions/{id}", stack.emulator_url))
            .set("Authorization", &format!("Bearer {}", latch_e2e::STRIPE_TEST_KEY))
            .call(),
    )
    .expect("session at Stripe")
}

fn products(answer: &Value) -> Vec<String> {
    let mut p: Vec<String> = answer["access"]
        .as_array()
        .expect("access")
        .iter()
        .map(|a| a["product"].as_str().expect("slug").into())
        .collect();
    p.sort();
    p
}

fn members(stack: &Stack) -> Vec<String> {
    let rows =
        stack.sql(&format!("SELECT email FROM members WHERE site_id = '{DEMO_SITE}' ORDER BY email")).expect("members");
    rows.as_array().expect("rows").iter().map(|r| r["email"].as_str().expect("email").to_owned()).collect()
}

#[test]
fn a_typed_email_never_makes_a_ghost_member() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");

    // Ann buys the course signed out; she is a member with a Stripe customer.
    let first = pay_and_claim(&stack, &checkout(&stack, "course-lifetime", None, Some("ann@example.com")), "");
    assert_eq!(first["member"]["email"], "ann@example.com");
    let token = first["token"].as_str().expect("token").to_owned();

    // Signed in, she subscribes and types another email on Stripe's page.
    let session = checkout(&stack, "pro-monthly", Some(&token), Some("ignored@example.com"));
    let at_stripe = stripe_session(&stack, session["id"].as_str().expect("id"));
    assert!(
        at_stripe["customer"].as_str().is_some_and(|c| c.starts_with("cus_")),
        "her customer is reused: {at_stripe}"
    );
    let second = pay_and_claim(&stack, &session, "ann.work@example.com");
    assert_eq!(second["member"]["email"], "ann@example.com", "the signed-in member keeps her email");
    assert_eq!(products(&second), ["course", "pro"], "the grant lands on her");
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(members(&stack), ["ann@example.com"], "no ghost member for the typed email");
    let (status, access) = answer(
        ureq::get(&format!("{}/v1/access", stack.edge_url)).set("Authorization", &format!("Bearer {token}")).call(),
    );
    assert_eq!(status, 200);
    assert_eq!(products(&access), ["course", "pro"]);

    // A signed-out buyer using Ann's email: a new Stripe customer, but the same member.
    let third = pay_and_claim(&stack, &checkout(&stack, "course-lifetime", None, None), "ann@example.com");
    assert_eq!(third["member"]["email"], "ann@example.com");
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(members(&stack), ["ann@example.com"]);
    let links = stack
        .sql(
            "SELECT COUNT(*) AS n FROM member_customers mc JOIN members m ON m.id = mc.member_id \
         WHERE m.email = 'ann@example.com'",
        )
        .expect("links");
    assert_eq!(links[0]["n"], 2, "both customers are hers");

    // A member with no Stripe customer yet (host-site identity) checks out with her own email pre-filled, whatever
    // the page sent.
    let secret = read_json(
        ureq::get(&format!("{}/owner/v1/sites/{DEMO_SITE}/secret", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .call(),
    )
    .expect("site secret");
    let now = unix_now();
    let identity = latch_core::identity::sign("bea@example.com", now + 600, secret["secret"].as_str().expect("secret"));
    let (status, bea) = answer(
        ureq::post(&format!("{}/v1/identify", stack.edge_url))
            .send_json(json!({ "site": DEMO_SITE, "identity": identity })),
    );
    assert_eq!(status, 200, "{bea}");
    let bea_token = bea["token"].as_str().expect("token");
    let session = checkout(&stack, "course-lifetime", Some(bea_token), Some("someone.else@example.com"));
    let at_stripe = stripe_session(&stack, session["id"].as_str().expect("id"));
    assert_eq!(at_stripe["customer_email"], "bea@example.com", "{at_stripe}");
    let bought = pay_and_claim(&stack, &session, "");
    assert_eq!(bought["member"]["email"], "bea@example.com");
    assert_eq!(products(&bought), ["course"]);
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(members(&stack), ["ann@example.com", "bea@example.com"]);

    // Promotion codes are always offered; the full billing address only where the owner asks for it.
    let plain = stripe_session(&stack, checkout(&stack, "course-lifetime", None, None)["id"].as_str().expect("id"));
    assert_eq!(plain["allow_promotion_codes"], true);
    assert_ne!(plain["billing_address_collection"], "required", "Stripe's default unless the owner asks");
    let (status, settings) = answer(
        ureq::request("PATCH", &format!("{}/admin/v1/sites/{DEMO_SITE}/products/course", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .send_json(json!({ "billing_address_required": true })),
    );
    assert_eq!((status, &settings["billing_address_required"]), (200, &json!(true)), "{settings}");
    let strict = stripe_session(&stack, checkout(&stack, "course-lifetime", None, None)["id"].as_str().expect("id"));
    assert_eq!(strict["billing_address_collection"], "required");

    // Checkout and claim are rate limited per address (before any work): a flood ends in 429.
    for (path, max) in [("/v1/checkout", 60), ("/v1/claim", 120)] {
        let limited = (0..=max).find_map(|i| {
            let (status, body) = answer(ureq::post(&format!("{}{path}", stack.edge_url)).send_json(json!({})));
            (status == 429).then_some((i, body))
        });
        let (i, body) = limited.unwrap_or_else(|| panic!("{path} was never rate limited"));
        assert_eq!(body["error"]["code"], "rate_limited", "{path}: {body}");
        assert!(i > 0, "{path}: the first call is not limited");
    }
}
