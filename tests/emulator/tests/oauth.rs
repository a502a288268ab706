//! Connect OAuth: authorize page, code exchange, access tokens, per-account data, deauthorization.

mod common;
use common::{Emulator, KEY, Receiver, enc, request};
use serde_json::Value;

fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

fn authorize(emu: &Emulator, extra_form: &str) -> String {
    let page = request(
        "GET",
        &format!(
            "{}/oauth/authorize?response_type=code&client_id=ca_latch&scope=read_write&state=st8&redirect_uri={}&stripe_user[email]=o%40x.test",
            emu.url,
            enc("http://edge.test/connect/callback")
        ),
        &[],
        "",
    );
    assert_eq!(page.status, 200, "{}", page.body);
    for id in ["id=\"approve\"", "id=\"deny\"", "id=\"account\"", "value=\"o@x.test\"", "value=\"st8\""] {
        assert!(page.body.contains(id), "authorize page lacks {id}");
    }
    let r = emu.page_post(
        &format!("{}/oauth/authorize", emu.url),
        &format!(
            "client_id=ca_latch&scope=read_write&state=st8&redirect_uri={}&email=o%40x.test&decision=approve{extra_form}",
            enc("http://edge.test/connect/callback")
        ),
    );
    assert_eq!(r.status, 303);
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with("http://edge.test/connect/callback?"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st8"));
    assert_eq!(query_param(&location, "scope").as_deref(), Some("read_write"));
    query_param(&location, "code").expect("code")
}

fn token(emu: &Emulator, form: &str) -> (u16, Value) {
    let r = request(
        "POST",
        &format!("{}/oauth/token", emu.url),
        &[("content-type", "application/x-www-form-urlencoded")],
        &format!("client_secret={KEY}&{form}"),
    );
    (r.status, r.json())
}

#[test]
fn connect_flow_tokens_and_deauthorize() {
    let connect_rx = Receiver::start(0);
    let emu = Emulator::start(&["--client-id", "ca_latch"]);
    emu.post("/v1/webhook_endpoints", &format!("url={}&enabled_events[]=*&connect=true", enc(&connect_rx.url))).ok();
    let code = authorize(&emu, "");
    assert!(code.starts_with("ac_"));
    let (status, tok) = token(&emu, &format!("grant_type=authorization_code&code={code}"));
    assert_eq!(status, 200, "{tok}");
    let acct = tok["stripe_user_id"].as_str().unwrap().to_string();
    assert!(acct.starts_with("acct_"));
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["livemode"], false);
    assert!(tok["access_token"].as_str().unwrap().starts_with("sk_test_"));
    assert!(tok["stripe_publishable_key"].as_str().unwrap().starts_with("pk_test_"));
    // Codes are single-use; unknown codes fail.
    let (status, err) = token(&emu, &format!("grant_type=authorization_code&code={code}"));
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(token(&emu, "grant_type=authorization_code&code=ac_nope").1["error"], "invalid_grant");
    assert_eq!(token(&emu, "grant_type=password").1["error"], "unsupported_grant_type");
    let bad = request("POST", &format!("{}/oauth/token", emu.url), &[], "grant_type=authorization_code&code=x");
    assert_eq!(bad.status, 401);
    // The platform key + Stripe-Account and the access token both act on the connected account.
    let h = [("stripe-account", acct.as_str())];
    let prod = emu.post_with("/v1/products", "name=Owner+product", &h).ok();
    let access = format!("Bearer {}", tok["access_token"].as_str().unwrap());
    let via_token = request(
        "GET",
        &format!("{}/v1/products/{}", emu.url, prod["id"].as_str().unwrap()),
        &[("authorization", &access)],
        "",
    );
    assert_eq!(via_token.ok()["name"], "Owner product");
    assert_eq!(emu.get(&format!("/v1/accounts/{acct}")).ok()["email"], "o@x.test");
    let refreshed =
        token(&emu, &format!("grant_type=refresh_token&refresh_token={}", tok["refresh_token"].as_str().unwrap()));
    assert_eq!(refreshed.1["stripe_user_id"], acct.as_str());
    // Deauthorize: event to Connect endpoints, then access is refused.
    let r = request(
        "POST",
        &format!("{}/oauth/deauthorize", emu.url),
        &[("authorization", &format!("Bearer {KEY}"))],
        &format!("client_id=ca_latch&stripe_user_id={acct}"),
    );
    assert_eq!(r.ok()["stripe_user_id"], acct.as_str());
    emu.wait_deliveries();
    let types: Vec<(String, String)> = connect_rx
        .all()
        .iter()
        .map(|r| {
            let e = r.json();
            (e["type"].as_str().unwrap().to_string(), e["account"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(types.first().unwrap(), &("account.application.authorized".to_string(), acct.clone()));
    assert_eq!(types.last().unwrap(), &("account.application.deauthorized".to_string(), acct.clone()));
    assert_eq!(emu.get_with("/v1/products", &h).status, 403);
    assert_eq!(request("GET", &format!("{}/v1/products", emu.url), &[("authorization", &access)], "").status, 401);
    let again = request(
        "POST",
        &format!("{}/oauth/deauthorize", emu.url),
        &[("authorization", &format!("Bearer {KEY}"))],
        &format!("client_id=ca_latch&stripe_user_id={acct}"),
    );
    assert_eq!(again.status, 401);
    // Reconnecting the same account restores access, data included.
    let code = authorize(&emu, &format!("&account={acct}"));
    assert_eq!(token(&emu, &format!("grant_type=authorization_code&code={code}")).1["stripe_user_id"], acct.as_str());
    assert_eq!(emu.get_with("/v1/products", &h).ok()["data"].as_array().unwrap().len(), 1);
}

#[test]
fn deny_and_bad_requests() {
    let emu = Emulator::start(&["--client-id", "ca_latch", "--oauth-redirect-uri", "http://edge.test/cb"]);
    let r = emu.page_post(&format!("{}/oauth/authorize", emu.url), "client_id=ca_latch&state=s1&decision=deny");
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with("http://edge.test/cb?"));
    assert_eq!(query_param(loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(loc, "state").as_deref(), Some("s1"));
    let wrong = request("GET", &format!("{}/oauth/authorize?response_type=code&client_id=ca_other", emu.url), &[], "");
    assert_eq!(wrong.status, 400);
    let no_type = request("GET", &format!("{}/oauth/authorize?client_id=ca_latch", emu.url), &[], "");
    assert_eq!(no_type.status, 400);
    let ok = request("GET", &format!("{}/oauth/authorize?response_type=code&client_id=ca_latch", emu.url), &[], "");
    assert_eq!(ok.status, 200);
}
