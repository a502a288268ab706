//! The public API over HTTP against the real stack (workerd + local D1 + the Stripe emulator), no browser:
//! validation, CORS, webhook signatures, claim rules and tokens, including the attacks.

use latch_e2e::{DEMO_SITE, Stack, StackOptions, base64_url_decode, base64_url_encode, unix_now};
use serde_json::{Value, json};

fn stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// A request's status and JSON body, whatever the status.
struct Answer {
    status: u16,
    body: Value,
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> Answer {
    match result {
        Ok(r) => {
            let status = r.status();
            let text = r.into_string().unwrap_or_default();
            Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
        }
        Err(ureq::Error::Status(status, r)) => {
            let text = r.into_string().unwrap_or_default();
            Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

fn post(stack: &Stack, path: &str, origin: Option<&str>, body: &str) -> Answer {
    let mut req = ureq::post(&format!("{}{path}", stack.edge_url)).set("Content-Type", "application/json");
    if let Some(origin) = origin {
        req = req.set("Origin", origin);
    }
    answer(req.send_string(body))
}

fn error_code(a: &Answer) -> &str {
    a.body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body, got {} {}", a.status, a.body))
}

fn checkout(stack: &Stack, price: &str) -> Value {
    let body = json!({ "site": DEMO_SITE, "price": price, "return_url": format!("{}/demo/", stack.edge_url) });
    let a = post(stack, "/v1/checkout", Some(&stack.edge_url), &body.to_string());
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

fn pay(stack: &Stack, session: &str, card: &str) -> Result<Value, String> {
    stack.emulator_control(
        &format!("/checkout/sessions/{session}/pay"),
        &json!({ "card": card, "email": "api@example.com" }),
    )
}

#[test]
fn checkout_validates_input_origins_and_cors() {
    let stack = stack();
    let own = stack.edge_url.clone();
    let demo = format!("{own}/demo/");
    let cases = [
        (
            json!({ "site": "site_nope", "price": "pro-monthly", "return_url": demo }),
            Some(own.as_str()),
            404,
            "not_found",
        ),
        (json!({ "site": DEMO_SITE, "price": "nope", "return_url": demo }), Some(&own), 404, "not_found"),
        (json!({ "site": DEMO_SITE, "return_url": demo }), Some(&own), 400, "invalid_request"),
        (
            json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": "https://evil.example/" }),
            Some(&own),
            400,
            "origin_not_allowed",
        ),
        (
            json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": format!("{own}@evil.example/") }),
            Some(&own),
            400,
            "invalid_request",
        ),
        (
            json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": demo }),
            Some("https://evil.example"),
            403,
            "origin_not_allowed",
        ),
        (
            json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": demo, "email": "not-an-email" }),
            Some(&own),
            400,
            "invalid_request",
        ),
    ];
    for (body, origin, status, code) in cases {
        let a = post(&stack, "/v1/checkout", origin, &body.to_string());
        assert_eq!((a.status, error_code(&a)), (status, code), "{body}");
    }
    let malformed = post(&stack, "/v1/checkout", Some(&own), "{\"site\":");
    assert_eq!((malformed.status, error_code(&malformed)), (400, "invalid_request"));

    // CORS: the site's own origin is echoed with Vary: Origin; a foreign origin gets no allow header.
    let ok = ureq::get(&format!("{own}/v1/sites/{DEMO_SITE}/catalog")).set("Origin", &own).call().expect("catalog");
    assert_eq!(ok.header("Access-Control-Allow-Origin"), Some(own.as_str()));
    assert!(ok.header("Vary").is_some_and(|v| v.contains("Origin")));
    let foreign =
        ureq::get(&format!("{own}/v1/sites/{DEMO_SITE}/catalog")).set("Origin", "https://evil.example").call();
    match foreign {
        Err(ureq::Error::Status(403, r)) => assert_eq!(r.header("Access-Control-Allow-Origin"), None),
        other => panic!("a foreign origin is refused, got {other:?}"),
    }
    let session = checkout(&stack, "pro-monthly");
    assert!(session["url"].as_str().is_some_and(|u| u.starts_with(&stack.emulator_url)), "{session}");
}

#[test]
fn webhook_signatures_are_checked_and_duplicates_ignored() {
    let stack = stack();
    let url = format!("{}/v1/webhooks/stripe", stack.edge_url);
    let now = unix_now();
    // A Connect event of an account no site connected.
    let event = json!({
        "id": "evt_api_test_1", "object": "event", "type": "customer.created", "created": now, "livemode": false,
        "account": "acct_nobody", "data": { "object": { "id": "cus_unknown", "object": "customer" } }
    })
    .to_string();
    let send = |header: Option<&str>, body: &str| {
        let mut req = ureq::post(&url).set("Content-Type", "application/json");
        if let Some(h) = header {
            req = req.set("Stripe-Signature", h);
        }
        answer(req.send_string(body))
    };
    let missing = send(None, &event);
    assert_eq!((missing.status, error_code(&missing)), (400, "invalid_signature"));
    let forged = latch_core::webhook::signature_header(event.as_bytes(), "whsec_not_the_secret", now);
    let a = send(Some(&forged), &event);
    assert_eq!((a.status, error_code(&a)), (400, "invalid_signature"));
    let stale = latch_core::webhook::signature_header(event.as_bytes(), &stack.webhook_secret, now - 3600);
    let a = send(Some(&stale), &event);
    assert_eq!((a.status, error_code(&a)), (400, "invalid_signature"));
    let good = latch_core::webhook::signature_header(event.as_bytes(), &stack.webhook_secret, now);
    let tampered = event.replace("cus_unknown", "cus_other00");
    let a = send(Some(&good), &tampered);
    assert_eq!((a.status, error_code(&a)), (400, "invalid_signature"));
    let a = send(Some(&good), &event);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["ignored"], "no site for this event");
    let again = send(Some(&good), &event);
    assert_eq!((again.status, &again.body["duplicate"]), (200, &json!(true)));
    // A platform event (no `account`) goes to the site on the platform's account, and nowhere else.
    let platform = event.replace("\"account\":\"acct_nobody\",", "").replace("evt_api_test_1", "evt_api_test_2");
    let header = latch_core::webhook::signature_header(platform.as_bytes(), &stack.webhook_secret, now);
    let a = send(Some(&header), &platform);
    assert_eq!((a.status, a.body.get("ignored")), (200, None), "{}", a.body);
    let routed = stack.sql("SELECT site_id FROM processed_events WHERE event_id = 'evt_api_test_2'").expect("row");
    assert_eq!(routed[0]["site_id"], DEMO_SITE);
    // Signed by Stripe but unreadable here: kept for the operator and acknowledged, never refused for Stripe to
    // retry for days (and disable the endpoint).
    let not_json = "{\"id\":";
    let header = latch_core::webhook::signature_header(not_json.as_bytes(), &stack.webhook_secret, now);
    let a = send(Some(&header), not_json);
    assert_eq!((a.status, &a.body["stored"]), (200, &json!("unreadable")), "{}", a.body);
    let kept = stack.sql("SELECT event_id, error, body FROM unreadable_events").expect("unreadable events");
    assert_eq!(kept[0]["body"], not_json, "{kept}");
}

#[test]
fn claim_verifies_with_stripe_and_tokens_are_bound() {
    let stack = stack();
    let own = stack.edge_url.clone();
    let claim = |site: &str, id: &str, secret: &str| {
        let body = json!({ "site": site, "checkout_session_id": id, "claim": secret });
        post(&stack, "/v1/claim", Some(&own), &body.to_string())
    };
    let a = claim(DEMO_SITE, "not-a-session", "x");
    assert_eq!((a.status, error_code(&a)), (400, "invalid_request"));
    let a = claim(DEMO_SITE, "cs_test_doesnotexist", "x");
    assert_eq!((a.status, error_code(&a)), (404, "not_found"));

    // An open session is not paid yet: pending, nothing granted.
    let session = checkout(&stack, "course-lifetime");
    let id = session["id"].as_str().expect("session id").to_owned();
    let secret = session["claim"].as_str().expect("claim secret").to_owned();
    let a = claim(DEMO_SITE, &id, &secret);
    assert_eq!((a.status, error_code(&a)), (409, "claim_pending"));
    let declined = pay(&stack, &id, "4000000000000002");
    assert!(declined.is_err(), "a declined card does not pay: {declined:?}");
    assert_eq!(claim(DEMO_SITE, &id, &secret).status, 409);

    pay(&stack, &id, "4242424242424242").expect("pay");
    // The id alone, or with another secret, claims nothing.
    let a = claim(DEMO_SITE, &id, "");
    assert_eq!((a.status, error_code(&a)), (404, "not_found"));
    let a = claim(DEMO_SITE, &id, "not-the-secret");
    assert_eq!((a.status, error_code(&a)), (403, "claim_forbidden"));
    let first = claim(DEMO_SITE, &id, &secret);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["access"], json!([{ "product": "course", "ends_at": null }]));
    let second = claim(DEMO_SITE, &id, &secret);
    assert_eq!(second.status, 200);
    stack.wait_webhooks().expect("webhooks");
    let grants = stack.sql("SELECT count(*) AS n FROM grants").expect("grants");
    assert_eq!(grants[0]["n"], 1, "claim twice + webhook = one grant");

    // Another site cannot claim this site's session, nor use its member token.
    stack
        .admin("/sites", &json!({ "id": "site_other", "name": "Other", "allowed_origins": [own] }))
        .expect("second site");
    let a = claim("site_other", &id, &secret);
    assert_eq!((a.status, error_code(&a)), (409, "stripe_not_connected"), "a site without Stripe fetches nothing");

    let token = first.body["token"].as_str().expect("token").to_owned();
    let access = |token: &str| {
        answer(ureq::get(&format!("{own}/v1/access")).set("Authorization", &format!("Bearer {token}")).call())
    };
    let ok = access(&token);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["member"], json!({ "email": "api@example.com", "verified": false }));
    let (signed, _) = token.rsplit_once('.').expect("token shape");
    let forged = format!("{signed}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let a = access(&forged);
    assert_eq!((a.status, error_code(&a)), (401, "invalid_token"));
    // The token with its site changed to the other site, its signature kept: refused.
    let (head, mac) = token.rsplit_once('.').expect("token shape");
    let payload = base64_url_decode(head.strip_prefix("v1.").expect("v1")).expect("base64url");
    let moved = String::from_utf8(payload).expect("json").replace(DEMO_SITE, "site_other");
    let a = access(&format!("v1.{}.{mac}", base64_url_encode(moved.as_bytes())));
    assert_eq!((a.status, error_code(&a)), (401, "invalid_token"), "{}", a.body);
    let a = access("garbage");
    assert_eq!((a.status, error_code(&a)), (401, "invalid_token"));
    let a = answer(ureq::get(&format!("{own}/v1/access")).call());
    assert_eq!((a.status, error_code(&a)), (401, "unauthorized"));

    // The operator API needs the operator token.
    let a = answer(
        ureq::post(&format!("{own}/admin/v1/sites"))
            .set("Authorization", "Bearer wrong")
            .send_json(json!({ "id": "site_x", "name": "x", "allowed_origins": [] })),
    );
    assert_eq!((a.status, error_code(&a)), (401, "unauthorized"));
}

#[test]
fn the_owner_api_has_one_prefix_and_old_paths_move_permanently() {
    let stack = stack();
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let token = format!("Bearer {}", stack.admin_token);
    let old = format!("{}/admin/v1/sites/{DEMO_SITE}/portal?view=1", stack.edge_url);
    let moved = match agent.get(&old).set("Authorization", &token).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {old}: {e}"),
    };
    assert_eq!(moved.status(), 308, "an old owner path moves, keeping the method and body");
    let location = moved.header("Location").expect("Location").to_owned();
    assert_eq!(location, format!("/owner/v1/sites/{DEMO_SITE}/portal?view=1"));
    let new = agent.get(&format!("{}{location}", stack.edge_url)).set("Authorization", &token).call();
    assert_eq!(new.map(|r| r.status()).ok(), Some(200), "the new path answers");
    // The operator's own route keeps its place.
    let sites = agent.post(&format!("{}/admin/v1/sites", stack.edge_url)).set("Authorization", &token).call();
    assert!(!matches!(sites, Err(ureq::Error::Status(308 | 404, _))), "POST /admin/v1/sites stays");
}

#[test]
fn the_round_trip_count_is_for_the_operator_only() {
    // A sign-in for a member's email reads more than one for a stranger's: the count would tell them apart.
    let stack = stack();
    let own = stack.edge_url.clone();
    let signin = |token: Option<&str>| {
        let mut req =
            ureq::post(&format!("{own}/v1/signin")).set("Content-Type", "application/json").set("Origin", &own);
        if let Some(token) = token {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        let body = json!({ "site": DEMO_SITE, "email": "nobody@example.com" }).to_string();
        match req.send_string(&body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.header("X-Latch-D1-Round-Trips").map(str::to_owned),
            Err(e) => panic!("sign-in: {e}"),
        }
    };
    assert_eq!(signin(None), None, "a visitor learns nothing from the count");
    assert_eq!(signin(Some("not-the-operator")), None);
    assert!(signin(Some(&stack.admin_token)).is_some_and(|n| n.parse::<u32>().is_ok()), "the operator sees it");
}
