//! The hosted checkout and portal pages: pay, decline, invalid cards, modes, events, redirects.

mod common;
use common::{Emulator, enc, request};

fn sub_session(emu: &Emulator, price: &str, extra: &str) -> serde_json::Value {
    emu.session(&format!(
        "mode=subscription&line_items[0][price]={price}&line_items[0][quantity]=1\
         &success_url={}&cancel_url={}{extra}",
        enc("http://site.test/back?latch_session={CHECKOUT_SESSION_ID}"),
        enc("http://site.test/cancel")
    ))
}

#[test]
fn page_shows_product_email_and_stable_ids() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Pro <Monthly>", 900, Some("month"));
    let cs = sub_session(&emu, &price, "&customer_email=a%40b.co&subscription_data[trial_period_days]=7");
    let page = request("GET", cs["url"].as_str().unwrap(), &[], "");
    assert_eq!(page.status, 200);
    for needle in [
        "id=\"email\"",
        "value=\"a@b.co\"",
        "id=\"cardNumber\"",
        "id=\"submit\"",
        "id=\"error\"",
        "Pro &lt;Monthly&gt;",
        "$9.00 / month",
        "7 days free",
        "href=\"http://site.test/cancel\"",
        "id=\"cancel\"",
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
    let missing = request("GET", &format!("{}/checkout/pay/cs_test_nope", emu.url), &[], "");
    assert_eq!(missing.status, 404);
}

#[test]
fn declined_and_invalid_cards_keep_the_session_open() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Pro", 900, Some("month"));
    let cs = sub_session(&emu, &price, "");
    let declined = emu.pay(&cs, "4000 0000 0000 0002", "m@x.test");
    assert_eq!(declined.status, 402);
    assert!(declined.body.contains("<div id=\"error\" role=\"alert\">Your card was declined.</div>"));
    assert!(declined.body.contains("value=\"m@x.test\""), "email kept");
    let invalid = emu.pay(&cs, "1234 5678 9012 3456", "m@x.test");
    assert_eq!(invalid.status, 400);
    assert!(invalid.body.contains("Your card number is invalid."));
    let no_email = emu.pay(&cs, "4242424242424242", "");
    assert!(no_email.body.contains("Your email is incomplete."));
    let id = cs["id"].as_str().unwrap();
    let s = emu.get(&format!("/v1/checkout/sessions/{id}")).ok();
    assert_eq!(s["status"], "open");
    assert_eq!(s["payment_status"], "unpaid");
    assert!(emu.get("/v1/customers").ok()["data"].as_array().unwrap().is_empty());
}

#[test]
fn subscription_checkout_pays_redirects_and_emits_in_order() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Pro", 900, Some("month"));
    let cs = sub_session(
        &emu,
        &price,
        "&customer_email=m%40x.test&metadata[latch_site]=s1&subscription_data[metadata][latch_product]=pro",
    );
    let id = cs["id"].as_str().unwrap();
    let before = emu.event_types().len();
    let r = emu.pay(&cs, "4242424242424242", "m@x.test");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), format!("http://site.test/back?latch_session={id}"));
    let types = emu.event_types()[before..].to_vec();
    assert_eq!(
        types,
        [
            "customer.created",
            "payment_method.attached",
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "payment_intent.succeeded",
            "charge.succeeded",
            "invoice.paid",
            "invoice.payment_succeeded",
            "checkout.session.completed",
        ]
    );
    let s = emu
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=subscription&expand[]=customer&expand[]=subscription.latest_invoice"
        ))
        .ok();
    assert_eq!(s["status"], "complete");
    assert_eq!(s["payment_status"], "paid");
    assert_eq!(s["url"], serde_json::Value::Null);
    assert_eq!(s["customer"]["email"], "m@x.test");
    assert_eq!(s["customer_details"]["email"], "m@x.test");
    let sub = &s["subscription"];
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["metadata"]["latch_product"], "pro");
    assert_eq!(sub["items"]["data"][0]["price"]["id"], price.as_str());
    let item = &sub["items"]["data"][0];
    assert!(item["current_period_end"].as_i64().unwrap() > item["current_period_start"].as_i64().unwrap() + 27 * 86400);
    assert_eq!(sub["latest_invoice"]["status"], "paid");
    assert_eq!(sub["latest_invoice"]["amount_paid"], 900);
    assert_eq!(sub["latest_invoice"]["parent"]["subscription_details"]["subscription"], sub["id"]);
    // The page for a paid session says so.
    let again = request("GET", &format!("{}/checkout/pay/{id}", emu.url), &[], "");
    assert!(again.body.contains("already been paid"));
    let twice = emu.pay(&cs, "4242424242424242", "m@x.test");
    assert!(twice.body.contains("already been paid"));
    assert_eq!(emu.get("/v1/customers").ok()["data"].as_array().unwrap().len(), 1);
}

