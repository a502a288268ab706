//! The attacks of the security issue (docs/security.md, "Boundaries"), each written as the attack against the real
//! stack (workerd + local D1 + the Stripe emulator; Chromium where a browser is involved), each asserting that the
//! attack fails while the honest path still works. One test per boundary, numbered as in docs/security.md.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use latch_e2e::browser::{browser, click, eval, fill, holds, start_driver, wait_js};
use latch_e2e::{DEMO_SITE, PAYING_CARD, STRIPE_TEST_KEY, Stack, StackOptions, answer, get_page, read_json, unix_now};
use serde_json::{Value, json};

const VICTIM: &str = "victim@example.com";
const LOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-locked')";
const UNLOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-unlocked')";
const LOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-locked')";
const UNLOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-unlocked')";

fn stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// The products an answer with `access` gives, sorted.
fn products(answer: &Value) -> Vec<String> {
    let mut p: Vec<String> = answer["access"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["product"].as_str())
        .map(Into::into)
        .collect();
    p.sort();
    p
}

/// The emulator's Stripe API as the platform: `GET /v1/{path}`.
fn stripe_get(stack: &Stack, path: &str) -> Value {
    read_json(
        ureq::get(&format!("{}/v1/{path}", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .call(),
    )
    .unwrap_or_else(|e| panic!("GET /v1/{path}: {e}"))
}

fn count(stack: &Stack, sql: &str) -> i64 {
    stack.sql(sql).expect("query D1")[0].as_object().and_then(|r| r.values().next()).and_then(Value::as_i64).expect("n")
}

/// Sends a webhook delivery signed with the stack's secret.
fn deliver(stack: &Stack, body: &str) -> latch_e2e::Answer {
    let header = latch_core::webhook::signature_header(body.as_bytes(), &stack.webhook_secret, unix_now());
    answer(
        ureq::post(&format!("{}/v1/webhooks/stripe", stack.edge_url))
            .set("Content-Type", "application/json")
            .set("Stripe-Signature", &header)
            .send_string(body),
    )
}

// 1. ------------------------------------------------------------------------------------------------------------

#[test]
fn buyers_never_share_a_checkout_session() {
    let stack = stack();
    // Two visitors buy the same price from the same page at the same moment.
    let (ada, bo) = std::thread::scope(|s| {
        let first = s.spawn(|| stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({})));
        let second = s.spawn(|| stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({})));
        (first.join().expect("first visitor"), second.join().expect("second visitor"))
    });
    assert_ne!(ada["id"], bo["id"], "one session per visitor");
    assert_ne!(ada["claim"], bo["claim"]);
    assert_eq!(stripe_get(&stack, "checkout/sessions?limit=100")["data"].as_array().map(Vec::len), Some(2));
    // Both can pay; each gets what they paid for, and neither can take the other's.
    stack.pay(ada["id"].as_str().expect("id"), PAYING_CARD, "ada@example.com").expect("Ada pays");
    stack.pay(bo["id"].as_str().expect("id"), PAYING_CARD, "bo@example.com").expect("Bo pays");
    let stolen = stack.post(
        "/v1/claim",
        None,
        &json!({ "site": DEMO_SITE, "checkout_session_id": bo["id"], "claim": ada["claim"] }),
    );
    assert_eq!((stolen.status, stolen.code()), (403, "claim_forbidden"), "{}", stolen.body);
    for (checkout, email) in [(&ada, "ada@example.com"), (&bo, "bo@example.com")] {
        let claimed = stack.claim(DEMO_SITE, checkout);
        assert_eq!(claimed.status, 200, "{}", claimed.body);
        assert_eq!(claimed.body["member"]["email"], email);
        assert_eq!(products(&claimed.body), ["course"]);
    }
}

