//! Webhook delivery: Stripe-Signature, retries with backoff, ordering, filters, redelivery, accounts.

mod common;
use common::{Emulator, Receiver, enc};
use latch_stripe_emulator::webhooks::{sign, signature_header};
use serde_json::Value;

fn t_of(header: &str) -> i64 {
    header.split(',').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).unwrap()
}

#[test]
fn signatures_match_stripes_vectors() {
    // Every valid single-v1 case of Stripe's vectors (checked by Stripe's official library).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/stripe/signature-vectors.json");
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        let header = case["header"].as_str().unwrap_or_default();
        if case["kind"] == "valid" && header.matches("v1=").count() == 1 && !header.contains("v0=") {
            let t = t_of(header);
            assert_eq!(
                signature_header(case["secret"].as_str().unwrap(), t, case["payload"].as_str().unwrap()),
                header
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

fn verify(secret: &str, r: &common::Received) -> Value {
    let header = r.header("stripe-signature").expect("Stripe-Signature header");
    let t = t_of(header);
    let v1 = header.split(',').find_map(|p| p.strip_prefix("v1=")).unwrap();
    assert_eq!(v1, sign(secret, t, &r.body), "signature over the raw body");
    assert!((t - latch_stripe_emulator::clock::real_now()).abs() < 60, "t is real time");
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    r.json()
}

#[test]
fn cli_endpoint_gets_every_event_signed_in_order() {
    let rx = Receiver::start(0);
    let secret = "whsec_cli_test_secret";
    let emu = Emulator::start(&["--webhook", &format!("{}={secret}", rx.url)]);
    let price = emu.price("Pro", 900, Some("month"));
    let cs = emu.session(&format!("mode=subscription&line_items[0][price]={price}&metadata[k]=v"));
    emu.pay(&cs, "4242424242424242", "w@x.test");
    emu.wait_deliveries();
    let got = rx.all();
    let events: Vec<Value> = got.iter().map(|r| verify(secret, r)).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, emu.event_types(), "every event, in order");
    let completed = events.iter().find(|e| e["type"] == "checkout.session.completed").unwrap();
    assert_eq!(completed["object"], "event");
    assert!(completed["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(completed["livemode"], false);
    assert_eq!(completed["pending_webhooks"], 1);
    assert_eq!(completed["data"]["object"]["metadata"]["k"], "v");
    assert_eq!(completed["api_version"], latch_stripe_emulator::API_VERSION);
    assert!(completed.get("account").is_none());
    assert_eq!(completed["request"]["id"], Value::Null, "hosted page payments have no API request");
    let log = common::request("GET", &format!("{}/_emulator/deliveries", emu.url), &[], "").ok();
    assert_eq!(log.as_array().unwrap().len(), got.len());
    assert!(log.as_array().unwrap().iter().all(|d| d["ok"] == true && d["status"] == 200 && d["attempt"] == 1));
}

#[test]
fn failed_deliveries_are_retried_with_backoff() {
    let rx = Receiver::start(3);
    let emu = Emulator::start(&["--retry-base-ms", "50", "--webhook", &format!("{}=whsec_retry", rx.url)]);
    emu.post("/v1/customers", "email=a%40x.test").ok();
    emu.post("/v1/customers", "email=b%40x.test").ok();
    emu.wait_deliveries();
    let got = rx.all();
    assert_eq!(got.len(), 5, "3 failures + 2 successes");
    let ids: Vec<String> = got.iter().map(|r| r.json()["id"].as_str().unwrap().to_string()).collect();
    assert!(ids[..4].iter().all(|i| *i == ids[0]), "the first event is retried before the second goes");
    assert_ne!(ids[4], ids[0]);
    assert_eq!(got[0].body, got[3].body, "same body on retry");
    let log = common::request("GET", &format!("{}/_emulator/deliveries?event_id={}", emu.url, ids[0]), &[], "").ok();
    let attempts: Vec<(i64, bool)> =
        log.as_array().unwrap().iter().map(|d| (d["attempt"].as_i64().unwrap(), d["ok"].as_bool().unwrap())).collect();
    assert_eq!(attempts, vec![(1, false), (2, false), (3, false), (4, true)]);
    let at: Vec<i64> = log.as_array().unwrap().iter().map(|d| d["at_ms"].as_i64().unwrap()).collect();
    assert!(at[1] - at[0] >= 45 && at[2] - at[1] >= 95 && at[3] - at[2] >= 195, "exponential backoff: {at:?}");
}

#[test]
fn gives_up_after_max_attempts_and_wait_times_out() {
    let emu = Emulator::start(&[
        "--retry-base-ms",
        "400",
        "--max-attempts",
        "3",
        "--webhook",
        "http://127.0.0.1:9/closed=whsec_x",
    ]);
    emu.post("/v1/customers", "email=a%40x.test").ok();
    let r = emu.control("/_emulator/deliveries/wait", r#"{"timeout_ms": 50}"#);
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["pending"], 1);
    emu.wait_deliveries();
    let log = common::request("GET", &format!("{}/_emulator/deliveries", emu.url), &[], "").ok();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d["ok"] == false && d["status"].is_null() && d["error"].is_string()));
}

#[test]
fn api_endpoints_filter_events_and_redeliver_duplicates() {
    let rx = Receiver::start(0);
    let emu = Emulator::start(&[]);
    let we = emu
        .post(
            "/v1/webhook_endpoints",
            &format!("url={}&enabled_events[]=checkout.session.completed&enabled_events[]=invoice.paid", enc(&rx.url)),
        )
        .ok();
    let secret = we["secret"].as_str().unwrap();
    let all_rx = Receiver::start(0);
    let all = emu.post("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=*", enc(&all_rx.url))).ok();
    let price = emu.price("Pro", 900, Some("month"));
    let cs = emu.session(&format!("mode=subscription&line_items[0][price]={price}"));
    emu.pay(&cs, "4242424242424242", "w@x.test");
    emu.wait_deliveries();
    let types: Vec<String> = rx.all().iter().map(|r| verify(secret, r)["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, ["invoice.paid", "checkout.session.completed"]);
    assert_eq!(all_rx.all().len(), emu.event_types().len());
    verify(all["secret"].as_str().unwrap(), &all_rx.all()[0]);
    // Redelivery: same id and body, fresh signature.
    let first = rx.all()[1].clone();
    let id = first.json()["id"].as_str().unwrap().to_string();
    let r = emu.control(&format!("/_emulator/events/{id}/redeliver"), "");
    assert_eq!(r.ok()["endpoints"], 2);
    emu.wait_deliveries();
    let again = rx.all()[2].clone();
    assert_eq!(again.body, first.body);
    verify(secret, &again);
    assert_eq!(emu.control("/_emulator/events/evt_nope/redeliver", "").status, 404);
    // Disabled and deleted endpoints get nothing more.
    emu.post(&format!("/v1/webhook_endpoints/{}", we["id"].as_str().unwrap()), "disabled=true").ok();
    emu.delete(&format!("/v1/webhook_endpoints/{}", all["id"].as_str().unwrap())).ok();
    let n = (rx.all().len(), all_rx.all().len());
    emu.control(&format!("/_emulator/events/{id}/redeliver"), "").ok();
    emu.post("/v1/customers", "email=z%40x.test").ok();
    emu.wait_deliveries();
    assert_eq!((rx.all().len(), all_rx.all().len()), n);
}

#[test]
fn connected_account_events_carry_account_and_reach_connect_endpoints() {
    let own_rx = Receiver::start(0);
    let connect_rx = Receiver::start(0);
    let platform_rx = Receiver::start(0);
    let emu = Emulator::start(&[]);
    emu.connect("acct_1SiteOwnerXYZ");
    let acct = [("stripe-account", "acct_1SiteOwnerXYZ")];
    emu.post_with("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=*", enc(&own_rx.url)), &acct).ok();
    emu.post("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=*&connect=true", enc(&connect_rx.url))).ok();
    emu.post("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=*", enc(&platform_rx.url))).ok();
    emu.post_with("/v1/customers", "email=c%40x.test", &acct).ok();
    emu.post("/v1/customers", "email=p%40x.test").ok();
    emu.wait_deliveries();
    let own = own_rx.all();
    let connect = connect_rx.all();
    let platform = platform_rx.all();
    assert_eq!((own.len(), connect.len(), platform.len()), (1, 1, 1));
    assert_eq!(own[0].json()["account"], "acct_1SiteOwnerXYZ");
    assert_eq!(connect[0].json()["account"], "acct_1SiteOwnerXYZ");
    assert!(platform[0].json().get("account").is_none());
}

