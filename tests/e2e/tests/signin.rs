//! Member sign-in end to end against real `wrangler dev` (workerd + local D1) and the Stripe emulator: a member
//! who bought in one browser signs in through the widget's dialog in a fresh one, with the code read from the dev
//! outbox; and the attacks over HTTP (reused code, burned code, unknown email, another site's token, sign-out
//! everywhere, rate limits). Screenshots go to target/e2e-screenshots/.

use std::time::Duration;

use latch_e2e::browser::{axe_violations, browser, click, fill, holds, screenshot, start_driver, wait_js};
use latch_e2e::{DEMO_SITE, Stack, StackOptions, base64_url_decode, base64_url_encode};
use serde_json::{Value, json};

const OTHER_SITE: &str = "site_other";
const OTHER_ORIGIN: &str = "https://other.example";

/// A raw answer: status and body bytes.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("JSON answer ({e}): {}", self.body))
    }
}

fn call(req: ureq::Request, body: Option<&Value>) -> Answer {
    let resp = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
        None => req.call(),
    };
    match resp {
        Ok(r) => Answer { status: r.status(), body: r.into_string().expect("body") },
        Err(ureq::Error::Status(status, r)) => Answer { status, body: r.into_string().expect("body") },
        Err(e) => panic!("request failed: {e}"),
    }
}

fn post(stack: &Stack, path: &str, body: &Value) -> Answer {
    call(ureq::post(&format!("{}{path}", stack.edge_url)), Some(body))
}

fn post_bearer(stack: &Stack, path: &str, token: &str, body: &Value) -> Answer {
    call(ureq::post(&format!("{}{path}", stack.edge_url)).set("Authorization", &format!("Bearer {token}")), Some(body))
}

fn access(stack: &Stack, token: &str, origin: Option<&str>) -> Answer {
    let mut req = ureq::get(&format!("{}/v1/access", stack.edge_url)).set("Authorization", &format!("Bearer {token}"));
    if let Some(origin) = origin {
        req = req.set("Origin", origin);
    }
    call(req, None)
}

/// Buys the one-time course over HTTP (checkout, pay on the emulator, claim): `email` becomes a member.
fn buy_course(stack: &Stack, email: &str) -> String {
    stack.buy(DEMO_SITE, "course-lifetime", None, email)["token"].as_str().expect("token").to_owned()
}

/// Asks for a code and reads it from the newest email (waiting for the sender to mark it sent): the code and the
/// challenge it is bound to.
fn request_code(stack: &Stack, site: &str, email: &str) -> (String, String) {
    let before = stack.outbox(email).expect("dev outbox").len();
    let asked = post(stack, "/v1/signin", &json!({ "site": site, "email": email }));
    assert_eq!(asked.status, 202, "{}", asked.body);
    let challenge = asked.json()["challenge"].as_str().expect("a challenge").to_owned();
    let code = stack.code_sent(email, before);
    // Six digits, or ten characters once the address had its four six-digit codes of the day.
    assert!(code.len() == 6 || code.len() == 11, "{code}");
    let newest = stack.outbox(email).expect("dev outbox")[0].clone();
    assert!(!newest["subject"].as_str().expect("subject").contains(&code), "never in the subject: {newest}");
    (code, challenge)
}

fn verify(stack: &Stack, site: &str, email: &str, (code, challenge): (&str, &str)) -> Answer {
    post(stack, "/v1/signin/verify", &json!({ "site": site, "email": email, "code": code, "challenge": challenge }))
}

fn wrong(code: &str) -> String {
    code.chars().map(|c| if c == '9' { '0' } else { char::from(c as u8 + 1) }).collect()
}

fn start_stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
        .admin("/sites", &json!({ "id": OTHER_SITE, "name": "Another site", "allowed_origins": [OTHER_ORIGIN] }))
        .expect("seed a second site");
    stack
}