// 2. ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_session_id_alone_claims_nothing() {
    let stack = stack();
    // Over HTTP: a paid session whose id leaked (history, analytics, a shared link, Referer).
    let bought = stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({}));
    let id = bought["id"].as_str().expect("id").to_owned();
    stack.pay(&id, PAYING_CARD, "buyer@example.com").expect("pay");
    let other = stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({}));
    for (what, secret, status, code) in [
        ("no secret", json!(null), 404, "not_found"),
        ("an empty secret", json!(""), 404, "not_found"),
        ("a guessed secret", json!("guess"), 403, "claim_forbidden"),
        ("another checkout's secret", other["claim"].clone(), 403, "claim_forbidden"),
    ] {
        let a =
            stack.post("/v1/claim", None, &json!({ "site": DEMO_SITE, "checkout_session_id": id, "claim": secret }));
        assert_eq!((a.status, a.code()), (status, code), "{what}: {}", a.body);
        assert!(a.body.get("token").is_none());
    }
    let honest = stack.claim(DEMO_SITE, &bought);
    assert_eq!(honest.status, 200, "the browser that started it claims it: {}", honest.body);
    let after = stack.post("/v1/claim", None, &json!({ "site": DEMO_SITE, "checkout_session_id": id, "claim": "x" }));
    assert_eq!(after.status, 403, "still nothing for the stranger afterwards");

    // In Chromium: the buyer pays in one browser and comes back unlocked; the same success URL opened in another
    // browser unlocks nothing, and offers to sign in instead.
    let driver = start_driver();
    let demo = format!("{}/demo/", stack.edge_url);
    let buyer = browser(&driver).await;
    buyer.goto(&demo).await.expect("open the demo");
    wait_js(&buyer, LOCKED_COURSE, Duration::from_secs(15)).await;
    click(&buyer, "#buy-course").await;
    wait_js(&buyer, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    let success_session: String =
        eval(&buyer, "location.pathname.split('/').pop()").await.as_str().expect("session id").to_owned();
    fill(&buyer, "#email", "browser-buyer@example.com").await;
    fill(&buyer, "#cardNumber", PAYING_CARD).await;
    click(&buyer, "#submit").await;
    wait_js(&buyer, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    buyer.close().await.expect("close the buyer's browser");

    let stranger = browser(&driver).await;
    stranger.goto(&format!("{demo}?latch_session={success_session}")).await.expect("open the leaked URL");
    wait_js(&stranger, "document.querySelector('#latch-signin:modal')", Duration::from_secs(20)).await;
    assert!(holds(&stranger, LOCKED_COURSE).await, "the leaked URL unlocks nothing");
    assert!(holds(&stranger, "localStorage.getItem('latch:site_demo:token') === null").await);
    assert!(holds(&stranger, "!location.search.includes('latch_session')").await, "the id is dropped from the URL");
    stranger.close().await.expect("close the stranger's browser");
}

#[test]
fn an_old_session_cannot_be_claimed_even_with_its_secret() {
    // An emulator whose clock runs four hours behind: every session it makes is four hours old to the edge.
    let stack = Stack::start(StackOptions {
        emulator_args: vec!["--clock-offset".into(), "-14400".into()],
        ..StackOptions::default()
    })
    .expect("the stack starts");
    stack.seed_demo().expect("seed the demo site");
    let bought = stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({}));
    stack.pay(bought["id"].as_str().expect("id"), PAYING_CARD, "late@example.com").expect("pay");
    let late = stack.claim(DEMO_SITE, &bought);
    assert_eq!((late.status, late.code()), (410, "claim_expired"), "{}", late.body);
    // What was bought is not lost: the webhook granted it to the purchase's own member, and a code to that email
    // gets it.
    stack.wait_webhooks().expect("webhooks");
    let signed_in = stack.member_signin(DEMO_SITE, "late@example.com", None);
    assert_eq!(products(&signed_in), ["course"]);
}

// 3. ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_email_never_takes_over_a_member() {
    let stack = stack();
    // The victim subscribed and proved their email: a verified member with Pro and its portal.
    let victim_checkout = stack.checkout(DEMO_SITE, "pro-monthly", None, &json!({}));
    stack.pay(victim_checkout["id"].as_str().expect("id"), PAYING_CARD, VICTIM).expect("pay");
    let bought = stack.claim(DEMO_SITE, &victim_checkout);
    assert_eq!(bought.status, 200, "{}", bought.body);
    let victim = stack.member_signin(DEMO_SITE, VICTIM, bought.body["token"].as_str());
    let victim_token = victim["token"].as_str().expect("token").to_owned();
    let victim_sub =
        stripe_get(&stack, &format!("checkout/sessions/{}", victim_checkout["id"].as_str().unwrap()))["subscription"]
            .as_str()
            .expect("subscription")
            .to_owned();

    // The attacker buys the course, then starts a free trial (a free first invoice), typing the victim's email.
    let (mut attacker_tokens, mut attacker_checkouts) = (Vec::new(), Vec::new());
    for (price, product) in [("course-lifetime", "course"), ("pro-monthly", "pro")] {
        let checkout = stack.checkout(DEMO_SITE, price, None, &json!({}));
        stack.pay(checkout["id"].as_str().expect("id"), PAYING_CARD, VICTIM).expect("pay");
        let attack = stack.claim(DEMO_SITE, &checkout);
        assert_eq!(attack.status, 200, "{}", attack.body);
        let attack = attack.body;
        attacker_checkouts.push(checkout);
        assert_eq!(attack["member"], json!({ "email": VICTIM, "verified": false }), "a member of their own");
        assert_eq!(products(&attack), [product], "only what they bought, none of the victim's access");
        assert_ne!(attack["token"], victim["token"]);
        attacker_tokens.push(attack["token"].as_str().expect("token").to_owned());
    }
    let (course_token, trial_token) = (&attacker_tokens[0], &attacker_tokens[1]);
    assert_eq!(products(&stack.get("/v1/access", Some(course_token)).body), ["course"]);

    // Their portal is their own customer's: the victim's subscription is not in it.
    let portal =
        stack.post("/v1/portal", Some(trial_token), &json!({ "return_url": format!("{}/demo/", stack.edge_url) }));
    assert_eq!(portal.status, 200, "{}", portal.body);
    let (_, page) = get_page(portal.body["url"].as_str().expect("portal url"), None);
    assert!(!page.contains(&victim_sub), "the victim's subscription is not the attacker's to manage");
    // They cannot sign the victim out everywhere: only their own member.
    assert_eq!(stack.post("/v1/signout", Some(course_token), &json!({ "everywhere": true })).status, 200);
    let still = stack.get("/v1/access", Some(&victim_token));
    assert_eq!((still.status, products(&still.body)), (200, vec!["pro".to_owned()]), "{}", still.body);
    // Nor get a sign-in code: it goes to the victim's inbox, bound to the browser that asked.
    let asked = stack.post("/v1/signin", None, &json!({ "site": DEMO_SITE, "email": VICTIM }));
    assert_eq!(asked.status, 202);
    assert!(asked.body.get("code").is_none());

    // In a browser: the attacker pays on Stripe's page typing the victim's email; back on the site only their own
    // purchase opens.
    let driver = start_driver();
    let client = browser(&driver).await;
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("open the demo");
    wait_js(&client, LOCKED_COURSE, Duration::from_secs(15)).await;
    click(&client, "#buy-course").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(&client, "#email", VICTIM).await;
    fill(&client, "#cardNumber", PAYING_CARD).await;
    click(&client, "#submit").await;
    wait_js(&client, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    assert!(holds(&client, LOCKED_PRO).await, "the victim's Pro stays locked");
    assert_eq!(eval(&client, "Latch.member().access").await, json!(["course"]));
    client.close().await.expect("close");

    // The victim proves their email again: what was bought under it joins them; the attacker's tokens stop working,
    // and claiming their checkout again (same id, same secret) hands out nothing of the victim's.
    let proved = stack.member_signin(DEMO_SITE, VICTIM, Some(&victim_token));
    assert_eq!(products(&proved), ["course", "pro"]);
    for token in &attacker_tokens {
        assert_eq!(stack.get("/v1/access", Some(token)).status, 401);
    }
    for checkout in &attacker_checkouts {
        let again = stack.claim(DEMO_SITE, checkout);
        assert_eq!((again.status, again.code()), (403, "signin_required"), "{}", again.body);
        assert!(again.body.get("token").is_none());
    }
    let members = count(&stack, &format!("SELECT COUNT(*) FROM members WHERE site_id = '{DEMO_SITE}'"));
    assert_eq!(members, 1, "one verified member once the email is proved");
}

