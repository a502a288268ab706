//! Stripe Connect end to end over HTTP against real `wrangler dev` (workerd + local D1) and the Stripe emulator:
//! connect a site through the emulator's OAuth page (forged, replayed, expired and other-browser states refused),
//! create products and prices on the connected account, link an existing product whose 120 subscribers are
//! imported in chunks (idempotently), keep the catalog in sync from webhooks, check out and claim on the connected
//! account, keep sites apart, refuse a relink, and disconnect (from Latch and from Stripe's side).

use std::time::{Duration, Instant};

use latch_e2e::{CONNECT_CLIENT_ID, DEMO_SITE, STRIPE_TEST_KEY, Stack, StackOptions, query_param as query, read_json};
use serde_json::{Value, json};

const SITE: &str = "site_connected";
const PAYS: &str = "4242 4242 4242 4242";
const SUBSCRIBERS: usize = 120;

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(60)).build()
}

fn count(stack: &Stack, sql: &str) -> i64 {
    let rows = stack.sql(sql).expect("query D1");
    rows[0].as_object().and_then(|r| r.values().next()).and_then(Value::as_i64).expect("a count")
}

/// Calls an owner route with the operator token: (status, JSON body).
fn owner_api(stack: &Stack, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = agent()
        .request(method, &format!("{}/owner/v1{path}", stack.edge_url))
        .set("Authorization", &format!("Bearer {}", stack.admin_token));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    answer(resp)
}

fn answer(resp: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Calls the emulator's Stripe API as the platform, optionally on a connected account.
fn stripe(stack: &Stack, method: &str, path: &str, account: Option<&str>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut req = agent()
        .request(method, &format!("{}{path}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"));
    if let Some(a) = account {
        req = req.set("Stripe-Account", a);
    }
    answer(if method == "POST" { req.send_form(form) } else { req.call() })
}

/// Asks Latch for the authorize URL: (url, cookie pair `name=value`, full Set-Cookie).
fn start_connect(stack: &Stack, site: &str) -> (String, String, String) {
    let resp = agent()
        .post(&format!("{}/owner/v1/sites/{site}/connect", stack.edge_url))
        .set("Authorization", &format!("Bearer {}", stack.admin_token))
        .call()
        .expect("connect url");
    let set_cookie = resp.header("Set-Cookie").expect("the edge sets the binding cookie").to_owned();
    let body: Value = resp.into_json().expect("json");
    let url = body["url"].as_str().expect("url").to_owned();
    let pair = set_cookie.split(';').next().expect("cookie pair").to_owned();
    (url, pair, set_cookie)
}

fn approve(stack: &Stack, authorize_url: &str, account: &str) -> String {
    stack.approve_connect(authorize_url, account)
}

fn callback(location: &str, cookie: Option<&str>) -> (u16, String) {
    latch_e2e::get_page(location, cookie)
}

fn account_of(stack: &Stack, site: &str) -> (Option<String>, Option<String>) {
    let rows =
        stack.sql(&format!("SELECT stripe_account, stripe_status FROM sites WHERE id = '{site}'")).expect("site");
    (rows[0]["stripe_account"].as_str().map(str::to_owned), rows[0]["stripe_status"].as_str().map(str::to_owned))
}

/// Connects `site` through the whole flow and answers the connected account id.
fn connect(stack: &Stack, site: &str) -> String {
    let (url, cookie, _) = start_connect(stack, site);
    let location = approve(stack, &url, "");
    let (status, html) = callback(&location, Some(&cookie));
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"connected\""), "{html}");
    account_of(stack, site).0.expect("the account is stored")
}

fn wait_webhooks(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while stack.wait_webhooks().is_err() {
        assert!(Instant::now() < deadline, "webhooks still pending");
    }
}