#[test]
fn trial_subscription_is_free_now_and_trialing() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Pro", 900, Some("month"));
    let cs = sub_session(&emu, &price, "&subscription_data[trial_period_days]=7");
    emu.pay(&cs, "4242 4242 4242 4242", "t@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=subscription", cs["id"].as_str().unwrap())).ok();
    assert_eq!(s["payment_status"], "no_payment_required");
    assert_eq!(s["amount_total"], 0);
    let sub = &s["subscription"];
    assert_eq!(sub["status"], "trialing");
    let trial_end = sub["trial_end"].as_i64().unwrap();
    assert_eq!(trial_end - sub["trial_start"].as_i64().unwrap(), 7 * 86400);
    assert_eq!(sub["items"]["data"][0]["current_period_end"], trial_end);
    let inv = emu.get(&format!("/v1/invoices/{}", sub["latest_invoice"].as_str().unwrap())).ok();
    assert_eq!(inv["amount_due"], 0);
    assert_eq!(inv["status"], "paid");
    assert!(emu.get("/v1/charges").ok()["data"].as_array().unwrap().is_empty());
}

#[test]
fn payment_mode_creates_intent_and_charge() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    let cs = emu.session(&format!(
        "mode=payment&line_items[0][price]={price}&customer_creation=always&payment_intent_data[metadata][latch_site]=s1&success_url={}",
        enc("http://site.test/ok")
    ));
    let before = emu.event_types().len();
    let r = emu.pay(&cs, "4242424242424242", "b@x.test");
    assert_eq!(r.header("location"), Some("http://site.test/ok"));
    assert_eq!(
        emu.event_types()[before..],
        ["customer.created", "payment_intent.succeeded", "charge.succeeded", "checkout.session.completed"]
    );
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap())).ok();
    assert_eq!(s["payment_status"], "paid");
    let pi = &s["payment_intent"];
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 2500);
    assert_eq!(pi["metadata"]["latch_site"], "s1");
    let ch = emu.get(&format!("/v1/charges/{}", pi["latest_charge"].as_str().unwrap())).ok();
    assert_eq!(ch["paid"], true);
    assert_eq!(ch["customer"], s["customer"]);
    assert_eq!(ch["billing_details"]["email"], "b@x.test");
}

#[test]
fn payment_mode_makes_a_customer_only_when_asked() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    let cs =
        emu.session(&format!("mode=payment&line_items[0][price]={price}&success_url={}", enc("http://site.test/ok")));
    assert_eq!(cs["customer_creation"], "if_required");
    let before = emu.event_types().len();
    emu.pay(&cs, "4242424242424242", "guest@x.test");
    assert_eq!(
        emu.event_types()[before..],
        ["payment_intent.succeeded", "charge.succeeded", "checkout.session.completed"]
    );
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap())).ok();
    assert_eq!(s["customer"], serde_json::Value::Null);
    assert_eq!(s["customer_details"]["email"], "guest@x.test");
    assert_eq!(s["payment_intent"]["customer"], serde_json::Value::Null);
    assert!(emu.get("/v1/customers").ok()["data"].as_array().unwrap().is_empty());
    let cus = emu.post("/v1/customers", "email=known%40x.test").ok();
    let both = format!(
        "mode=payment&line_items[0][price]={price}&customer={}&customer_creation=always",
        cus["id"].as_str().unwrap()
    );
    assert_eq!(emu.post("/v1/checkout/sessions", &both).json()["error"]["param"], "customer_creation");
}