#[test]
fn each_endpoint_and_request_sees_its_api_versions_shape() {
    let legacy_rx = Receiver::start(0);
    let current_rx = Receiver::start(0);
    let emu = Emulator::start(&[]);
    let legacy = "2024-06-20";
    let form = |url: &str, version: &str| {
        format!(
            "url={}&enabled_events[]=customer.subscription.created&enabled_events[]=invoice.paid{version}",
            enc(url)
        )
    };
    emu.post("/v1/webhook_endpoints", &form(&legacy_rx.url, &format!("&api_version={legacy}"))).ok();
    emu.post("/v1/webhook_endpoints", &form(&current_rx.url, "")).ok();
    let price = emu.price("Pro", 900, Some("month"));
    let cs =
        emu.session(&format!("mode=subscription&line_items[0][price]={price}&success_url={}", enc("http://x.test/")));
    emu.pay(&cs, "4242424242424242", "v@x.test");
    emu.wait_deliveries();
    let by_type = |rx: &Receiver, kind: &str| -> Value {
        rx.all().iter().map(|r| r.json()).find(|e| e["type"] == kind).unwrap_or_else(|| panic!("no {kind}"))
    };
    // Before 2025-03-31.basil: periods on the subscription, the invoice names its subscription, lines carry a price.
    let old_sub = by_type(&legacy_rx, "customer.subscription.created");
    assert_eq!(old_sub["api_version"], legacy);
    assert!(old_sub["data"]["object"]["current_period_end"].is_i64());
    assert!(old_sub["data"]["object"]["items"]["data"][0].get("current_period_end").is_none());
    let old_inv = by_type(&legacy_rx, "invoice.paid");
    let sub_id = old_sub["data"]["object"]["id"].as_str().unwrap();
    assert_eq!(old_inv["data"]["object"]["subscription"], sub_id);
    assert!(old_inv["data"]["object"].get("parent").is_none());
    assert_eq!(old_inv["data"]["object"]["lines"]["data"][0]["price"]["id"], price.as_str());
    // The current shape: periods on items, the invoice's subscription under parent, no top-level subscription.
    let new_sub = by_type(&current_rx, "customer.subscription.created");
    assert_eq!(new_sub["api_version"], latch_stripe_emulator::API_VERSION);
    assert!(new_sub["data"]["object"].get("current_period_end").is_none());
    assert!(new_sub["data"]["object"]["items"]["data"][0]["current_period_end"].is_i64());
    let new_inv = by_type(&current_rx, "invoice.paid");
    assert!(new_inv["data"]["object"].get("subscription").is_none());
    assert_eq!(new_inv["data"]["object"]["parent"]["subscription_details"]["subscription"], sub_id);
    // A request's Stripe-Version shapes its answer the same way.
    let path = format!("/v1/subscriptions/{sub_id}");
    assert!(emu.get_with(&path, &[("stripe-version", legacy)]).ok()["current_period_end"].is_i64());
    assert!(emu.get(&path).ok().get("current_period_end").is_none());
}