// 4. ------------------------------------------------------------------------------------------------------------

#[test]
fn sites_without_stripe_do_no_stripe_work() {
    let stack = stack();
    let sessions_at_stripe =
        || stripe_get(&stack, "checkout/sessions?limit=100")["data"].as_array().map_or(0, Vec::len);
    // A freshly signed-up owner who never connected Stripe.
    let eve = stack.owner_signin("eve@example.com")["session"].as_str().expect("session").to_owned();
    let created =
        stack.post("/owner/v1/sites", Some(&eve), &json!({ "name": "Eve's", "allowed_origins": [stack.edge_url] }));
    assert_eq!(created.status, 201, "{}", created.body);
    let site = created.body["id"].as_str().expect("site id").to_owned();
    assert_eq!(created.body["stripe_status"], "not_connected");
    // The platform's products, another site's product, its subscribers, new products, portal settings: nothing.
    let demo_product = stack
        .sql(&format!("SELECT stripe_product FROM products WHERE site_id = '{DEMO_SITE}'"))
        .expect("products")[0]["stripe_product"]
        .as_str()
        .expect("a product")
        .to_owned();
    let admin = |method: &str, path: &str, body: Value| {
        answer(
            ureq::request(method, &format!("{}/owner/v1/sites/{site}{path}", stack.edge_url))
                .set("Authorization", &format!("Bearer {eve}"))
                .send_json(body),
        )
    };
    for (method, path, body) in [
        ("POST", "/products", json!({ "slug": "pro", "name": "Pro", "prices": [] })),
        ("POST", "/products/link", json!({ "stripe_product": demo_product, "slug": "stolen" })),
        ("PUT", "/portal", json!({ "enabled": true, "allow_cancel": true })),
    ] {
        let refused = admin(method, path, body);
        assert_eq!(
            (refused.status, refused.code()),
            (409, "stripe_not_connected"),
            "{method} {path}: {}",
            refused.body
        );
    }
    assert_eq!(count(&stack, &format!("SELECT COUNT(*) FROM products WHERE site_id = '{site}'")), 0);
    // Even a price of the platform's account written into the site cannot be sold, claimed or managed there.
    let price = stack
        .sql(&format!("SELECT id FROM prices WHERE site_id = '{DEMO_SITE}' AND lookup_key = 'course-lifetime'"))
        .expect("price")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    stack
        .sql(&format!(
            "INSERT INTO products (site_id, slug, name, stripe_product, created_at) VALUES ('{site}', 'course', 'C', '{demo_product}', 0); \
             INSERT INTO prices (site_id, id, product_slug, unit_amount, currency) VALUES ('{site}', '{price}', 'course', 4900, 'usd');"
        ))
        .expect("plant a price");
    let before = sessions_at_stripe();
    let checkout = stack.post(
        "/v1/checkout",
        None,
        &json!({ "site": site, "price": price, "return_url": format!("{}/demo/", stack.edge_url) }),
    );
    assert_eq!((checkout.status, checkout.code()), (409, "stripe_not_connected"), "{}", checkout.body);
    assert_eq!(sessions_at_stripe(), before, "no session on the platform's account");
    let demo_checkout = stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({}));
    stack.pay(demo_checkout["id"].as_str().expect("id"), PAYING_CARD, "eve@example.com").expect("pay");
    let claim = stack.post(
        "/v1/claim",
        None,
        &json!({ "site": site, "checkout_session_id": demo_checkout["id"], "claim": demo_checkout["claim"] }),
    );
    assert_eq!((claim.status, claim.code()), (409, "stripe_not_connected"), "{}", claim.body);

    // Platform events never reach a site that did not connect, even one that "knows" the customer.
    stack.wait_webhooks().expect("webhooks");
    let customer =
        stripe_get(&stack, &format!("checkout/sessions/{}", demo_checkout["id"].as_str().unwrap()))["customer"]
            .as_str()
            .expect("customer")
            .to_owned();
    stack
        .sql(&format!(
            "INSERT INTO members (id, site_id, email, verified, created_at) VALUES ('mem_eve', '{site}', 'x@example.com', 1, 0); \
             INSERT INTO member_customers (site_id, customer, member_id) VALUES ('{site}', '{customer}', 'mem_eve');"
        ))
        .expect("plant the customer");
    let event = json!({
        "id": "evt_attack_routing", "object": "event", "type": "customer.updated", "created": unix_now(),
        "livemode": false, "data": { "object": { "id": customer, "object": "customer" } }
    });
    assert_eq!(deliver(&stack, &event.to_string()).status, 200);
    let routed = stack.sql("SELECT site_id FROM processed_events WHERE event_id = 'evt_attack_routing'").expect("row");
    assert_eq!(routed[0]["site_id"], DEMO_SITE, "routed by account: the platform's is the demo site's");

    // Single-account mode is the operator's alone, and for one site only.
    let owner_try = stack.post(
        "/admin/v1/sites",
        Some(&eve),
        &json!({ "id": site, "name": "x", "allowed_origins": [],
        "platform_account": true }),
    );
    assert_eq!(owner_try.status, 401);
    let second = answer(
        ureq::post(&format!("{}/admin/v1/sites", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .send_json(
                json!({ "id": "site_second", "name": "Second", "allowed_origins": [], "platform_account": true }),
            ),
    );
    assert_eq!((second.status, second.code()), (409, "platform_account_in_use"), "{}", second.body);
}

// 5. ------------------------------------------------------------------------------------------------------------

/// `POST /v1/signin` for `email` as seen from the network `ip`.
fn ask_code(stack: &Stack, email: &str, ip: &str) -> latch_e2e::Answer {
    answer(
        ureq::post(&format!("{}/v1/signin", stack.edge_url))
            .set("CF-Connecting-IP", ip)
            .send_json(json!({ "site": DEMO_SITE, "email": email })),
    )
}

fn try_code(stack: &Stack, email: &str, code: &str, challenge: &str, ip: &str) -> latch_e2e::Answer {
    answer(
        ureq::post(&format!("{}/v1/signin/verify", stack.edge_url))
            .set("CF-Connecting-IP", ip)
            .send_json(json!({ "site": DEMO_SITE, "email": email, "code": code, "challenge": challenge })),
    )
}

#[test]
fn signin_codes_resist_guessing_and_lockouts() {
    let stack = stack();
    stack.buy(DEMO_SITE, "course-lifetime", None, VICTIM);
    // The victim asks for a code in their browser.
    let before = stack.outbox(VICTIM).expect("dev outbox").len();
    let asked = ask_code(&stack, VICTIM, "198.51.100.7");
    assert_eq!(asked.status, 202);
    let victim_challenge = asked.body["challenge"].as_str().expect("challenge").to_owned();
    let victim_code = stack.code_sent(VICTIM, before);
    let newest = &stack.outbox(VICTIM).expect("dev outbox")[0];
    assert!(!newest["subject"].as_str().unwrap_or_default().contains(&victim_code), "no code in the subject");

    // An attacker asks for codes for the same address from three networks and spends every try on them.
    for n in 1..=3 {
        let ip = format!("203.0.113.{n}");
        let theirs = ask_code(&stack, VICTIM, &ip);
        assert_eq!(theirs.status, 202);
        let challenge = theirs.body["challenge"].as_str().expect("challenge").to_owned();
        for guess in 0..6 {
            let wrong = try_code(&stack, VICTIM, &format!("{:06}", 100_000 + guess), &challenge, &ip);
            assert_eq!(wrong.status, 401);
        }
        // The victim's code is no use to them without the victim's challenge.
        assert_eq!(try_code(&stack, VICTIM, &victim_code, &challenge, &ip).status, 401);
    }
    // Nothing the attacker did invalidated the code the victim is typing.
    let signed_in = try_code(&stack, VICTIM, &victim_code, &victim_challenge, "198.51.100.7");
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);

    // The address has had its four six-digit codes today (one per asking browser, from every network together): the
    // next code is ten characters, and works.
    let before = stack.outbox(VICTIM).expect("dev outbox").len();
    let fifth = ask_code(&stack, VICTIM, "198.51.100.7");
    let long = stack.code_sent(VICTIM, before);
    assert!(long.len() == 11 && long.chars().nth(5) == Some('-'), "ABCDE-FGHJK: {long}");
    let challenge = fifth.body["challenge"].as_str().expect("challenge");
    assert_eq!(try_code(&stack, VICTIM, &long.to_lowercase(), challenge, "198.51.100.7").status, 200);

    // Asked for all at once from six networks, an address still gets no more than four six-digit codes a day.
    let burst = "burst@example.com";
    stack.buy(DEMO_SITE, "course-lifetime", None, burst);
    std::thread::scope(|s| {
        for n in 1..=6 {
            let stack = &stack;
            s.spawn(move || assert_eq!(ask_code(stack, burst, &format!("192.0.2.{n}")).status, 202));
        }
    });
    let codes = || -> Vec<String> {
        let emails = stack.outbox(burst).expect("dev outbox");
        emails.iter().filter_map(|e| latch_e2e::code_in(e["text"].as_str().unwrap_or_default())).collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while codes().len() < 6 {
        assert!(std::time::Instant::now() < deadline, "six codes: {:?}", codes());
        std::thread::sleep(Duration::from_millis(100));
    }
    let codes = codes();
    assert_eq!(codes.iter().filter(|c| c.len() == 6).count(), 4, "{codes:?}");

    // Limits per network count an IPv6 /64 as one network: five codes for an address from one /64, then 429,
    // while another /64 is not affected.
    let email = "v6@example.com";
    for n in 1..=5 {
        assert_eq!(ask_code(&stack, email, &format!("2001:db8:1:2::{n}")).status, 202);
    }
    let limited = ask_code(&stack, email, "2001:db8:1:2:ffff::9");
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"), "{}", limited.body);
    assert_eq!(ask_code(&stack, email, "2001:db8:1:3::1").status, 202, "another /64");
}

// 6. ------------------------------------------------------------------------------------------------------------

#[test]
fn json_apis_refuse_cross_site_bodies_and_set_no_cookie_across_sites() {
    let stack = stack();
    // A cross-site form or `fetch` without a preflight can only send text/plain (or a form): refused unread.
    for path in ["/owner/v1/signin", "/owner/v1/signin/verify", "/v1/checkout", "/v1/claim", "/v1/signin"] {
        let body = json!({ "email": "a@example.com", "code": "123456", "site": DEMO_SITE }).to_string();
        let a = answer(
            ureq::post(&format!("{}{path}", stack.edge_url))
                .set("Content-Type", "text/plain")
                .set("Origin", "https://evil.example")
                .send_string(&body),
        );
        assert_eq!((a.status, a.code()), (415, "unsupported_media_type"), "{path}: {}", a.body);
    }
    // An attacker with a real code of their own account cannot plant their session in a visitor's browser: a
    // cross-site caller gets the JSON, never the dashboard's cookie.
    let email = "attacker@example.com";
    let sign_in = |headers: &[(&str, &str)]| {
        let before = stack.outbox(email).expect("dev outbox").len();
        let asked = stack.post("/owner/v1/signin", None, &json!({ "email": email }));
        let code = stack.code_sent(email, before);
        let mut req = ureq::post(&format!("{}/owner/v1/signin/verify", stack.edge_url));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        answer(req.send_json(json!({ "email": email, "code": code, "challenge": asked.body["challenge"] })))
    };
    let cross = sign_in(&[("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(cross.status, 200, "{}", cross.body);
    assert_eq!(cross.set_cookie, None, "no cookie for a cross-site caller");
    let same = sign_in(&[("Origin", &stack.edge_url), ("Sec-Fetch-Site", "same-origin")]);
    assert!(same.set_cookie.is_some_and(|c| c.starts_with("latch_owner=")), "the dashboard's own pages get it");
}

// 7. ------------------------------------------------------------------------------------------------------------

/// Deliveries of the same subscription sent at once with its end.
const RACERS: usize = 24;

#[test]
fn concurrent_deliveries_let_the_final_state_win() {
    let stack = stack();
    for round in 0..4 {
        let checkout = stack.checkout(DEMO_SITE, "pro-monthly", None, &json!({}));
        stack.pay(checkout["id"].as_str().expect("id"), PAYING_CARD, &format!("race{round}@example.com")).expect("pay");
        stack.wait_webhooks().expect("webhooks");
        let session = stripe_get(&stack, &format!("checkout/sessions/{}", checkout["id"].as_str().unwrap()));
        let sub_id = session["subscription"].as_str().expect("subscription").to_owned();
        let mut sub = stripe_get(&stack, &format!("subscriptions/{sub_id}"));
        let at = unix_now() + 60;
        let event = |id: String, kind: &str, object: &Value| {
            json!({ "id": id, "object": "event", "type": kind, "created": at, "livemode": false,
                    "data": { "object": object } })
            .to_string()
        };
        // The subscription went unpaid (no access)...
        sub["status"] = json!("unpaid");
        let mut unpaid = serde_json::from_str::<Value>(&event(
            format!("evt_race_{round}_unpaid"),
            "customer.subscription.updated",
            &sub,
        ))
        .expect("json");
        unpaid["created"] = json!(at - 10);
        assert_eq!(deliver(&stack, &unpaid.to_string()).status, 200);
        // ...then Stripe ends it, and in the same second other deliveries of it say it recovered: all arrive at once
        // and race between reading and writing the grant (a recovery also writes an email, which widens its window).
        sub["status"] = json!("active");
        let mut bodies: Vec<String> = (0..RACERS)
            .map(|i| event(format!("evt_race_{round}_active_{i}"), "customer.subscription.updated", &sub))
            .collect();
        sub["status"] = json!("canceled");
        sub["ended_at"] = json!(at);
        sub["canceled_at"] = json!(at);
        bodies.insert(RACERS / 2, event(format!("evt_race_{round}_deleted"), "customer.subscription.deleted", &sub));
        // Spread over a few milliseconds, so some recoveries read before the end is written and write after it.
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let sent: Vec<_> = bodies
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let stack = &stack;
                    s.spawn(move || {
                        std::thread::sleep(Duration::from_millis(2 * i as u64));
                        deliver(stack, b).status
                    })
                })
                .collect();
            sent.into_iter().map(|h| h.join().expect("delivery")).collect()
        });
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let rows = stack.sql(&format!("SELECT status FROM grants WHERE source = '{sub_id}'")).expect("grants");
        assert_eq!(rows[0]["status"], "canceled", "round {round}: the end wins whatever the order");
    }
}