#[test]
fn a_bank_debit_completes_unpaid_then_settles_or_fails() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    for (iban, settles, session_event) in [
        ("DE89 3704 0044 0532 0130 00", true, "checkout.session.async_payment_succeeded"),
        ("DE62370400440532013001", false, "checkout.session.async_payment_failed"),
    ] {
        let cs =
            emu.session(&format!("mode=payment&line_items[0][price]={price}&success_url={}", enc("http://x.test/")));
        let before = emu.event_types().len();
        emu.pay(&cs, iban, "debit@x.test");
        let path = format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap());
        let done = emu.get(&path).ok();
        assert_eq!((done["status"].as_str(), done["payment_status"].as_str()), (Some("complete"), Some("unpaid")));
        assert_eq!(done["payment_intent"]["status"], "processing");
        assert_eq!(
            emu.event_types()[before..],
            ["payment_intent.processing", "charge.pending", "checkout.session.completed"]
        );
        let before = emu.event_types().len();
        emu.advance(5);
        let (charge_event, intent_event) = if settles {
            ("charge.succeeded", "payment_intent.succeeded")
        } else {
            ("charge.failed", "payment_intent.payment_failed")
        };
        assert_eq!(emu.event_types()[before..], [charge_event, intent_event, session_event]);
        let settled = emu.get(&path).ok();
        assert_eq!(settled["payment_status"], if settles { "paid" } else { "unpaid" });
        assert_eq!(settled["payment_intent"]["status"], if settles { "succeeded" } else { "requires_payment_method" });
    }
    let sub_price = emu.price("Pro", 900, Some("month"));
    let cs = emu.session(&format!("mode=subscription&line_items[0][price]={sub_price}"));
    assert_eq!(emu.pay(&cs, "DE89370400440532013000", "debit@x.test").status, 400, "bank debits: payment mode only");
}

#[test]
fn setup_mode_saves_a_card_for_an_existing_customer() {
    let emu = Emulator::start(&[]);
    let cus = emu.post("/v1/customers", "email=s%40x.test").ok();
    let cid = cus["id"].as_str().unwrap();
    let cs = emu.session(&format!(
        "mode=setup&currency=usd&customer={cid}&setup_intent_data[metadata][latch_site]=s1&success_url={}",
        enc("http://site.test/ok")
    ));
    let wrong_mode = emu.post("/v1/checkout/sessions", "mode=setup&currency=usd&payment_intent_data[metadata][a]=b");
    assert_eq!(wrong_mode.status, 400);
    let page = request("GET", cs["url"].as_str().unwrap(), &[], "");
    assert!(page.body.contains("Save card"));
    let before = emu.event_types().len();
    let r = emu.pay(&cs, "4242424242424242", "");
    assert_eq!(r.status, 303);
    assert_eq!(
        emu.event_types()[before..],
        ["payment_method.attached", "setup_intent.created", "setup_intent.succeeded", "checkout.session.completed"]
    );
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=setup_intent", cs["id"].as_str().unwrap())).ok();
    assert_eq!(s["payment_status"], "no_payment_required");
    assert_eq!(s["customer"], cid);
    assert_eq!(s["setup_intent"]["status"], "succeeded");
    assert_eq!(s["setup_intent"]["metadata"]["latch_site"], "s1");
    let pms = emu.get(&format!("/v1/customers/{cid}/payment_methods")).ok();
    assert_eq!(pms["data"][0]["id"], s["setup_intent"]["payment_method"]);
    assert_eq!(pms["data"][0]["card"]["last4"], "4242");
}

#[test]
fn expired_session_page_and_control_pay() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 100, None);
    let cs =
        emu.session(&format!("mode=payment&line_items[0][price]={price}&cancel_url={}", enc("http://site.test/c")));
    let id = cs["id"].as_str().unwrap();
    emu.advance(25 * 3600);
    let page = request("GET", &format!("{}/checkout/pay/{id}", emu.url), &[], "");
    assert!(page.body.contains("expired"));
    assert!(page.body.contains("href=\"http://site.test/c\""));
    assert_eq!(emu.get(&format!("/v1/checkout/sessions/{id}")).ok()["status"], "expired");
    // Control API pay: decline answers Stripe's card error shape.
    let cs2 = emu.session(&format!("mode=payment&line_items[0][price]={price}"));
    let id2 = cs2["id"].as_str().unwrap();
    let r = emu.control(
        &format!("/_emulator/checkout/sessions/{id2}/pay"),
        r#"{"card":"4000000000000002","email":"c@x.test"}"#,
    );
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["error"]["type"], "card_error");
    assert_eq!(r.json()["error"]["decline_code"], "generic_decline");
    let r = emu.control(&format!("/_emulator/checkout/sessions/{id2}/pay"), r#"{"email":"c@x.test"}"#);
    assert_eq!(r.ok()["status"], "complete");
}

