//! Site owners end to end against real `wrangler dev` (workerd + local D1) and the Stripe emulator: owners sign up
//! and in by emailed code (read from the dev outbox), create sites and set their origins, sign out; and the
//! attacks over HTTP: a second owner on every route of the first's site, reused and cross-audience codes, expired,
//! revoked, forged and cookie-only sessions. Host-site identity: a site's server signs a member's email with the
//! site secret and `/v1/identify` answers a member token; wrong, foreign, expired, tampered and rotated identities
//! are refused.

use std::time::Duration;

use latch_core::identity;
use latch_e2e::{DEMO_SITE, Stack, StackOptions, command, repo_root, unix_now};
use serde_json::{Value, json};

/// A raw answer: status, body, and the `Set-Cookie` header.
struct Answer {
    status: u16,
    body: String,
    set_cookie: Option<String>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("JSON answer ({e}): {}", self.body))
    }

    fn code(&self) -> Option<String> {
        self.json()["error"]["code"].as_str().map(str::to_owned)
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(60)).build()
}

/// Any call: method, path on the edge, optional bearer, optional JSON body, extra headers.
fn call(
    stack: &Stack,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = agent().request(method, &format!("{}{path}", stack.edge_url));
    if let Some(token) = bearer {
        req = req.set("Authorization", &format!("Bearer {token}"));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
        None => req.call(),
    };
    let (status, r) = match resp {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(status, r)) => (status, r),
        Err(e) => panic!("request failed: {e}"),
    };
    let set_cookie = r.header("Set-Cookie").map(str::to_owned);
    Answer { status, set_cookie, body: r.into_string().expect("body") }
}

fn post(stack: &Stack, path: &str, body: &Value) -> Answer {
    call(stack, "POST", path, None, Some(body), &[])
}

/// Asks for a code at `path` with `body` and reads it from the newest sent email to `email`: the code and the
/// challenge the asking answer carried (the code works only with it).
fn code_by_email(stack: &Stack, path: &str, body: &Value, email: &str) -> (String, String) {
    let before = stack.outbox(email).expect("dev outbox").len();
    let asked = post(stack, path, body);
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(asked.json()["sent"], true);
    let challenge = asked.json()["challenge"].as_str().expect("a challenge").to_owned();
    let code = stack.code_sent(email, before);
    assert_eq!(code.len(), 6, "a six-digit code");
    (code, challenge)
}

fn owner_code(stack: &Stack, email: &str) -> (String, String) {
    code_by_email(stack, "/owner/v1/signin", &json!({ "email": email }), email)
}

fn owner_verify(stack: &Stack, email: &str, (code, challenge): &(String, String)) -> Answer {
    post(stack, "/owner/v1/signin/verify", &json!({ "email": email, "code": code, "challenge": challenge }))
}