// 8. ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_member_checks_out_as_themselves() {
    let stack = stack();
    let member = "regular@example.com";
    let first = stack.checkout(DEMO_SITE, "course-lifetime", None, &json!({}));
    stack.pay(first["id"].as_str().expect("id"), PAYING_CARD, member).expect("pay");
    assert_eq!(stack.claim(DEMO_SITE, &first).status, 200);
    let customer = stripe_get(&stack, &format!("checkout/sessions/{}", first["id"].as_str().unwrap()))["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
    let newest_session = || stripe_get(&stack, "checkout/sessions?limit=1")["data"][0].clone();

    // In a fresh browser the member signs in through the widget, then buys Pro: the same Stripe customer.
    let driver = start_driver();
    let client = browser(&driver).await;
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("open the demo");
    wait_js(&client, LOCKED_COURSE, Duration::from_secs(15)).await;
    click(&client, "#signin").await;
    wait_js(&client, "document.querySelector('#latch-signin:modal')", Duration::from_secs(5)).await;
    fill(&client, "#latch-signin-email", member).await;
    let before = stack.outbox(member).expect("dev outbox").len();
    click(&client, "#latch-signin-submit").await;
    wait_js(&client, "document.querySelector('#latch-signin-code').offsetParent !== null", Duration::from_secs(10))
        .await;
    fill(&client, "#latch-signin-code", &stack.code_sent(member, before)).await;
    click(&client, "#latch-signin-submit").await;
    wait_js(&client, UNLOCKED_COURSE, Duration::from_secs(10)).await;
    click(&client, "#buy-pro").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    let session = newest_session();
    assert_eq!(session["customer"], customer.as_str(), "the member's customer is reused: {session}");
    assert!(!session["metadata"]["latch_member"].is_null(), "and the session names the member: {session}");
    fill(&client, "#cardNumber", PAYING_CARD).await;
    click(&client, "#submit").await;
    wait_js(&client, UNLOCKED_PRO, Duration::from_secs(20)).await;
    assert_eq!(eval(&client, "Latch.member().access").await, json!(["course", "pro"]));

    // Saving a card (a buy button with data-latch-mode="setup") works signed in: the same customer, no 401.
    eval(
        &client,
        "(document.body.insertAdjacentHTML('beforeend', '<button id=\"save-card\" data-latch-buy=\"course-lifetime\" \
         data-latch-mode=\"setup\">Save a card</button>'), true)",
    )
    .await;
    click(&client, "#save-card").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    let setup = newest_session();
    assert_eq!((setup["mode"].as_str(), setup["customer"].as_str()), (Some("setup"), Some(customer.as_str())));
    fill(&client, "#cardNumber", PAYING_CARD).await;
    click(&client, "#submit").await;
    wait_js(&client, "location.pathname === '/demo/'", Duration::from_secs(20)).await;
    assert_eq!(
        stripe_get(&stack, &format!("checkout/sessions/{}", setup["id"].as_str().unwrap()))["status"],
        "complete"
    );

    // A token the edge refuses (signed out everywhere from another device) signs the visitor out, and a purchase
    // goes on signed out instead of failing.
    wait_js(&client, "!location.search.includes('latch_session')", Duration::from_secs(20)).await;
    let token = eval(&client, "localStorage.getItem('latch:site_demo:token')").await;
    let token = token.as_str().expect("a member token").to_owned();
    assert_eq!(stack.post("/v1/signout", Some(&token), &json!({ "everywhere": true })).status, 200);
    click(&client, "#buy-course").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    assert!(newest_session()["customer"].is_null(), "a signed-out checkout: {}", newest_session());
    client.close().await.expect("close");
}