#[test]
fn chaos_delivers_late_twice_out_of_order_and_at_once_yet_every_event_arrives() {
    let rx = Receiver::start(0);
    let emu = Emulator::start(&["--retry-base-ms", "20"]);
    emu.post("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=customer.created", enc(&rx.url))).ok();
    let settings = r#"{"seed": 42, "shuffle": 8, "duplicate": 0.4, "concurrency": 4, "delay_ms": [0, 30],
        "drop_first": 0.3, "timeout": 0.3}"#;
    let on = emu.control("/_emulator/chaos", settings).ok();
    assert_eq!(on["*"]["seed"], 42, "the seed is reported so a run can be replayed");
    let created: Vec<String> = (0..24)
        .map(|i| emu.post("/v1/customers", &format!("email=c{i}%40x.test")).ok()["id"].as_str().unwrap().to_string())
        .collect();
    emu.wait_deliveries();
    let got: Vec<String> =
        rx.all().iter().map(|r| r.json()["data"]["object"]["id"].as_str().unwrap().to_string()).collect();
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(unique, expected, "every event arrives at least once");
    assert!(got.len() > created.len(), "some arrive twice: {} for {}", got.len(), created.len());
    let first_seen: Vec<&String> = got.iter().fold(Vec::new(), |mut seen, id| {
        if !seen.contains(&id) {
            seen.push(id);
        }
        seen
    });
    assert_ne!(first_seen.into_iter().cloned().collect::<Vec<_>>(), created, "not in creation order");
    let log = emu.get_deliveries();
    assert!(
        log.iter().any(|d| d["error"].as_str().is_some_and(|e| e.contains("chaos"))),
        "lost and timed-out attempts"
    );

    // Off again: one delivery each, in order.
    emu.control("/_emulator/chaos", r#"{"off": true}"#).ok();
    let before = rx.all().len();
    let calm: Vec<String> = (0..5)
        .map(|i| emu.post("/v1/customers", &format!("email=d{i}%40x.test")).ok()["id"].as_str().unwrap().to_string())
        .collect();
    emu.wait_deliveries();
    let after: Vec<String> =
        rx.all()[before..].iter().map(|r| r.json()["data"]["object"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(after, calm);
    assert_eq!(emu.control("/_emulator/chaos", r#"{"duplicate": 3}"#).status, 400);
}