/// Signs an owner in (up) and answers the verify body.
fn sign_in(stack: &Stack, email: &str) -> Value {
    let code = owner_code(stack, email);
    let answer = owner_verify(stack, email, &code);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

fn session_of(signed_in: &Value) -> String {
    signed_in["session"].as_str().expect("session").to_owned()
}

fn create_site(stack: &Stack, session: &str, name: &str, origins: &[&str]) -> Value {
    let created = call(
        stack,
        "POST",
        "/owner/v1/sites",
        Some(session),
        Some(&json!({ "name": name, "allowed_origins": origins })),
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    created.json()
}

fn start_stack() -> Stack {
    Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)")
}

#[test]
fn owners_sign_up_manage_their_sites_and_never_reach_anothers() {
    let stack = start_stack();
    let ann = "ann@example.com";

    // Sign-up = sign-in: a code for anyone, the account appears on the first successful verify.
    let code = owner_code(&stack, ann);
    assert_eq!(stack.sql("SELECT COUNT(*) AS n FROM owners").expect("owners")[0]["n"], 0);
    let first = owner_verify(&stack, "  Ann@Example.com ", &code);
    assert_eq!(first.status, 200, "{}", first.body);
    let body = first.json();
    let session = session_of(&body);
    assert_eq!(session.len(), 43, "32 random bytes, base64url");
    assert!(body["owner"]["id"].as_str().expect("id").starts_with("own_"));
    assert_eq!(body["owner"]["email"], ann);
    assert_eq!(body["sites"], json!([]));
    // The dashboard's cookie: loopback http, so the plain name without Secure.
    let cookie = first.set_cookie.expect("a session cookie");
    assert_eq!(cookie, format!("latch_owner={session}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"));
    // Only the session's hash is stored.
    let stored = stack.sql("SELECT token_hash FROM owner_sessions").expect("sessions");
    assert_eq!(stored.as_array().expect("rows").len(), 1);
    assert!(!stored[0]["token_hash"].as_str().expect("hash").contains(&session));

    // A reused code fails; signing in again finds the same account.
    assert_eq!(owner_verify(&stack, ann, &code).code().as_deref(), Some("invalid_code"));
    let again = sign_in(&stack, ann);
    assert_eq!(again["owner"], body["owner"]);

    // Sites: created with a random public key, origins normalized, bad origins refused.
    let site = create_site(&stack, &session, "Ann's blog", &["https://Blog.example/posts", "http://127.0.0.1:9"]);
    let site_id = site["id"].as_str().expect("id").to_owned();
    assert!(site_id.starts_with("site_") && site_id.len() == 5 + 24, "{site_id}");
    assert_eq!(site["allowed_origins"], json!(["https://blog.example", "http://127.0.0.1:9"]));
    assert_eq!((site["name"].as_str(), site["stripe_status"].as_str()), (Some("Ann's blog"), Some("not_connected")));
    for bad in [
        json!({ "name": "x", "allowed_origins": ["http://blog.example"] }),
        json!({ "name": " ", "allowed_origins": [] }),
    ] {
        let refused = call(&stack, "POST", "/owner/v1/sites", Some(&session), Some(&bad), &[]);
        assert_eq!((refused.status, refused.code().as_deref()), (400, Some("invalid_request")), "{bad}");
    }
    let listed = call(&stack, "GET", "/owner/v1/sites", Some(&session), None, &[]);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["sites"], json!([site]));

    // Set origins: the change applies to the public API at once (CORS follows the new list).
    let catalog = format!("/v1/sites/{site_id}/catalog");
    assert_eq!(call(&stack, "GET", &catalog, None, None, &[("Origin", "https://shop.example")]).status, 403);
    let patched = call(
        &stack,
        "PATCH",
        &format!("/owner/v1/sites/{site_id}"),
        Some(&session),
        Some(&json!({ "allowed_origins": ["https://shop.example"] })),
        &[],
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        (patched.json()["name"].as_str(), &patched.json()["allowed_origins"]),
        (Some("Ann's blog"), &json!(["https://shop.example"]))
    );
    assert_eq!(call(&stack, "GET", &catalog, None, None, &[("Origin", "https://shop.example")]).status, 200);
    assert_eq!(call(&stack, "GET", &catalog, None, None, &[("Origin", "https://blog.example")]).status, 403);
    let renamed = call(
        &stack,
        "PATCH",
        &format!("/owner/v1/sites/{site_id}"),
        Some(&session),
        Some(&json!({ "name": "Ann's shop" })),
        &[],
    );
    assert_eq!(renamed.json()["name"], "Ann's shop");
    assert_eq!(renamed.json()["allowed_origins"], json!(["https://shop.example"]));

    // The operator API keeps working and sees every site; its sites have no owner until given one.
    stack
        .admin("/sites", &json!({ "id": DEMO_SITE, "name": "Operator's site", "allowed_origins": [] }))
        .expect("operator site");
    let op = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}"), Some(&stack.admin_token), None, &[]);
    assert_eq!(op.status, 200, "{}", op.body);

    // A second owner.
    let bob = sign_in(&stack, "bob@example.com");
    let bob_session = session_of(&bob);
    assert_eq!(bob["sites"], json!([]));
    let bob_site = create_site(&stack, &bob_session, "Bob's", &["https://bob.example"]);
    // The identity secret signs in any member: a session reads it only after a fresh code.
    let unconfirmed = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/secret"), Some(&session), None, &[]);
    assert_eq!((unconfirmed.status, unconfirmed.code().as_deref()), (403, Some("confirmation_required")));
    stack.owner_confirm(&session, ann);
    let ann_secret =
        call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/secret"), Some(&session), None, &[]).json();

    // Every owner route of Ann's site (and of the operator's) is a 404 for Bob, byte-identical to a missing site.
    let routes = |site: &str| -> Vec<(&'static str, String, Option<Value>)> {
        let o = format!("/owner/v1/sites/{site}");
        let a = &o;
        vec![
            ("POST", format!("{a}/connect"), None),
            ("POST", format!("{a}/disconnect"), None),
            ("POST", format!("{a}/products"), Some(json!({ "slug": "pro", "name": "Pro", "prices": [] }))),
            ("POST", format!("{a}/products/link"), Some(json!({ "stripe_product": "prod_x", "slug": "pro" }))),
            ("POST", format!("{a}/products/pro/prices"), Some(json!({ "unit_amount": 500, "currency": "usd" }))),
            ("PATCH", format!("{a}/products/pro"), Some(json!({ "checkout_enabled": false }))),
            ("GET", format!("{a}/imports"), None),
            ("POST", format!("{a}/imports/imp_x/resume"), None),
            ("GET", o.clone(), None),
            ("PATCH", o.clone(), Some(json!({ "name": "pwned", "allowed_origins": ["https://evil.example"] }))),
            ("GET", format!("{o}/secret"), None),
            ("POST", format!("{o}/secret/rotate"), None),
        ]
    };
    let missing: Vec<Answer> = routes("site_missing")
        .iter()
        .map(|(m, p, b)| call(&stack, m, p, Some(&bob_session), b.as_ref(), &[]))
        .collect();
    for target in [site_id.as_str(), DEMO_SITE] {
        for ((method, path, body), absent) in routes(target).iter().zip(&missing) {
            let refused = call(&stack, method, path, Some(&bob_session), body.as_ref(), &[]);
            assert_eq!(
                (refused.status, refused.code().as_deref()),
                (404, Some("not_found")),
                "{method} {path}: {}",
                refused.body
            );
            assert_eq!(refused.body, absent.body, "{method} {path} must not tell a foreign site from a missing one");
            assert!(refused.set_cookie.is_none(), "{method} {path} set a cookie");
        }
    }
    // ...while Ann reaches the same routes (so the 404s above are about ownership, not the routes).
    let own_imports = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/imports"), Some(&session), None, &[]);
    assert_eq!(own_imports.status, 200, "{}", own_imports.body);
    let own_connect = call(&stack, "POST", &format!("/owner/v1/sites/{site_id}/connect"), Some(&session), None, &[]);
    assert_eq!(own_connect.status, 200, "{}", own_connect.body);
    let bob_connect = call(
        &stack,
        "POST",
        &format!("/owner/v1/sites/{}/connect", bob_site["id"].as_str().unwrap()),
        Some(&bob_session),
        None,
        &[],
    );
    assert_eq!(bob_connect.status, 200, "Bob manages his own site: {}", bob_connect.body);
    // Nothing of Ann's changed.
    let after = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}"), Some(&session), None, &[]).json();
    assert_eq!(
        (after["name"].as_str(), &after["allowed_origins"]),
        (Some("Ann's shop"), &json!(["https://shop.example"]))
    );
    let secret_after =
        call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/secret"), Some(&session), None, &[]).json();
    assert_eq!(secret_after, ann_secret, "the secret was neither read nor rotated");
    assert_eq!(
        stack.sql("SELECT COUNT(*) AS n FROM oauth_states").expect("states")[0]["n"],
        2,
        "only Ann's and Bob's own"
    );
    let bob_list = call(&stack, "GET", "/owner/v1/sites", Some(&bob_session), None, &[]).json();
    assert_eq!(bob_list["sites"].as_array().map(Vec::len), Some(1));

    // No credentials, a member-shaped token, a forged session, or the session only as a cookie: 401.
    let owner_path = format!("/owner/v1/sites/{site_id}");
    let forged = "A".repeat(43);
    let cookie_header = format!("latch_owner={session}");
    for (bearer, headers) in [
        (None, vec![]),
        (Some("v1.e30.AA"), vec![]),
        (Some(forged.as_str()), vec![]),
        (Some("not a token"), vec![]),
        (None, vec![("Cookie", cookie_header.as_str())]),
    ] {
        for path in [owner_path.as_str(), "/owner/v1/sites"] {
            let refused = call(&stack, "GET", path, bearer, None, &headers);
            assert_eq!(
                (refused.status, refused.code().as_deref()),
                (401, Some("unauthorized")),
                "{bearer:?} {headers:?} {path}"
            );
        }
        let admin = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/imports"), bearer, None, &headers);
        assert_eq!(admin.status, 401, "{bearer:?} {headers:?}");
    }

    // An expired session is refused.
    let old = sign_in(&stack, ann);
    let old_session = session_of(&old);
    assert_eq!(call(&stack, "GET", "/owner/v1/sites", Some(&old_session), None, &[]).status, 200);
    let hash = latch_core::owner::session_hash(&old_session);
    stack.sql(&format!("UPDATE owner_sessions SET expires_at = 1000 WHERE token_hash = '{hash}'")).expect("age it");
    assert_eq!(call(&stack, "GET", "/owner/v1/sites", Some(&old_session), None, &[]).status, 401);

    // Sign-out revokes that session only, and clears the cookie.
    let out = call(&stack, "POST", "/owner/v1/signout", Some(&session), None, &[]);
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.set_cookie.expect("cleared").starts_with("latch_owner=; Path=/; Max-Age=0;"));
    assert_eq!(call(&stack, "GET", "/owner/v1/sites", Some(&session), None, &[]).status, 401);
    assert_eq!(
        call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/imports"), Some(&session), None, &[]).status,
        401
    );
    assert_eq!(call(&stack, "POST", "/owner/v1/signout", Some(&session), None, &[]).status, 401);
    let other = session_of(&again);
    assert_eq!(call(&stack, "GET", "/owner/v1/sites", Some(&other), None, &[]).status, 200, "other sessions live on");
}