#[test]
fn portal_cancels_at_period_end_and_renews() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Pro", 900, Some("month"));
    let cs = sub_session(&emu, &price, "");
    emu.pay(&cs, "4242424242424242", "p@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}", cs["id"].as_str().unwrap())).ok();
    let (cid, sid) = (s["customer"].as_str().unwrap(), s["subscription"].as_str().unwrap());
    let bps = emu
        .post("/v1/billing_portal/sessions", &format!("customer={cid}&return_url={}", enc("http://site.test/account")))
        .ok();
    assert_eq!(bps["object"], "billing_portal.session");
    let url = bps["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/portal/bps_", emu.url)));
    let page = request("GET", url, &[], "");
    assert!(page.body.contains(&format!("id=\"cancel-{sid}\"")));
    assert!(page.body.contains("id=\"return\" href=\"http://site.test/account\""));
    assert!(page.body.contains("p@x.test"));
    let before = emu.event_types().len();
    let r = emu.page_post(&format!("{url}/subscriptions/{sid}/cancel"), "");
    assert_eq!(r.status, 303);
    let sub = emu.get(&format!("/v1/subscriptions/{sid}")).ok();
    assert_eq!(sub["cancel_at_period_end"], true);
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["cancel_at"], sub["items"]["data"][0]["current_period_end"]);
    assert_eq!(emu.event_types()[before..], ["customer.subscription.updated"]);
    let ev = emu.get("/v1/events?type=customer.subscription.updated&limit=1").ok();
    assert_eq!(ev["data"][0]["data"]["previous_attributes"]["cancel_at_period_end"], false);
    let page = request("GET", url, &[], "");
    assert!(page.body.contains(&format!("id=\"renew-{sid}\"")));
    assert!(page.body.contains("Cancels on"));
    emu.page_post(&format!("{url}/subscriptions/{sid}/renew"), "");
    let sub = emu.get(&format!("/v1/subscriptions/{sid}")).ok();
    assert_eq!(sub["cancel_at_period_end"], false);
    assert_eq!(sub["cancel_at"], serde_json::Value::Null);
    // Someone else's subscription cannot be touched from this portal.
    let other = emu.post("/v1/customers", "email=o%40x.test").ok();
    let bps2 = emu.post("/v1/billing_portal/sessions", &format!("customer={}", other["id"].as_str().unwrap())).ok();
    let r = emu.page_post(&format!("{}/subscriptions/{sid}/cancel", bps2["url"].as_str().unwrap()), "");
    assert_eq!(r.status, 404);
    assert_eq!(emu.post("/v1/billing_portal/sessions", "customer=cus_nope").status, 400);
}