#[test]
fn codes_are_single_use_burn_after_five_wrong_and_tokens_stay_on_their_site() {
    let stack = start_stack();
    let member = "reader@example.com";
    buy_course(&stack, member);

    // Sign in with the emailed code: a token and the member's access.
    let (code, challenge) = request_code(&stack, DEMO_SITE, member);
    let signed_in = verify(&stack, DEMO_SITE, member, (&code, &challenge));
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let body = signed_in.json();
    assert_eq!(body["member"], json!({ "email": member, "verified": true }));
    assert_eq!(body["access"][0]["product"], "course");
    let token = body["token"].as_str().expect("token").to_owned();
    assert_eq!(access(&stack, &token, None).status, 200);

    // A reused code fails.
    let reused = verify(&stack, DEMO_SITE, member, (&code, &challenge));
    assert_eq!((reused.status, reused.json()["error"]["code"].as_str()), (401, Some("invalid_code")));

    // Five wrong codes burn it: the right one then fails too. A newer code works again.
    let (code, challenge) = request_code(&stack, DEMO_SITE, member);
    for _ in 0..5 {
        assert_eq!(verify(&stack, DEMO_SITE, member, (&wrong(&code), &challenge)).status, 401);
    }
    let burned = verify(&stack, DEMO_SITE, member, (&code, &challenge));
    assert_eq!((burned.status, burned.json()["error"]["code"].as_str()), (401, Some("invalid_code")));
    let (code, challenge) = request_code(&stack, DEMO_SITE, member);
    // Spaces are forgiven; the code is bound to its site and to the browser that asked: the other site refuses it,
    // and so does the right site with another challenge.
    assert_eq!(verify(&stack, OTHER_SITE, member, (&code, &challenge)).status, 401);
    assert_eq!(verify(&stack, DEMO_SITE, member, (&code, "another-browser")).status, 401);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let again = verify(&stack, DEMO_SITE, member, (&spaced, &challenge));
    assert_eq!(again.status, 200, "{}", again.body);
    let second_token = again.json()["token"].as_str().expect("token").to_owned();

    // The code is stored only as a hash.
    let stored = stack.sql("SELECT code_hash FROM signin_codes").expect("codes");
    assert!(stored.as_array().expect("rows").iter().all(|r| !r["code_hash"].as_str().unwrap().contains(&code)));

    // An unknown email gets the same answer (a fresh challenge, as always), and no email.
    let known = post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": member }));
    let unknown = post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": "stranger@example.com" }));
    let shape = |a: &Answer| {
        let body = a.json();
        (a.status, body["sent"].clone(), body["challenge"].as_str().map(str::len), body.as_object().map(|o| o.len()))
    };
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(known.body.len(), unknown.body.len());
    assert!(stack.outbox("stranger@example.com").expect("dev outbox").is_empty());
    let unknown_challenge = unknown.json()["challenge"].as_str().expect("challenge").to_owned();
    assert_eq!(verify(&stack, DEMO_SITE, "stranger@example.com", ("123456", &unknown_challenge)).status, 401);

    // A token of one site is refused on another: from the other site's origin, and with the site swapped.
    let foreign = access(&stack, &token, Some(OTHER_ORIGIN));
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let (signed, mac) = token.rsplit_once('.').expect("token shape");
    let payload = signed.strip_prefix("v1.").expect("v1 token");
    let swapped =
        String::from_utf8(base64_url_decode(payload).expect("payload")).expect("utf8").replace(DEMO_SITE, OTHER_SITE);
    let forged = format!("v1.{}.{mac}", base64_url_encode(swapped.as_bytes()));
    assert_eq!(access(&stack, &forged, None).status, 401);

    // Refresh answers a fresh token that works.
    let refreshed = post_bearer(&stack, "/v1/token/refresh", &token, &json!({}));
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let fresh = refreshed.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(access(&stack, &fresh, None).status, 200);

    // Sign-out without `everywhere` revokes nothing; with it, every older token is refused.
    assert_eq!(post_bearer(&stack, "/v1/signout", &token, &json!({ "everywhere": false })).status, 200);
    assert_eq!(access(&stack, &token, None).status, 200);
    assert_eq!(post_bearer(&stack, "/v1/signout", &fresh, &json!({ "everywhere": true })).status, 200);
    for old in [&token, &second_token, &fresh] {
        let refused = access(&stack, old, None);
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    assert_eq!(post_bearer(&stack, "/v1/token/refresh", &token, &json!({})).status, 401);
    // Signing in again works after that.
    let (code, challenge) = request_code(&stack, DEMO_SITE, member);
    let back = verify(&stack, DEMO_SITE, member, (&code, &challenge));
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(access(&stack, back.json()["token"].as_str().expect("token"), None).status, 200);
}

#[test]
fn signin_is_rate_limited_per_email() {
    let stack = start_stack();
    let email = "flood@example.com";
    for _ in 0..5 {
        assert_eq!(post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": email })).status, 202);
    }
    let limited = post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": email }));
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.json()["error"]["code"], "rate_limited");
    // Another address is not affected.
    assert_eq!(post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": "calm@example.com" })).status, 202);
    // Bad input is a clear 400.
    let bad = post(&stack, "/v1/signin", &json!({ "site": DEMO_SITE, "email": "not-an-email" }));
    assert_eq!((bad.status, bad.json()["error"]["code"].as_str()), (400, Some("invalid_request")));
    // No GET signs in.
    let get = call(ureq::get(&format!("{}/v1/signin/verify", stack.edge_url)), None);
    assert_eq!(get.status, 404);
}

const UNLOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-unlocked') && getComputedStyle(document.querySelector('#course-content')).display !== 'none'";
const LOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-locked') && getComputedStyle(document.querySelector('#course-content')).display === 'none'";
const DIALOG_OPEN: &str = "document.querySelector('#latch-signin:modal')";

/// axe-core's WCAG 2 A/AA rules on the page as it is now (the open dialog included).
async fn assert_accessible(client: &fantoccini::Client, what: &str) {
    let violations = axe_violations(client).await;
    assert!(violations.is_empty(), "{what}: axe-core WCAG 2 A/AA violations:\n{}", violations.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_signs_in_through_the_dialog_in_a_fresh_browser() {
    let stack = start_stack();
    let driver = start_driver();
    let demo = format!("{}/demo/", stack.edge_url);
    let member = "learner@example.com";

    // Profile A buys the course.
    let a = browser(&driver).await;
    a.goto(&demo).await.expect("open demo");
    wait_js(&a, LOCKED_COURSE, Duration::from_secs(15)).await;
    click(&a, "#buy-course").await;
    wait_js(&a, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(&a, "#email", member).await;
    fill(&a, "#cardNumber", "4242 4242 4242 4242").await;
    click(&a, "#submit").await;
    wait_js(&a, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    assert!(holds(&a, "document.querySelector('#signin').hidden").await, "no Sign in link for a member");
    a.close().await.expect("close A");

    // Profile B knows nothing: locked, with a Sign in link.
    let b = browser(&driver).await;
    b.goto(&demo).await.expect("open demo");
    wait_js(&b, LOCKED_COURSE, Duration::from_secs(15)).await;
    assert!(holds(&b, "!document.querySelector('#signin').hidden").await);

    // The dialog opens, takes focus, and Escape closes it.
    click(&b, "#signin").await;
    wait_js(&b, DIALOG_OPEN, Duration::from_secs(5)).await;
    wait_js(&b, "document.activeElement.id === 'latch-signin-email'", Duration::from_secs(5)).await;
    b.active_element().await.expect("focused").send_keys("\u{e00c}").await.expect("Escape");
    wait_js(&b, "!document.querySelector('#latch-signin').open", Duration::from_secs(5)).await;

    // Email, then the code from the email.
    click(&b, "#signin").await;
    wait_js(&b, DIALOG_OPEN, Duration::from_secs(5)).await;
    fill(&b, "#latch-signin-email", member).await;
    // The dialog's rules come from the wasm (widget/src/style.rs) through latch.js's stylesheet, not the loader's.
    let styled = "getComputedStyle(document.querySelector('.latch-signin-actions')).display === 'flex' \
                  && getComputedStyle(document.querySelector('#latch-signin-email')).display === 'block'";
    assert!(holds(&b, styled).await, "the sign-in dialog is styled");
    screenshot(&b, "10-signin-dialog-email", "#latch-signin").await;
    assert_accessible(&b, "sign-in dialog, email step").await;
    let before = stack.outbox(member).expect("dev outbox").len();
    click(&b, "#latch-signin-submit").await;
    wait_js(&b, "document.querySelector('#latch-signin-code').offsetParent !== null", Duration::from_secs(10)).await;
    let code = stack.code_sent(member, before);
    assert_eq!(code.len(), 6);
    fill(&b, "#latch-signin-code", &code).await;
    screenshot(&b, "11-signin-dialog-code", "#latch-signin").await;
    assert_accessible(&b, "sign-in dialog, code step").await;
    click(&b, "#latch-signin-submit").await;
    wait_js(&b, "!document.querySelector('#latch-signin').open", Duration::from_secs(10)).await;
    wait_js(&b, UNLOCKED_COURSE, Duration::from_secs(10)).await;
    assert!(holds(&b, "localStorage.getItem('latch:site_demo:token')").await, "the token is kept");
    screenshot(&b, "12-signed-in-unlocked", "#course-card").await;
    let challenge = holds(&b, "document.querySelector('#latch-signin').dataset.challenge.length === 43").await;
    assert!(challenge, "the dialog kept the challenge its code is bound to");

    // Reload keeps the session; the used code cannot sign in again.
    b.refresh().await.expect("reload");
    wait_js(&b, UNLOCKED_COURSE, Duration::from_secs(10)).await;
    assert_eq!(verify(&stack, DEMO_SITE, member, (&code, "")).status, 401);
    b.close().await.expect("close B");
}