// 9. ------------------------------------------------------------------------------------------------------------

/// Sends a raw HTTP/1.1 request: the head, then `size` bytes of body, as one fixed-length body (`chunked` false) or
/// as 16 KB chunks without the final empty chunk (`chunked` true: the sender still "holds the rest"). Stops writing
/// once the edge answers or closes, and answers the response's status line.
fn raw_status(stack: &Stack, path: &str, headers: &str, size: usize, chunked: bool) -> String {
    let addr = stack.edge_url.trim_start_matches("http://").to_owned();
    let framing = if chunked { "Transfer-Encoding: chunked".to_owned() } else { format!("Content-Length: {size}") };
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}{framing}\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(&addr).expect("connect to the edge");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(head.as_bytes()).expect("send the head");
    let chunk = [b' '; 16 * 1024];
    for _ in 0..size.div_ceil(chunk.len()) {
        let sent = if chunked {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .and_then(|()| stream.write_all(&chunk))
                .and_then(|()| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(&chunk)
        };
        if sent.is_err() {
            break; // the edge answered and closed: read what it said
        }
    }
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn oversized_bodies_are_refused_before_reading() {
    let stack = stack();
    let json = "Content-Type: application/json\r\n";
    let signed = "Content-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\n";
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    // A declared length over the cap is refused by its `Content-Length` alone, before the body is read (wrangler
    // dev's local proxy holds a fixed-length body until it is all there, so the test sends it all).
    for (path, headers, size) in [
        ("/v1/webhooks/stripe", signed, 600 * 1024),
        ("/v1/checkout", json, 20 * 1024),
        ("/dashboard/signin", form, 20 * 1024),
    ] {
        let status = raw_status(&stack, path, headers, size, false);
        assert!(status.contains(" 413"), "{path}: {status}");
    }
    // A body streamed without a length is cut off as soon as it passes the cap: the answer comes while the sender
    // still holds the rest (the final chunk is never sent).
    for (path, headers, size) in [("/v1/webhooks/stripe", signed, 560 * 1024), ("/v1/signin", json, 32 * 1024)] {
        let status = raw_status(&stack, path, headers, size, true);
        assert!(status.contains(" 413"), "{path} streamed: {status}");
    }
    // Normal bodies still work.
    assert_eq!(stack.post("/v1/signin", None, &json!({ "site": DEMO_SITE, "email": "a@example.com" })).status, 202);
}

// 10. -----------------------------------------------------------------------------------------------------------

#[test]
fn unreadable_signed_events_are_kept_and_acknowledged() {
    let stack = stack();
    let now = unix_now();
    // Signed by Stripe (our secret), but not an event Latch can read: kept, and 200 so Stripe does not retry for
    // days and disable the endpoint.
    let odd = json!({ "id": "evt_odd_shape", "object": "event", "type": "checkout.session.completed", "created": now,
                      "livemode": false, "data": { "object": "not an object" } })
    .to_string();
    for body in [odd.as_str(), "not json at all"] {
        let a = deliver(&stack, body);
        assert_eq!((a.status, &a.body["stored"]), (200, &json!("unreadable")), "{body}: {}", a.body);
    }
    let kept = stack.sql("SELECT event_id, body FROM unreadable_events ORDER BY id").expect("rows");
    assert_eq!(kept[0]["event_id"], "evt_odd_shape");
    assert_eq!(kept[1]["body"], "not json at all");
    // Unsigned is still refused.
    let forged = answer(
        ureq::post(&format!("{}/v1/webhooks/stripe", stack.edge_url))
            .set("Stripe-Signature", &latch_core::webhook::signature_header(odd.as_bytes(), "whsec_forged", now))
            .send_string(&odd),
    );
    assert_eq!((forged.status, forged.code()), (400, "invalid_signature"));
    assert_eq!(count(&stack, "SELECT COUNT(*) FROM unreadable_events"), 2);
}

// 11. -----------------------------------------------------------------------------------------------------------

#[test]
fn stripe_connection_changes_need_a_fresh_code_and_tell_the_owners() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts");
    let ann = "ann@example.com";
    let session = stack.owner_signin(ann)["session"].as_str().expect("session").to_owned();
    let created = stack.post("/owner/v1/sites", Some(&session), &json!({ "name": "Ann's", "allowed_origins": [] }));
    let site = created.body["id"].as_str().expect("site").to_owned();
    // A second owner of the site, who must hear of every change too.
    let bob = "bob@example.com";
    stack.owner_signin(bob);
    stack
        .sql(&format!(
            "INSERT INTO site_owners (site_id, owner_id, role, created_at) \
             SELECT '{site}', id, 'owner', 0 FROM owners WHERE email = '{bob}'"
        ))
        .expect("second owner");
    let subjects = |to: &str| -> Vec<String> {
        stack.outbox(to).expect("outbox").iter().filter_map(|e| e["subject"].as_str().map(Into::into)).collect()
    };
    let start = |token: &str| stack.post(&format!("/owner/v1/sites/{site}/connect"), Some(token), &json!({}));

    // The first connection needs no extra code; both owners are told. A second flow started meanwhile, while the
    // site had no account, cannot finish without one once the first has connected it.
    let url = start(&session);
    assert_eq!(url.status, 200, "{}", url.body);
    let pending = start(&session);
    assert_eq!(pending.status, 200, "{}", pending.body);
    let location = stack.approve_connect(url.body["url"].as_str().expect("url"), "");
    let (status, html) = get_page(&location, Some(&format!("latch_owner={session}")));
    assert_eq!(status, 200, "{html}");
    for owner in [ann, bob] {
        assert!(subjects(owner).iter().any(|s| s.contains("connected to Ann's")), "{owner}: {:?}", subjects(owner));
    }
    let late = stack.approve_connect(pending.body["url"].as_str().expect("url"), "");
    let (status, html) = get_page(&late, Some(&format!("latch_owner={session}")));
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("fresh code"), "{html}");
    // Nor can it read the site's identity secret, which signs in any member.
    let secret = stack.get(&format!("/owner/v1/sites/{site}/secret"), Some(&session));
    assert_eq!((secret.status, secret.code()), (403, "confirmation_required"));

    // Someone holding only Ann's session (stolen cookie, open laptop) cannot disconnect or reconnect.
    let disconnect = |token: &str| stack.post(&format!("/owner/v1/sites/{site}/disconnect"), Some(token), &json!({}));
    let refused = disconnect(&session);
    assert_eq!((refused.status, refused.code()), (403, "confirmation_required"), "{}", refused.body);
    assert_eq!(start(&session).status, 403, "connecting another account over this one");
    // A code confirmed in another session does not count for this one.
    let other = stack.owner_signin(ann)["session"].as_str().expect("session").to_owned();
    stack.owner_confirm(&other, ann);
    assert_eq!(disconnect(&session).status, 403);
    // A wrong code confirms nothing.
    let asked = stack.post("/owner/v1/confirm", Some(&session), &json!({}));
    let wrong = stack.post(
        "/owner/v1/confirm/verify",
        Some(&session),
        &json!({ "code": "000000", "challenge": asked.body["challenge"] }),
    );
    assert_eq!(wrong.status, 401);
    // With a fresh code from Ann's email, Ann can; both owners are told.
    stack.owner_confirm(&session, ann);
    let done = disconnect(&session);
    assert_eq!(done.status, 200, "{}", done.body);
    for owner in [ann, bob] {
        assert!(subjects(owner).iter().any(|s| s.starts_with("Stripe was disconnected from Ann's")), "{owner}");
    }
    // The confirmation lasts ten minutes.
    stack
        .sql("UPDATE owner_sessions SET confirmed_at = confirmed_at - 601 WHERE confirmed_at IS NOT NULL")
        .expect("age");
    assert_eq!(start(&session).status, 403, "an old confirmation no longer counts");
}