#[test]
fn member_and_owner_codes_do_not_cross() {
    let stack = start_stack();
    let email = "both@example.com";
    let ann = session_of(&sign_in(&stack, "ann@example.com"));
    let site = create_site(&stack, &ann, "Ann's", &[]);
    let site_id = site["id"].as_str().expect("id").to_owned();
    // Make `email` a member of the site (host-site identity), so member codes are sent to it.
    stack.owner_confirm(&ann, "ann@example.com");
    let secret = call(&stack, "GET", &format!("/owner/v1/sites/{site_id}/secret"), Some(&ann), None, &[]).json();
    let value = identity::sign(email, unix_now() + 600, secret["secret"].as_str().expect("secret"));
    let member = post(&stack, "/v1/identify", &json!({ "site": site_id, "identity": value }));
    assert_eq!(member.status, 200, "{}", member.body);

    // A member's code is no owner code...
    let member_code = code_by_email(&stack, "/v1/signin", &json!({ "site": site_id, "email": email }), email);
    assert_eq!(owner_verify(&stack, email, &member_code).code().as_deref(), Some("invalid_code"));
    let member_verify = |(code, challenge): &(String, String)| {
        post(
            &stack,
            "/v1/signin/verify",
            &json!({ "site": site_id, "email": email, "code": code, "challenge": challenge }),
        )
    };
    assert_eq!(
        stack.sql("SELECT COUNT(*) AS n FROM owners WHERE email = 'both@example.com'").expect("owners")[0]["n"],
        0
    );
    // ...and an owner's code is no member code.
    let owner_code = owner_code(&stack, email);
    let as_member = member_verify(&owner_code);
    assert_eq!(as_member.code().as_deref(), Some("invalid_code"));
    // Each still works where it belongs.
    let as_owner = owner_verify(&stack, email, &owner_code);
    assert_eq!(as_owner.status, 200, "{}", as_owner.body);
    assert_eq!(as_owner.json()["sites"], json!([]), "a member of a site is not its owner");
    let member_in = member_verify(&member_code);
    assert_eq!(member_in.status, 200, "{}", member_in.body);

    // A member token is not an owner session.
    let member_token = member_in.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(call(&stack, "GET", &format!("/owner/v1/sites/{site_id}"), Some(&member_token), None, &[]).status, 401);
    // Owner sign-in is rate-limited per email like members'.
    let flood = "flood@example.com";
    for _ in 0..5 {
        assert_eq!(post(&stack, "/owner/v1/signin", &json!({ "email": flood })).status, 202);
    }
    let limited = post(&stack, "/owner/v1/signin", &json!({ "email": flood }));
    assert_eq!((limited.status, limited.code().as_deref()), (429, Some("rate_limited")));
    let bad = post(&stack, "/owner/v1/signin", &json!({ "email": "nope" }));
    assert_eq!((bad.status, bad.code().as_deref()), (400, Some("invalid_request")));
}

