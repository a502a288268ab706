//! The API surface over HTTP: auth, errors, catalog, pagination, idempotency, accounts, checkout validation.

mod common;
use common::{Emulator, KEY, request};
use serde_json::json;

#[test]
fn auth_errors_have_stripes_shape() {
    let emu = Emulator::start(&[]);
    let missing = request("GET", &format!("{}/v1/products", emu.url), &[], "");
    assert_eq!(missing.status, 401);
    let e = missing.json();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap().starts_with("You did not provide an API key."));
    let wrong =
        request("GET", &format!("{}/v1/products", emu.url), &[("authorization", "Bearer sk_test_nope1234")], "");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"]["message"], "Invalid API Key provided: sk_test_****1234");
    // Basic auth with the key as user name, as Stripe accepts (and curl -u sends).
    let basic = format!("Basic {}", b64(&format!("{KEY}:")));
    let ok = request("GET", &format!("{}/v1/products", emu.url), &[("authorization", &basic)], "");
    assert_eq!(ok.status, 200, "{}", ok.body);
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn products_and_prices_crud_with_lookup_keys() {
    let emu = Emulator::start(&[]);
    let prod = emu.post("/v1/products", "name=Course&metadata[slug]=course&description=Learn").ok();
    assert_eq!(prod["object"], "product");
    assert_eq!(prod["metadata"]["slug"], "course");
    let id = prod["id"].as_str().unwrap();
    assert!(id.starts_with("prod_"));
    let upd = emu.post(&format!("/v1/products/{id}"), "name=Course+2&metadata[slug]=").ok();
    assert_eq!(upd["name"], "Course 2");
    assert_eq!(upd["metadata"], json!({}));
    let price = emu
        .post(
            "/v1/prices",
            &format!("product={id}&currency=usd&unit_amount=900&recurring[interval]=month&recurring[interval_count]=3&lookup_key=course-q"),
        )
        .ok();
    assert_eq!(price["type"], "recurring");
    assert_eq!(price["recurring"]["interval_count"], 3);
    assert_eq!(price["unit_amount_decimal"], "900");
    // Same lookup key without transfer: error; with transfer: moves.
    let dup = emu.post("/v1/prices", &format!("product={id}&currency=usd&unit_amount=1000&lookup_key=course-q"));
    assert_eq!(dup.status, 400);
    assert_eq!(dup.json()["error"]["param"], "lookup_key");
    let moved = emu
        .post(
            "/v1/prices",
            &format!("product={id}&currency=usd&unit_amount=1000&lookup_key=course-q&transfer_lookup_key=true"),
        )
        .ok();
    let list = emu.get("/v1/prices?lookup_keys[]=course-q").ok();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], moved["id"]);
    assert_eq!(list["url"], "/v1/prices");
    let old = emu.get(&format!("/v1/prices/{}", price["id"].as_str().unwrap())).ok();
    assert_eq!(old["lookup_key"], serde_json::Value::Null);
    // Filters.
    let one_time = emu.post("/v1/prices", &format!("product={id}&currency=usd&unit_amount=5000")).ok();
    assert_eq!(one_time["type"], "one_time");
    assert_eq!(one_time["recurring"], serde_json::Value::Null);
    let by_type = emu.get("/v1/prices?type=one_time").ok();
    assert_eq!(by_type["data"].as_array().unwrap().len(), 2, "the moved price and this one");
    emu.post(&format!("/v1/prices/{}", one_time["id"].as_str().unwrap()), "active=false").ok();
    let active = emu.get(&format!("/v1/prices?product={id}&active=true")).ok();
    assert_eq!(active["data"].as_array().unwrap().len(), 2);
    let expanded = emu.get(&format!("/v1/prices/{}?expand[]=product", moved["id"].as_str().unwrap())).ok();
    assert_eq!(expanded["product"]["name"], "Course 2");
    // product_data creates the product inline.
    let inline = emu.post("/v1/prices", "currency=eur&unit_amount=100&product_data[name]=Inline").ok();
    assert!(inline["product"].as_str().unwrap().starts_with("prod_"));
}