// 12. -----------------------------------------------------------------------------------------------------------

#[test]
fn a_live_platform_key_runs_a_live_site() {
    let stack =
        Stack::start(StackOptions { stripe_key: "sk_live_latch_local_emulator".into(), ..StackOptions::default() })
            .expect("the stack starts");
    stack.seed_demo().expect("seed the demo site");
    let site = answer(
        ureq::get(&format!("{}/owner/v1/sites/{DEMO_SITE}", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .call(),
    );
    assert_eq!(
        (site.body["stripe_status"].as_str(), site.body["livemode"].as_bool()),
        (Some("platform_account"), Some(true))
    );
    // A live purchase grants access (it is not ignored as "another mode's" object), by claim and by webhook.
    let bought = stack.buy(DEMO_SITE, "course-lifetime", None, "live@example.com");
    assert_eq!(products(&bought), ["course"]);
    stack.wait_webhooks().expect("webhooks");
    let ignored = count(&stack, "SELECT COUNT(*) FROM activity WHERE reason LIKE '%-mode object does not touch%'");
    assert_eq!(ignored, 0, "no live event was taken for another mode's");
    let live = stack.sql("SELECT json_extract(data, '$.livemode') AS live FROM grants").expect("grants");
    assert_eq!(live[0]["live"], 1);
}

// 13. -----------------------------------------------------------------------------------------------------------

#[test]
fn stripe_words_never_reach_public_callers() {
    let stack = stack();
    let first = stack.buy(DEMO_SITE, "course-lifetime", None, "words@example.com");
    let token = first["token"].as_str().expect("token").to_owned();
    // The member's customer disappears at Stripe behind Latch's back: Stripe refuses the next checkout in its own
    // words, which name the customer; the buyer sees none of them.
    let customer = stack.sql("SELECT customer FROM member_customers").expect("link")[0]["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
    ureq::delete(&format!("{}/v1/customers/{customer}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
        .call()
        .expect("delete the customer at Stripe");
    let refused = stack.post(
        "/v1/checkout",
        Some(&token),
        &json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": format!("{}/demo/", stack.edge_url) }),
    );
    assert_eq!((refused.status, refused.code()), (502, "stripe_error"), "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains(&customer) && !message.contains("No such"), "Stripe's words leaked: {message}");
    // The site's owner sees Stripe's words on their own routes; ids are checked before they reach a Stripe URL.
    let link = |product: &str| {
        answer(
            ureq::post(&format!("{}/owner/v1/sites/{DEMO_SITE}/products/link", stack.edge_url))
                .set("Authorization", &format!("Bearer {}", stack.admin_token))
                .send_json(json!({ "stripe_product": product, "slug": "other" })),
        )
    };
    let missing = link("prod_doesnotexist");
    assert_eq!(missing.status, 502, "{}", missing.body);
    assert!(
        missing.body["error"]["message"].as_str().unwrap_or_default().contains("No such product"),
        "{}",
        missing.body
    );
    for bad in ["prod_x/../../v1/customers", "prod_x?expand[]=y", "price_1", "prod_"] {
        let a = link(bad);
        assert_eq!((a.status, a.code()), (400, "invalid_request"), "{bad}: {}", a.body);
    }
}
