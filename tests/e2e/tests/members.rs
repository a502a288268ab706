//! Who a purchase belongs to when the email typed on Stripe's page and the member Latch knows disagree
//! (`latch_core::member`): a signed-in member paying with another email keeps their email and gets the access, with
//! no ghost member for the typed email; a signed-out buyer using an existing member's email gets a member of their
//! own, unverified, until a code to that email joins the two; a member with no Stripe customer yet checks out with
//! their own email pre-filled. Promotion codes and the per-product billing address setting reach Stripe. Checkout
//! and claim are rate limited. Real wrangler dev + D1 + the emulator.

use latch_e2e::{DEMO_SITE, PAYING_CARD, Stack, StackOptions, read_json, unix_now};
use serde_json::{Value, json};

fn answer(resp: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let a = latch_e2e::answer(resp);
    (a.status, a.body)
}

/// Opens a checkout for `price` (as a signed-in member with `token`): the session as the edge answered it.
fn checkout(stack: &Stack, price: &str, token: Option<&str>, email: Option<&str>) -> Value {
    let extra = email.map_or_else(|| json!({}), |e| json!({ "email": e }));
    stack.checkout(DEMO_SITE, price, token, &extra)
}

/// Pays a session at the emulator typing `typed` as the email (empty: keep what Stripe pre-filled), then claims.
fn pay_and_claim(stack: &Stack, session: &Value, typed: &str) -> Value {
    stack.pay(session["id"].as_str().expect("session id"), PAYING_CARD, typed).expect("pay");
    let claimed = stack.claim(DEMO_SITE, session);
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    claimed.body
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

/// The site's members as `email verified` lines.
fn members(stack: &Stack) -> Vec<String> {
    let rows = stack
        .sql(&format!("SELECT email, verified FROM members WHERE site_id = '{DEMO_SITE}' ORDER BY email, verified"))
        .expect("members");
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{} {}", r["email"].as_str().expect("email"), r["verified"]))
        .collect()
}

#[test]
fn a_typed_email_never_makes_a_ghost_member() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");

    // Ann buys the course signed out: a member of her own, named by the email she typed, not verified.
    let first = pay_and_claim(&stack, &checkout(&stack, "course-lifetime", None, Some("ann@example.com")), "");
    assert_eq!(first["member"], json!({ "email": "ann@example.com", "verified": false }));
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
    assert_eq!(members(&stack), ["ann@example.com 0"], "no ghost member for the typed email");
    let (status, access) = answer(
        ureq::get(&format!("{}/v1/access", stack.edge_url)).set("Authorization", &format!("Bearer {token}")).call(),
    );
    assert_eq!(status, 200);
    assert_eq!(products(&access), ["course", "pro"]);

    // A signed-out buyer typing Ann's email: a new Stripe customer and a member of its own, with that purchase
    // only; Ann's member and access are untouched.
    let third = pay_and_claim(&stack, &checkout(&stack, "course-lifetime", None, None), "ann@example.com");
    assert_eq!(third["member"], json!({ "email": "ann@example.com", "verified": false }));
    assert_eq!(products(&third), ["course"]);
    assert_ne!(third["token"], first["token"]);
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(members(&stack), ["ann@example.com 0", "ann@example.com 0"], "two records until proof");
    let (_, access) = answer(
        ureq::get(&format!("{}/v1/access", stack.edge_url)).set("Authorization", &format!("Bearer {token}")).call(),
    );
    assert_eq!(products(&access), ["course", "pro"]);

    // A code sent to Ann's email proves it: one verified member, with both purchases made under her email.
    let proved = stack.member_signin(DEMO_SITE, "ann@example.com", Some(&token));
    assert_eq!(proved["member"], json!({ "email": "ann@example.com", "verified": true }));
    assert_eq!(products(&proved), ["course", "pro"]);
    assert_eq!(members(&stack), ["ann@example.com 1"]);
    let links = stack
        .sql(
            "SELECT COUNT(*) AS n FROM member_customers mc JOIN members m ON m.id = mc.member_id \
             WHERE m.email = 'ann@example.com'",
        )
        .expect("links");
    assert_eq!(links[0]["n"], 2, "both customers are hers now");
    let (status, _) = answer(
        ureq::get(&format!("{}/v1/access", stack.edge_url)).set("Authorization", &format!("Bearer {token}")).call(),
    );
    assert_eq!(status, 401, "the merged unverified member's token no longer works");

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
    assert_eq!(bought["member"], json!({ "email": "bea@example.com", "verified": true }));
    assert_eq!(products(&bought), ["course"]);
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(members(&stack), ["ann@example.com 1", "bea@example.com 1"]);

    // Promotion codes are always offered; the full billing address only where the owner asks for it.
    let plain = stripe_session(&stack, checkout(&stack, "course-lifetime", None, None)["id"].as_str().expect("id"));
    assert_eq!(plain["allow_promotion_codes"], true);
    assert_ne!(plain["billing_address_collection"], "required", "Stripe's default unless the owner asks");
    let (status, settings) = answer(
        ureq::request("PATCH", &format!("{}/owner/v1/sites/{DEMO_SITE}/products/course", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .send_json(json!({ "billing_address_required": true })),
    );
    assert_eq!((status, &settings["billing_address_required"]), (200, &json!(true)), "{settings}");
    let strict = stripe_session(&stack, checkout(&stack, "course-lifetime", None, None)["id"].as_str().expect("id"));
    assert_eq!(strict["billing_address_collection"], "required");

    // Checkout and claim are rate limited per address (before any work): exactly `max` calls from one address in
    // the window, then 429; another address is not affected.
    let from = |path: &str, address: &str| {
        answer(ureq::post(&format!("{}{path}", stack.edge_url)).set("CF-Connecting-IP", address).send_json(json!({})))
    };
    for (path, max, address) in [("/v1/checkout", 60, "198.51.100.7"), ("/v1/claim", 120, "198.51.100.8")] {
        for i in 1..=max {
            let (status, body) = from(path, address);
            assert_eq!(status, 400, "{path}: call {i} of {max} is read (and refused as empty): {body}");
        }
        let (status, body) = from(path, address);
        assert_eq!((status, &body["error"]["code"]), (429, &json!("rate_limited")), "{path}: call {}", max + 1);
        assert_eq!(from(path, "198.51.100.9").0, 400, "{path}: another address is not limited");
    }
}