fn wait_import(stack: &Stack, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = owner_api(stack, "GET", &format!("/sites/{SITE}/imports"), None);
        assert_eq!(status, 200, "{body}");
        let job = body["imports"].as_array().expect("imports").iter().find(|j| j["id"] == id).expect("job").clone();
        if job["done"] == 1 {
            return job;
        }
        assert!(job["error"].is_null(), "import failed: {job}");
        assert!(Instant::now() < deadline, "import did not finish: {job}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Checks out `price` on `site` (optionally as a signed-in member) and pays at the emulator: the checkout answer
/// (`{id, url, claim}`).
fn buy(stack: &Stack, site: &str, price: &str, email: &str, token: Option<&str>) -> Value {
    let checkout = stack.checkout(site, price, token, &json!({}));
    stack.pay(checkout["id"].as_str().expect("session id"), PAYS, email).expect("pay");
    checkout
}

fn claim(stack: &Stack, site: &str, checkout: &Value) -> Value {
    let claimed = stack.claim(site, checkout);
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    claimed.body
}

#[test]
fn connect_products_import_checkout_and_disconnect() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site (single-account mode)");
    stack
        .admin("/sites", &json!({ "id": SITE, "name": "Connected site", "allowed_origins": [stack.edge_url] }))
        .expect("create the site");

    // Owner routes need credentials.
    let (status, _) = answer(agent().post(&format!("{}/owner/v1/sites/{SITE}/connect", stack.edge_url)).call());
    assert_eq!(status, 401);

    // --- Connect, and the attacks on the state.
    eprintln!("[e2e] connect");
    let (url, cookie, set_cookie) = start_connect(&stack, SITE);
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "no Secure on loopback http: {set_cookie}");
    assert_eq!(query(&url, "client_id").as_deref(), Some(CONNECT_CLIENT_ID));
    assert_eq!(query(&url, "scope").as_deref(), Some("read_write"));
    assert_eq!(query(&url, "redirect_uri"), Some(format!("{}/connect/callback", stack.edge_url)));
    let forged = format!("{}/connect/callback?code=ac_forged&state=st_forged", stack.edge_url);
    assert_eq!(callback(&forged, Some(&cookie)).0, 400, "a forged state is refused");
    let location = approve(&stack, &url, "");
    assert_eq!(callback(&location, None).0, 400, "no binding cookie: refused");
    assert_eq!(callback(&location, Some("latch_oauth=n_other")).0, 400, "another browser's cookie: refused");
    assert_eq!(account_of(&stack, SITE).0, None, "nothing stored after refusals");
    let (status, html) = callback(&location, Some(&cookie));
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"connected\"") && html.contains(">test<"), "{html}");
    let (account, status_col) = account_of(&stack, SITE);
    let account = account.expect("account stored");
    assert!(account.starts_with("acct_"));
    assert_eq!(status_col.as_deref(), Some("connected"));
    assert_eq!(callback(&location, Some(&cookie)).0, 400, "a replayed state is refused");

    let (url2, cookie2, _) = start_connect(&stack, SITE);
    let location2 = approve(&stack, &url2, &account);
    stack.sql("UPDATE oauth_states SET expires_at = 0 WHERE used_at IS NULL").expect("expire the state");
    assert_eq!(callback(&location2, Some(&cookie2)).0, 400, "an expired state is refused");
    assert_eq!(account_of(&stack, SITE).0.as_deref(), Some(account.as_str()));

    // --- Products and prices on the connected account.
    eprintln!("[e2e] products");
    let (status, created) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products"),
        Some(json!({ "slug": "club", "name": "Club", "prices": [
            { "unit_amount": 900, "currency": "usd", "interval": "month", "lookup_key": "club-monthly" }
        ]})),
    );
    assert_eq!(status, 200, "{created}");
    let club_product = created["stripe_product"].as_str().expect("product id").to_owned();
    assert_eq!(stripe(&stack, "GET", &format!("/v1/products/{club_product}"), Some(&account), &[]).0, 200);
    assert_eq!(stripe(&stack, "GET", &format!("/v1/products/{club_product}"), None, &[]).0, 404, "not on the platform");
    let (status, yearly) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/club/prices"),
        Some(
            json!({ "unit_amount": 9000, "currency": "usd", "interval": "year", "trial_days": 14, "lookup_key": "club-yearly" }),
        ),
    );
    assert_eq!(status, 200, "{yearly}");
    let (_, at_stripe) =
        stripe(&stack, "GET", &format!("/v1/prices/{}", yearly["id"].as_str().unwrap()), Some(&account), &[]);
    assert_eq!(at_stripe["recurring"]["interval"], "year");
    assert_eq!(at_stripe["recurring"]["trial_period_days"], 14);
    let (status, once) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/club/prices"),
        Some(json!({ "unit_amount": 2500, "currency": "usd", "lookup_key": "club-once" })),
    );
    assert_eq!(status, 200, "{once}");
    assert!(once["interval"].is_null());
    let (status, _) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/club/prices"),
        Some(json!({ "unit_amount": 100, "currency": "usd", "interval": "fortnight" })),
    );
    assert_eq!(status, 400, "unknown intervals are refused");

    let (status, patched) = owner_api(
        &stack,
        "PATCH",
        &format!("/sites/{SITE}/products/club"),
        Some(json!({ "purchase_method": "sales_page", "purchase_url": "https://club.example/join" })),
    );
    assert_eq!(status, 200, "{patched}");
    let catalog =
        read_json(agent().get(&format!("{}/v1/sites/{SITE}/catalog", stack.edge_url)).call()).expect("catalog");
    let club = &catalog["products"][0];
    assert_eq!(
        (club["purchase_method"].as_str(), club["purchase_url"].as_str()),
        (Some("sales_page"), Some("https://club.example/join"))
    );
    assert_eq!(club["prices"].as_array().map(Vec::len), Some(3));
    let (status, _) = owner_api(
        &stack,
        "PATCH",
        &format!("/sites/{SITE}/products/club"),
        Some(json!({ "purchase_method": "external", "purchase_url": "javascript:alert(1)" })),
    );
    assert_eq!(status, 400);
    let (status, _) = owner_api(
        &stack,
        "PATCH",
        &format!("/sites/{SITE}/products/club"),
        Some(json!({ "purchase_method": "stripe_checkout", "checkout_enabled": true })),
    );
    assert_eq!(status, 200);

    // --- An existing product with 120 subscribers (one of them canceled) on the connected account.
    eprintln!("[e2e] {SUBSCRIBERS} subscribers");
    let (_, legacy) = stripe(&stack, "POST", "/v1/products", Some(&account), &[("name", "Legacy membership")]);
    let legacy = legacy["id"].as_str().expect("legacy product").to_owned();
    let (_, legacy_price) = stripe(
        &stack,
        "POST",
        "/v1/prices",
        Some(&account),
        &[("product", &legacy), ("unit_amount", "500"), ("currency", "usd"), ("recurring[interval]", "month")],
    );
    let legacy_price = legacy_price["id"].as_str().expect("legacy price").to_owned();
    let mut subscriptions = Vec::new();
    for i in 0..SUBSCRIBERS {
        let email = format!("legacy{i}@example.com");
        let (status, cs) = stripe(
            &stack,
            "POST",
            "/v1/checkout/sessions",
            Some(&account),
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", &legacy_price),
                ("line_items[0][quantity]", "1"),
                ("success_url", "https://legacy.example/ok"),
                ("customer_email", &email),
            ],
        );
        assert_eq!(status, 200, "{cs}");
        let paid = stack
            .emulator_control(
                &format!("/checkout/sessions/{}/pay", cs["id"].as_str().unwrap()),
                &json!({ "card": PAYS }),
            )
            .expect("pay");
        subscriptions.push(paid["subscription"].as_str().map(str::to_owned).expect("subscription"));
    }
    let (status, _) = stripe(&stack, "DELETE", &format!("/v1/subscriptions/{}", subscriptions[0]), Some(&account), &[]);
    assert_eq!(status, 200);
    wait_webhooks(&stack);
    assert_eq!(count(&stack, &format!("SELECT count(*) FROM grants WHERE site_id = '{SITE}'")), 0, "not linked yet");

    // --- Link it: prices copied, subscribers imported in chunks.
    eprintln!("[e2e] link");
    let (status, linked) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/link"),
        Some(json!({ "stripe_product": legacy, "slug": "legacy" })),
    );
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["name"], "Legacy membership");
    assert_eq!(linked["prices"][0]["id"], legacy_price.as_str());
    let job = wait_import(&stack, linked["import"]["id"].as_str().expect("job id"));
    let imported = SUBSCRIBERS as i64 - 1;
    assert_eq!((job["imported"].as_i64(), job["skipped"].as_i64()), (Some(imported), Some(1)), "{job}");
    let legacy_grants = format!("SELECT count(*) FROM grants WHERE site_id = '{SITE}' AND product = 'legacy'");
    let legacy_activity = format!("SELECT count(*) FROM activity WHERE site_id = '{SITE}' AND product = 'legacy'");
    let members = format!("SELECT count(*) FROM members WHERE site_id = '{SITE}'");
    assert_eq!(count(&stack, &legacy_grants), imported);
    assert_eq!(
        count(
            &stack,
            &format!(
                "SELECT count(*) FROM grants WHERE site_id = '{SITE}' AND product = 'legacy' AND status = 'active'"
            )
        ),
        imported
    );
    let activity = count(&stack, &legacy_activity);
    assert!(activity >= imported, "an activity row per imported subscriber: {activity}");
    assert_eq!(count(&stack, &members), imported);

    // Re-running the link is idempotent.
    let (status, again) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/link"),
        Some(json!({ "stripe_product": legacy, "slug": "legacy" })),
    );
    assert_eq!(status, 200, "{again}");
    let job2 = wait_import(&stack, again["import"]["id"].as_str().expect("job id"));
    assert_eq!(job2["imported"].as_i64(), Some(imported));
    assert_eq!(count(&stack, &legacy_grants), imported);
    assert_eq!(count(&stack, &legacy_activity), activity, "no new activity on a re-run");
    assert_eq!(count(&stack, &members), imported);

    // Relinking to another Stripe product while members have access: 409.
    let (_, other) = stripe(&stack, "POST", "/v1/products", Some(&account), &[("name", "Other")]);
    let (status, refused) = owner_api(
        &stack,
        "POST",
        &format!("/sites/{SITE}/products/link"),
        Some(json!({ "stripe_product": other["id"], "slug": "legacy" })),
    );
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "product_has_subscribers");

    // --- Catalog sync from Stripe's webhooks.
    stripe(&stack, "POST", &format!("/v1/products/{legacy}"), Some(&account), &[("name", "Legacy plus")]);
    stripe(&stack, "POST", &format!("/v1/prices/{legacy_price}"), Some(&account), &[("active", "false")]);
    wait_webhooks(&stack);
    let row =
        stack.sql(&format!("SELECT name FROM products WHERE site_id = '{SITE}' AND slug = 'legacy'")).expect("row");
    assert_eq!(row[0]["name"], "Legacy plus");
    assert_eq!(count(&stack, &format!("SELECT active FROM prices WHERE id = '{legacy_price}'")), 0);

    // --- Checkout on the connected account, claim, customer reuse, setup mode.
    eprintln!("[e2e] checkout");
    let bought = buy(&stack, SITE, "club-monthly", "buyer@example.com", None);
    let session = bought["id"].as_str().expect("session id").to_owned();
    assert_eq!(stripe(&stack, "GET", &format!("/v1/checkout/sessions/{session}"), Some(&account), &[]).0, 200);
    assert_eq!(stripe(&stack, "GET", &format!("/v1/checkout/sessions/{session}"), None, &[]).0, 404);
    let claimed = claim(&stack, SITE, &bought);
    assert!(claimed["access"].as_array().expect("access").iter().any(|a| a["product"] == "club"), "{claimed}");
    let token = claimed["token"].as_str().expect("token").to_owned();
    let (_, cs) = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{session}"), Some(&account), &[]);
    let customer = cs["customer"].as_str().expect("customer").to_owned();
    let again = buy(&stack, SITE, "club-once", "buyer@example.com", Some(&token));
    let again_session = again["id"].as_str().expect("session id");
    let (_, cs2) = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{again_session}"), Some(&account), &[]);
    assert_eq!(cs2["customer"], customer.as_str(), "a signed-in member's customer is reused");
    let (status, setup) = answer(
        agent()
            .post(&format!("{}/v1/checkout", stack.edge_url))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(json!({ "site": SITE, "mode": "setup", "return_url": format!("{}/demo/", stack.edge_url) })),
    );
    assert_eq!(status, 200, "{setup}");
    let (_, cs3) =
        stripe(&stack, "GET", &format!("/v1/checkout/sessions/{}", setup["id"].as_str().unwrap()), Some(&account), &[]);
    assert_eq!((cs3["mode"].as_str(), cs3["customer"].as_str()), (Some("setup"), Some(customer.as_str())));
    // Saving the card makes it the default of the customer and of the member's subscription (renewals use it),
    // once, whether the webhook or the claim gets there first.
    let setup_id = setup["id"].as_str().expect("setup session id");
    stack
        .emulator_control(&format!("/checkout/sessions/{setup_id}/pay"), &json!({ "card": PAYS, "email": "" }))
        .expect("save the card");
    wait_webhooks(&stack);
    let claimed_setup = claim(&stack, SITE, &setup);
    assert_eq!(claimed_setup["member"]["email"], "buyer@example.com");
    let (_, done) = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{setup_id}"), Some(&account), &[]);
    let (_, seti) = stripe(
        &stack,
        "GET",
        &format!("/v1/setup_intents/{}", done["setup_intent"].as_str().expect("setup intent")),
        Some(&account),
        &[],
    );
    let card = seti["payment_method"].as_str().expect("saved card").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let updated = format!(
        "SELECT COUNT(*) AS n FROM activity WHERE site_id = '{SITE}' AND kind = 'payment_method_updated' \
         AND customer = '{customer}'"
    );
    while count(&stack, &updated) == 0 {
        assert!(Instant::now() < deadline, "no 'Payment method updated' activity");
        std::thread::sleep(Duration::from_millis(300));
    }
    let (_, cus) = stripe(&stack, "GET", &format!("/v1/customers/{customer}"), Some(&account), &[]);
    assert_eq!(cus["invoice_settings"]["default_payment_method"], card.as_str(), "{cus}");
    let (_, subs) = stripe(&stack, "GET", &format!("/v1/subscriptions?customer={customer}"), Some(&account), &[]);
    let subs = subs["data"].as_array().expect("subscriptions").clone();
    assert!(!subs.is_empty());
    for sub in &subs {
        assert_eq!(sub["default_payment_method"], card.as_str(), "renewals charge the new card: {sub}");
    }
    assert_eq!(count(&stack, &updated), 1, "one entry, however many runs");
    assert_eq!(
        count(&stack, "SELECT COUNT(*) AS n FROM pending_fetches WHERE object = 'setup_intent' AND status != 'done'"),
        0
    );

    // --- Sites stay apart: a member of the demo site cannot act on or read through the connected site.
    let demo = buy(&stack, DEMO_SITE, "course-lifetime", "demo@example.com", None);
    let demo_token = claim(&stack, DEMO_SITE, &demo)["token"].as_str().expect("token").to_owned();
    let (status, _) = answer(
        agent()
            .post(&format!("{}/v1/checkout", stack.edge_url))
            .set("Authorization", &format!("Bearer {demo_token}"))
            .send_json(
                json!({ "site": SITE, "price": "club-monthly", "return_url": format!("{}/demo/", stack.edge_url) }),
            ),
    );
    assert_eq!(status, 401, "a demo-site token is refused on the connected site");
    let (status, access) = answer(
        agent()
            .get(&format!("{}/v1/access", stack.edge_url))
            .set("Authorization", &format!("Bearer {demo_token}"))
            .call(),
    );
    assert_eq!(status, 200);
    assert_eq!(access["member"]["email"], "demo@example.com");
    assert!(access["access"].as_array().unwrap().iter().all(|a| a["product"] != "club" && a["product"] != "legacy"));
    let (status, _) = answer(agent().get(&format!("{}/owner/v1/sites/{SITE}/imports", stack.edge_url)).call());
    assert_eq!(status, 401);

    // --- Disconnect from Latch; a second site disconnected from Stripe's side (webhook).
    eprintln!("[e2e] disconnect");
    let (status, gone) = owner_api(&stack, "POST", &format!("/sites/{SITE}/disconnect"), None);
    assert_eq!(status, 200, "{gone}");
    assert!(gone["subscriptions"].as_str().unwrap_or_default().contains("not cancelled"), "{gone}");
    assert_eq!(account_of(&stack, SITE).1.as_deref(), Some("disconnected"));
    assert_eq!(stripe(&stack, "GET", "/v1/products", Some(&account), &[]).0, 403, "Stripe revoked access");
    let (status, refused) = answer(agent().post(&format!("{}/v1/checkout", stack.edge_url)).send_json(json!({
        "site": SITE, "price": "club-monthly", "return_url": format!("{}/demo/", stack.edge_url)
    })));
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("stripe_disconnected")));

    stack
        .admin("/sites", &json!({ "id": "site_second", "name": "Second", "allowed_origins": [stack.edge_url] }))
        .expect("second site");
    let second = connect(&stack, "site_second");
    // The second site has an owner, who is told by email when Stripe's side disconnects.
    stack
        .sql(
            "INSERT INTO owners (id, email, created_at) VALUES ('own_second', 'owner@second.example', 0); \
             INSERT INTO site_owners (site_id, owner_id, role, created_at) VALUES ('site_second', 'own_second', 'owner', 0);",
        )
        .expect("owner of the second site");
    let (status, _) = stripe(
        &stack,
        "POST",
        "/oauth/deauthorize",
        None,
        &[("client_id", CONNECT_CLIENT_ID), ("stripe_user_id", &second)],
    );
    assert_eq!(status, 200);
    wait_webhooks(&stack);
    assert_eq!(
        account_of(&stack, "site_second").1.as_deref(),
        Some("disconnected"),
        "account.application.deauthorized"
    );
    let told = stack.outbox("owner@second.example").expect("dev outbox");
    assert_eq!(told.len(), 1, "one email to the owner: {told:?}");
    assert_eq!(told[0]["subject"], "Stripe was disconnected from Second");
    assert!(told[0]["text"].as_str().unwrap_or_default().contains("not cancelled"), "{told:?}");
}