#[test]
fn host_site_identity_signs_members_in_and_refuses_forgeries() {
    let stack = start_stack();
    let ann = session_of(&sign_in(&stack, "ann@example.com"));
    let site = create_site(&stack, &ann, "Ann's", &["https://ann.example"]);
    let other = create_site(&stack, &ann, "Ann's second", &["https://two.example"]);
    let (site_id, other_id) = (site["id"].as_str().unwrap().to_owned(), other["id"].as_str().unwrap().to_owned());
    stack.owner_confirm(&ann, "ann@example.com");
    let secret_of = |id: &str| -> String {
        let answer = call(&stack, "GET", &format!("/owner/v1/sites/{id}/secret"), Some(&ann), None, &[]);
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["secret"].as_str().expect("secret").to_owned()
    };
    let secret = secret_of(&site_id);
    assert!(secret.starts_with("lss_"));
    assert_ne!(secret, secret_of(&other_id));
    let identify = |site: &str, value: &str| post(&stack, "/v1/identify", &json!({ "site": site, "identity": value }));

    // A good identity: a member token and access, exactly like claim and sign-in; the member is created once.
    let good = identity::sign("Reader@Example.com", unix_now() + 300, &secret);
    let answer = identify(&site_id, &good);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(
        (&body["member"], &body["access"]),
        (&json!({ "email": "reader@example.com", "verified": true }), &json!([]))
    );
    let token = body["token"].as_str().expect("token");
    let access = call(&stack, "GET", "/v1/access", Some(token), None, &[]);
    assert_eq!((access.status, &access.json()["member"]["email"]), (200, &json!("reader@example.com")));
    // Each value once: a copy of the page's HTML (the value in it) signs no one in after the reader's browser used it.
    let replayed = identify(&site_id, &good);
    assert_eq!((replayed.status, replayed.code().as_deref()), (401, Some("invalid_identity")), "{}", replayed.body);
    assert!(replayed.body.contains("already used"), "{}", replayed.body);
    let next_render = identity::sign("reader@example.com", unix_now() + 300, &secret);
    assert_eq!(identify(&site_id, &next_render).status, 200, "the next render's value works");
    let members =
        stack.sql(&format!("SELECT COUNT(*) AS n FROM members WHERE site_id = '{site_id}'")).expect("members");
    assert_eq!(members[0]["n"], 1);

    // The member token of one site is refused for the other (its origin), and its identity too.
    let foreign = call(&stack, "GET", "/v1/access", Some(token), None, &[("Origin", "https://two.example")]);
    assert_eq!(foreign.status, 403, "{}", foreign.body);

    // Forgeries.
    let (signed, sig) = good.rsplit_once('.').unwrap();
    let payload = signed.strip_prefix("v1.").unwrap();
    let tampered_payload = {
        let evil = identity::sign("boss@example.com", unix_now() + 300, &secret);
        evil.strip_prefix("v1.").unwrap().split('.').next().unwrap().to_owned()
    };
    let flipped = format!("{signed}.{}{}", &sig[..63], if sig.ends_with('0') { '1' } else { '0' });
    let cases = [
        ("wrong secret", identity::sign("reader@example.com", unix_now() + 300, "lss_guessed")),
        ("another site's secret", identity::sign("reader@example.com", unix_now() + 300, &secret_of(&other_id))),
        ("expired", identity::sign("reader@example.com", unix_now() - 5, &secret)),
        ("more than ten minutes ahead", identity::sign("reader@example.com", unix_now() + 11 * 60, &secret)),
        ("tampered payload", format!("v1.{tampered_payload}.{sig}")),
        ("flipped signature", flipped),
        ("uppercase signature", format!("{signed}.{}", sig.to_uppercase())),
        ("no signature", format!("v1.{payload}")),
        ("garbage", "hello".to_owned()),
    ];
    for (what, value) in &cases {
        let refused = identify(&site_id, value);
        assert_eq!(
            (refused.status, refused.code().as_deref()),
            (401, Some("invalid_identity")),
            "{what}: {}",
            refused.body
        );
    }
    // A good identity of one site is refused by another.
    let refused = identify(&other_id, &good);
    assert_eq!((refused.status, refused.code().as_deref()), (401, Some("invalid_identity")));
    assert_eq!(stack.sql("SELECT COUNT(*) AS n FROM members WHERE email = 'boss@example.com'").expect("m")[0]["n"], 0);

    // Rotation retires the old secret at once.
    let rotated = call(&stack, "POST", &format!("/owner/v1/sites/{site_id}/secret/rotate"), Some(&ann), None, &[]);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.json()["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(secret_of(&site_id), new_secret);
    assert_eq!(identify(&site_id, &good).code().as_deref(), Some("invalid_identity"));
    assert_eq!(identify(&site_id, &identity::sign("reader@example.com", unix_now() + 300, &new_secret)).status, 200);

    // The Node and Python examples of docs/identity.md, run as written, sign members in.
    let doc = std::fs::read_to_string(repo_root().join("docs/identity.md")).expect("docs/identity.md");
    for (fence, program, flag) in [("```js\n", "node", "-e"), ("```python\n", "python3", "-c")] {
        let code = doc.split_once(fence).and_then(|(_, rest)| rest.split_once("```")).expect("a code block").0;
        let email = format!("{program}@example.com");
        let out = command(program)
            .args([flag, code])
            .env("EMAIL", &email)
            .env("LATCH_SITE_SECRET", &new_secret)
            .output()
            .expect("run the example");
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
        let value = String::from_utf8(out.stdout).expect("utf-8");
        let answer = identify(&site_id, value.trim());
        assert_eq!(answer.status, 200, "{program}'s identity: {}", answer.body);
        assert_eq!(answer.json()["member"]["email"], email.as_str());
    }

    // Rate-limited per client address: 60 tries in 15 minutes, then 429; another address is not affected.
    let from = |address: &str| {
        call(
            &stack,
            "POST",
            "/v1/identify",
            None,
            Some(&json!({ "site": site_id, "identity": "junk" })),
            &[("CF-Connecting-IP", address)],
        )
    };
    for i in 1..=60 {
        assert_eq!(from("203.0.113.5").status, 401, "try {i} is checked");
    }
    let limited = from("203.0.113.5");
    assert_eq!((limited.status, limited.code().as_deref()), (429, Some("rate_limited")), "{}", limited.body);
    assert_eq!(from("203.0.113.6").status, 401, "another address is checked");
}