#[test]
fn errors_missing_unknown_invalid_and_not_found() {
    let emu = Emulator::start(&[]);
    let r = emu.get("/v1/prices/price_nope");
    assert_eq!(r.status, 404);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "resource_missing");
    assert_eq!(e["message"], "No such price: 'price_nope'");
    assert_eq!(e["param"], "id");
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(e["doc_url"], "https://stripe.com/docs/error-codes/resource-missing");
    let r = emu.post("/v1/products", "");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "parameter_missing");
    assert_eq!(r.json()["error"]["param"], "name");
    let r = emu.post("/v1/products", "name=x&bogus=1");
    assert_eq!(r.json()["error"]["code"], "parameter_unknown");
    assert_eq!(r.json()["error"]["param"], "bogus");
    let r = emu.post("/v1/prices", "currency=usd&unit_amount=ten&product=prod_x");
    assert_eq!(r.json()["error"]["code"], "parameter_invalid_integer");
    // An object named in a parameter is missing: 400 naming the parameter (a missing URL id is the 404).
    let r = emu.post("/v1/prices", "currency=usd&unit_amount=10&product=prod_x");
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("resource_missing")));
    assert_eq!(r.json()["error"]["param"], "product");
    assert_eq!(r.json()["error"]["message"], "No such product: 'prod_x'");
    let r = emu.post("/v1/billing_portal/sessions", "customer=cus_gone");
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("customer")));
    assert_eq!(emu.get("/v1/products/prod_x").status, 404);
    // Unknown query parameters on GET are refused, lists and single objects alike.
    let r = emu.get("/v1/customers?emial=a%40x.test");
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("parameter_unknown")));
    assert_eq!(r.json()["error"]["param"], "emial");
    assert_eq!(emu.get("/v1/products/prod_x?limit=3").json()["error"]["code"], "parameter_unknown");
    // Currencies come from Stripe's list.
    let r = emu.post("/v1/prices", "currency=xyz&unit_amount=10&product_data[name]=P");
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("currency")));
    assert!(r.json()["error"]["message"].as_str().unwrap().starts_with("Invalid currency: xyz."));
    assert_eq!(emu.post("/v1/prices", "currency=EUR&unit_amount=10&product_data[name]=P").ok()["currency"], "eur");
    // Metadata: at most 50 keys, keys up to 40 characters, values up to 500.
    let long_value = "v".repeat(501);
    let r = emu.post("/v1/customers", &format!("metadata[note]={long_value}"));
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("metadata[note]")));
    emu.post("/v1/customers", &format!("metadata[note]={}", "v".repeat(500))).ok();
    let fifty: String = (0..50).map(|i| format!("metadata[k{i}]=v&")).collect();
    let cus = emu.post("/v1/customers", &fifty).ok();
    let r = emu.post(&format!("/v1/customers/{}", cus["id"].as_str().unwrap()), "metadata[one_more]=v");
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("metadata")));
    let r = emu.get("/v1/nothing_here");
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]["message"].as_str().unwrap().starts_with("Unrecognized request URL (GET: /v1/nothing_here)")
    );
    let r = emu.post("/v1/products", "a=1&a[b]=2");
    assert_eq!(r.status, 400);
    let r = request(
        "POST",
        &format!("{}/v1/products", emu.url),
        &[("authorization", &format!("Bearer {KEY}")), ("content-type", "application/json")],
        "{\"name\":\"x\"}",
    );
    assert_eq!(r.status, 400);
    assert!(r.header("request-id").unwrap().starts_with("req_"));
}