/// Signs an owner in with the emailed code: the session token.
fn owner_session(stack: &Stack, email: &str) -> String {
    stack.owner_signin(email)["session"].as_str().expect("session").to_owned()
}

/// Starts Connect as an owner (bearer session): the authorize URL; no cookie is needed.
fn start_as_owner(stack: &Stack, session: &str, site: &str) -> String {
    let resp = agent()
        .post(&format!("{}/owner/v1/sites/{site}/connect", stack.edge_url))
        .set("Authorization", &format!("Bearer {session}"))
        .call()
        .expect("connect url");
    assert_eq!(resp.header("Set-Cookie"), None, "an owner's flow is bound to the session, not to a new cookie");
    resp.into_json::<Value>().expect("json")["url"].as_str().expect("url").to_owned()
}

#[test]
fn connect_state_is_bound_to_the_owner_session() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    let ann = owner_session(&stack, "ann@example.com");
    let bob = owner_session(&stack, "bob@example.com");
    let (status, site) = answer(
        agent()
            .post(&format!("{}/owner/v1/sites", stack.edge_url))
            .set("Authorization", &format!("Bearer {ann}"))
            .send_json(json!({ "name": "Ann's", "allowed_origins": ["https://ann.example"] })),
    );
    assert_eq!(status, 201, "{site}");
    let site = site["id"].as_str().expect("site id").to_owned();

    let url = start_as_owner(&stack, &ann, &site);
    let stored = stack.sql("SELECT binding FROM oauth_states").expect("states");
    let binding = stored[0]["binding"].as_str().expect("binding");
    assert!(binding.starts_with("owner:") && !binding.contains(&ann), "only the session's hash: {binding}");
    let location = approve(&stack, &url, "");
    // Owner A's state finished in owner B's browser, with no session, or with a nonce cookie: refused.
    let (status, html) = callback(&location, Some(&format!("latch_owner={bob}")));
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("another browser"), "{html}");
    // The refusal names no site and leads only to the dashboard: a stranger holding the link learns nothing.
    assert!(!html.contains("Ann") && !html.contains(&site) && html.contains("href=\"/dashboard\""), "{html}");
    assert_eq!(callback(&location, None).0, 400, "no session cookie: refused");
    assert_eq!(callback(&location, Some("latch_oauth=n_any")).0, 400, "a nonce cannot stand in for the session");
    let forged = format!("{}/connect/callback?code=ac_forged&state=st_forged", stack.edge_url);
    assert_eq!(callback(&forged, Some(&format!("latch_owner={ann}"))).0, 400, "a forged state is refused");
    assert_eq!(account_of(&stack, &site).0, None, "nothing stored after refusals");
    // Ann's own browser finishes it once; a replay is refused.
    let (status, html) = callback(&location, Some(&format!("latch_owner={ann}")));
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"connected\""), "{html}");
    let account = account_of(&stack, &site).0.expect("account stored");
    assert_eq!(callback(&location, Some(&format!("latch_owner={ann}"))).0, 400, "a replayed state is refused");

    // Connecting again (another account could get the site's money) needs a fresh code first.
    let refused = stack.post(&format!("/owner/v1/sites/{site}/connect"), Some(&ann), &json!({}));
    assert_eq!((refused.status, refused.code()), (403, "confirmation_required"), "{}", refused.body);
    stack.owner_confirm(&ann, "ann@example.com");
    // A session that signed out after starting cannot finish.
    let url2 = start_as_owner(&stack, &ann, &site);
    let location2 = approve(&stack, &url2, &account);
    let (status, _) = answer(
        agent()
            .post(&format!("{}/owner/v1/signout", stack.edge_url))
            .set("Authorization", &format!("Bearer {ann}"))
            .send_json(json!({})),
    );
    assert_eq!(status, 200);
    assert_eq!(callback(&location2, Some(&format!("latch_owner={ann}"))).0, 400, "a revoked session is refused");
    // Bob cannot even start a flow for Ann's site.
    let (status, _) = answer(
        agent()
            .post(&format!("{}/owner/v1/sites/{site}/connect", stack.edge_url))
            .set("Authorization", &format!("Bearer {bob}"))
            .call(),
    );
    assert_eq!(status, 404);
}