#[test]
fn portal_configurations_shape_the_portal_per_account() {
    let emu = Emulator::start(&[]);
    // Stripe's validation: features is required, each sent feature needs `enabled`, URLs must be URLs.
    let r =
        emu.post("/v1/billing_portal/configurations", "business_profile[privacy_policy_url]=https%3A%2F%2Fa.test%2Fp");
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("features")));
    let r = emu.post("/v1/billing_portal/configurations", "features[subscription_cancel][mode]=immediately");
    assert_eq!(r.json()["error"]["param"], "features[subscription_cancel][enabled]");
    let r = emu.post(
        "/v1/billing_portal/configurations",
        "features[invoice_history][enabled]=true&business_profile[terms_of_service_url]=not%20a%20url",
    );
    assert_eq!(r.json()["error"]["code"], "url_invalid");
    assert_eq!(r.json()["error"]["param"], "business_profile[terms_of_service_url]");
    let r = emu.post("/v1/billing_portal/configurations", "features[subscription_cancel][enabled]=maybe");
    assert_eq!(r.json()["error"]["code"], "parameter_invalid_boolean");
    let r = emu.post("/v1/billing_portal/configurations", "features[customer_update][enabled]=true");
    assert_eq!(r.json()["error"]["param"], "features[customer_update][allowed_updates]");

    let form = format!(
        "features[subscription_cancel][enabled]=false&features[invoice_history][enabled]=true\
         &business_profile[privacy_policy_url]={}&business_profile[terms_of_service_url]={}",
        enc("https://site.test/privacy"),
        enc("https://site.test/terms")
    );
    let conf = emu.post("/v1/billing_portal/configurations", &form).ok();
    let bpc = conf["id"].as_str().unwrap().to_string();
    assert!(bpc.starts_with("bpc_"));
    assert_eq!((conf["active"].clone(), conf["is_default"].clone()), (true.into(), false.into()));
    assert_eq!(conf["features"]["subscription_cancel"]["enabled"], false);
    assert_eq!(conf["features"]["invoice_history"]["enabled"], true);
    assert_eq!(emu.get(&format!("/v1/billing_portal/configurations/{bpc}")).ok(), conf);
    assert_eq!(emu.get("/v1/billing_portal/configurations").ok()["data"][0]["id"], bpc.as_str());
    // Per account: another account does not see it.
    emu.connect("acct_other");
    let other = emu.get_with("/v1/billing_portal/configurations", &[("Stripe-Account", "acct_other")]).ok();
    assert_eq!(other["data"].as_array().map(Vec::len), Some(0));
    let r = emu.get_with(&format!("/v1/billing_portal/configurations/{bpc}"), &[("Stripe-Account", "acct_other")]);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("resource_missing")));

    let price = emu.price("Pro", 900, Some("month"));
    let cs = sub_session(&emu, &price, "");
    emu.pay(&cs, "4242424242424242", "q@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}", cs["id"].as_str().unwrap())).ok();
    let (cid, sid) = (s["customer"].as_str().unwrap(), s["subscription"].as_str().unwrap());
    let bps = emu.post("/v1/billing_portal/sessions", &format!("customer={cid}&configuration={bpc}")).ok();
    assert_eq!(bps["configuration"], bpc.as_str());
    let url = bps["url"].as_str().unwrap();
    let page = request("GET", url, &[], "");
    assert!(!page.body.contains(&format!("id=\"cancel-{sid}\"")), "cancelling is off: {}", page.body);
    assert!(page.body.contains("id=\"privacy\" href=\"https://site.test/privacy\""));
    assert!(page.body.contains("id=\"terms\" href=\"https://site.test/terms\""));
    assert_eq!(emu.page_post(&format!("{url}/subscriptions/{sid}/cancel"), "").status, 403);
    assert_eq!(emu.get(&format!("/v1/subscriptions/{sid}")).ok()["cancel_at_period_end"], false);

    // Turning cancelling on shows the button on the next session; an inactive configuration is refused.
    let updated = emu
        .post(&format!("/v1/billing_portal/configurations/{bpc}"), "features[subscription_cancel][enabled]=true")
        .ok();
    assert_eq!(updated["features"]["subscription_cancel"]["enabled"], true);
    assert_eq!(updated["business_profile"]["privacy_policy_url"], "https://site.test/privacy");
    let bps = emu.post("/v1/billing_portal/sessions", &format!("customer={cid}&configuration={bpc}")).ok();
    assert!(request("GET", bps["url"].as_str().unwrap(), &[], "").body.contains(&format!("id=\"cancel-{sid}\"")));
    emu.post(&format!("/v1/billing_portal/configurations/{bpc}"), "active=false").ok();
    let r = emu.post("/v1/billing_portal/sessions", &format!("customer={cid}&configuration={bpc}"));
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("configuration")));
    let r = emu.post("/v1/billing_portal/sessions", &format!("customer={cid}&configuration=bpc_missing"));
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("resource_missing")));
    assert_eq!(emu.get("/v1/billing_portal/configurations?active=false").ok()["data"][0]["id"], bpc.as_str());
    assert_eq!(emu.get("/v1/billing_portal/configurations?active=true").ok()["data"].as_array().map(Vec::len), Some(0));
}