#[test]
fn pagination_newest_first_with_cursors() {
    let emu = Emulator::start(&[]);
    let ids: Vec<String> = (0..7)
        .map(|i| emu.post("/v1/customers", &format!("email=c{i}%40x.test")).ok()["id"].as_str().unwrap().to_string())
        .collect();
    let first = emu.get("/v1/customers?limit=3").ok();
    let got: Vec<&str> = first["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[6].as_str(), ids[5].as_str(), ids[4].as_str()]);
    assert_eq!(first["has_more"], true);
    let second = emu.get(&format!("/v1/customers?limit=3&starting_after={}", ids[4])).ok();
    assert_eq!(second["data"][0]["id"], ids[3].as_str());
    assert_eq!(second["has_more"], true);
    let last = emu.get(&format!("/v1/customers?limit=3&starting_after={}", ids[1])).ok();
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["has_more"], false);
    let before = emu.get(&format!("/v1/customers?limit=2&ending_before={}", ids[2])).ok();
    let got: Vec<&str> = before["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(emu.get("/v1/customers?limit=0").status, 400);
    assert_eq!(emu.get("/v1/customers?limit=101").status, 400);
    assert_eq!(emu.get("/v1/customers?starting_after=cus_nope").status, 404);
    let by_email = emu.get("/v1/customers?email=c3%40x.test").ok();
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["data"][0]["id"], ids[3].as_str());
}

#[test]
fn idempotency_keys_replay_or_conflict() {
    let emu = Emulator::start(&[]);
    let a = emu.post_with("/v1/customers", "email=a%40x.test", &[("idempotency-key", "k1")]);
    let b = emu.post_with("/v1/customers", "email=a%40x.test", &[("idempotency-key", "k1")]);
    assert_eq!(a.ok()["id"], b.ok()["id"]);
    assert_eq!(b.header("idempotent-replayed"), Some("true"));
    let c = emu.post_with("/v1/customers", "email=b%40x.test", &[("idempotency-key", "k1")]);
    assert_eq!(c.status, 400);
    assert_eq!(c.json()["error"]["type"], "idempotency_error");
    let list = emu.get("/v1/customers").ok();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Events carry the request id and key.
    let ev = emu.get("/v1/events?type=customer.created").ok();
    assert_eq!(ev["data"][0]["request"]["idempotency_key"], "k1");
    assert!(ev["data"][0]["request"]["id"].as_str().unwrap().starts_with("req_"));
}

#[test]
fn connected_accounts_have_separate_data() {
    let emu = Emulator::start(&[]);
    let never_connected = emu.get_with("/v1/products", &[("stripe-account", "acct_1ConnectedAAAA")]);
    assert_eq!(
        (never_connected.status, never_connected.json()["error"]["code"].as_str()),
        (403, Some("account_invalid"))
    );
    emu.connect("acct_1ConnectedAAAA");
    let acct = [("stripe-account", "acct_1ConnectedAAAA")];
    let p = emu.post_with("/v1/products", "name=Theirs", &acct).ok();
    let pid = p["id"].as_str().unwrap();
    assert_eq!(emu.get(&format!("/v1/products/{pid}")).status, 404);
    assert_eq!(emu.get_with(&format!("/v1/products/{pid}"), &acct).ok()["name"], "Theirs");
    assert_eq!(emu.get("/v1/products").ok()["data"].as_array().unwrap().len(), 0);
    let ev = emu.get_with("/v1/events", &acct).ok();
    assert_eq!(ev["data"][0]["account"], "acct_1ConnectedAAAA");
    assert_eq!(emu.get_with("/v1/products", &[("stripe-account", "bogus")]).status, 403);
    let me = emu.get("/v1/account").ok();
    assert!(me["id"].as_str().unwrap().starts_with("acct_"));
}

#[test]
fn checkout_session_validation() {
    let emu = Emulator::start(&[]);
    let monthly = emu.price("Pro", 900, Some("month"));
    let once = emu.price("Book", 2500, None);
    let cases = [
        ("line_items[0][price]=x", "mode"),
        ("mode=nope&line_items[0][price]=x", "mode"),
        ("mode=payment", "line_items"),
        (&format!("mode=payment&line_items[0][price]={monthly}") as &str, "line_items[0][price]"),
        (&format!("mode=subscription&line_items[0][price]={once}"), "line_items"),
        ("mode=payment&line_items[0][price]=price_missing", "line_items[0][price]"),
        (&format!("mode=payment&line_items[0][price]={once}&customer=cus_nope"), "customer"),
        (&format!("mode=payment&line_items[0][price]={once}&customer=cus_x&customer_email=a%40b.c"), "customer_email"),
        (&format!("mode=payment&line_items[0][price]={once}&success_url=notaurl"), "success_url"),
        (
            &format!("mode=payment&line_items[0][price]={once}&subscription_data[trial_period_days]=7"),
            "subscription_data",
        ),
        (
            &format!("mode=subscription&line_items[0][price]={monthly}&subscription_data[trial_period_days]=0"),
            "subscription_data[trial_period_days]",
        ),
        (&format!("mode=payment&line_items[0][price]={once}&line_items[0][quantity]=0"), "line_items[0][quantity]"),
        (&format!("mode=payment&line_items[0][price]={once}&customer_creation=sometimes"), "customer_creation"),
        (&format!("mode=payment&line_items[0][price]={once}&currency=zzz"), "currency"),
    ];
    for (form, param) in cases {
        let r = emu.post("/v1/checkout/sessions", form);
        assert_eq!(r.status, 400, "{form}: {}", r.body);
        assert_eq!(r.json()["error"]["param"], param, "{form}: {}", r.body);
    }
    let ok = emu.session(&format!(
        "mode=payment&line_items[0][price]={once}&line_items[0][quantity]=2&customer_email=a%40b.co&client_reference_id=site_1\
         &metadata[latch_site]=site_1&allow_promotion_codes=true&billing_address_collection=required\
         &success_url=https%3A%2F%2Fsite.test%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D&cancel_url=https%3A%2F%2Fsite.test%2Fno"
    ));
    assert_eq!(ok["object"], "checkout.session");
    assert_eq!(ok["amount_total"], 5000);
    assert_eq!(ok["currency"], "usd");
    assert_eq!(ok["status"], "open");
    assert_eq!(ok["payment_status"], "unpaid");
    assert_eq!(ok["allow_promotion_codes"], true);
    assert_eq!(ok["billing_address_collection"], "required");
    assert_eq!(ok["client_reference_id"], "site_1");
    assert_eq!(ok["metadata"]["latch_site"], "site_1");
    assert_eq!(ok["success_url"], "https://site.test/ok?s={CHECKOUT_SESSION_ID}");
    assert!(ok.get("_line_items").is_none(), "private fields leak");
    let id = ok["id"].as_str().unwrap();
    assert_eq!(ok["url"], format!("{}/checkout/pay/{id}", emu.url));
    let items = emu.get(&format!("/v1/checkout/sessions/{id}/line_items")).ok();
    assert_eq!(items["data"][0]["quantity"], 2);
    assert_eq!(items["data"][0]["price"]["id"], once.as_str());
    assert_eq!(items["data"][0]["description"], "Book");
    let expired = emu.post(&format!("/v1/checkout/sessions/{id}/expire"), "").ok();
    assert_eq!(expired["status"], "expired");
    assert_eq!(emu.post(&format!("/v1/checkout/sessions/{id}/expire"), "").status, 400);
    let list = emu.get("/v1/checkout/sessions?status=expired").ok();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Stripe's minimum charge: a payment under $0.50 cannot start; a free trial or a free plan can.
    let tiny = emu.price("Sticker", 30, None);
    let r = emu.post("/v1/checkout/sessions", &format!("mode=payment&line_items[0][price]={tiny}"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        "The Checkout Session's total amount due must add up to at least $0.50 usd"
    );
    emu.session(&format!("mode=payment&line_items[0][price]={tiny}&line_items[0][quantity]=2"));
    let tiny_monthly = emu.price("Tip jar", 10, Some("month"));
    emu.session(&format!(
        "mode=subscription&line_items[0][price]={tiny_monthly}&subscription_data[trial_period_days]=7"
    ));
    assert_eq!(
        emu.post("/v1/checkout/sessions", &format!("mode=subscription&line_items[0][price]={tiny_monthly}")).status,
        400
    );
    let r = emu.post(
        "/v1/checkout/sessions",
        &format!("mode=subscription&line_items[0][price]={monthly}&customer_creation=always"),
    );
    assert_eq!(r.json()["error"]["message"], "`customer_creation` can only be used in `payment` mode.");
    let setup = emu.session("mode=setup&currency=usd&success_url=https%3A%2F%2Fsite.test%2Fok");
    assert_eq!(setup["payment_status"], "no_payment_required");
    assert_eq!(setup["amount_total"], serde_json::Value::Null);
    assert!(
        emu.get("/v1/events").ok()["data"].as_array().unwrap().iter().any(|e| e["type"] == "checkout.session.expired")
    );
}

#[test]
fn webhook_endpoints_crud() {
    let emu = Emulator::start(&[]);
    let r = emu.post(
        "/v1/webhook_endpoints",
        "url=http%3A%2F%2F127.0.0.1%3A9%2Fh&enabled_events[]=invoice.paid&enabled_events[]=checkout.session.completed",
    );
    let we = r.ok();
    assert!(we["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(we["enabled_events"], json!(["invoice.paid", "checkout.session.completed"]));
    let id = we["id"].as_str().unwrap();
    let got = emu.get(&format!("/v1/webhook_endpoints/{id}")).ok();
    assert!(got.get("secret").is_none());
    assert!(got.get("_secret").is_none());
    let upd = emu.post(&format!("/v1/webhook_endpoints/{id}"), "disabled=true").ok();
    assert_eq!(upd["status"], "disabled");
    assert_eq!(emu.get("/v1/webhook_endpoints").ok()["data"].as_array().unwrap().len(), 1);
    let del = emu.delete(&format!("/v1/webhook_endpoints/{id}")).ok();
    assert_eq!(del, json!({"id": id, "object": "webhook_endpoint", "deleted": true}));
    assert_eq!(emu.get(&format!("/v1/webhook_endpoints/{id}")).status, 404);
    assert_eq!(emu.get("/v1/webhook_endpoints").ok()["data"].as_array().unwrap().len(), 0);
    assert_eq!(emu.post("/v1/webhook_endpoints", "url=http%3A%2F%2Fx.test").status, 400);
}

#[test]
fn hostile_input_gets_errors_not_crashes() {
    let emu = Emulator::start(&[]);
    let price = emu.price("P", 100, Some("month"));
    let huge = "9".repeat(30);
    let cases = [
        ("/v1/products", "a[]=1&a[18446744073709551615]=x".to_string()),
        ("/v1/products", "name[x][y][z]=1".to_string()),
        ("/v1/prices", format!("currency=usd&unit_amount={}&product_data[name]=x", i64::MAX)),
        ("/v1/prices", "currency=usd&unit_amount_decimal=1e308&product_data[name]=x".to_string()),
        (
            "/v1/prices",
            format!(
                "currency=usd&unit_amount=1&product_data[name]=x&recurring[interval]=month&recurring[interval_count]={huge}"
            ),
        ),
        (
            "/v1/checkout/sessions",
            format!("mode=subscription&line_items[0][price]={price}&line_items[0][quantity]={}", i64::MAX),
        ),
        ("/v1/checkout/sessions", format!("mode=subscription&line_items[0][price]={price}&expires_at={}", i64::MIN)),
        ("/v1/checkout/sessions", "mode=payment&line_items=abc".to_string()),
        ("/v1/checkout/sessions", "mode=payment&line_items[0]=abc".to_string()),
        ("/v1/refunds", "charge[x]=1".to_string()),
        ("/v1/customers", "metadata[k][nested]=1".to_string()),
    ];
    for (path, form) in cases {
        let r = emu.post(path, &form);
        assert!((400..500).contains(&r.status), "{path} {form}: {} {}", r.status, r.body);
        assert!(r.json()["error"]["message"].is_string());
    }
    let r = emu.get("/v1/customers?limit=99999999999999999999999&created[gte]=x");
    assert_eq!(r.status, 400);
    let adv = emu.control("/_emulator/clock/advance", &format!("{{\"seconds\": {}}}", i64::MAX));
    assert_eq!(adv.status, 400);
    let adv = emu.control("/_emulator/clock/advance", &format!("{{\"to\": {}}}", i64::MIN));
    assert_eq!(adv.status, 400);
    // Still serving.
    assert_eq!(emu.get("/v1/products").status, 200);
}
