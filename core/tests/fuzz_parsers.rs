//! The parsers that read what strangers send, fuzzed from outside: member tokens, host identities, cookies,
//! redirect and origin validation (differentially against the `url` crate, which parses as browsers do: the WHATWG
//! URL standard) and Stripe's OAuth answers. Nothing panics; nothing altered is accepted; what is accepted means
//! what a browser would take it to mean.
#![cfg(not(target_arch = "wasm32"))]

use latch_core::connect::{OAuthError, OAuthToken, parse_oauth};
use latch_core::identity::{self, IdentityError};
use latch_core::token::{self, Claims};
use latch_core::validate::{origin_of, redirect_allowed};
use latch_core::{cookie, owner};
use proptest::prelude::*;

const SECRET: &[u8] = b"fuzz-secret-of-enough-length-0000";
const NOW: i64 = 1_800_000_000;

fn claims() -> impl Strategy<Value = Claims> {
    ("[a-z_0-9]{1,20}", "[a-z_0-9]{1,30}", 0..NOW, NOW + 1..NOW + 100_000, 0i64..5)
        .prop_map(|(site, sub, iat, exp, generation)| Claims { site, sub, aud: "widget".into(), iat, exp, generation })
}

/// `s` with the character at `at` (modulo its length) replaced by `with`, or `with` inserted when `insert`.
fn mutate(s: &str, at: usize, with: char, insert: bool) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let at = at % (chars.len() + usize::from(insert));
    if insert {
        chars.insert(at, with);
    } else {
        chars[at] = with;
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any text is refused or accepted without a panic; a random one is never a valid token.
    #[test]
    fn member_tokens_never_panic(text in ".{0,300}", site in "[a-z_]{1,10}") {
        prop_assert!(token::verify(&text, SECRET, &site, "widget", NOW).is_err());
        let _ = token::unverified_site(&text);
    }

    /// A signed token verifies for its own site only, and no change of one character (or one added) is accepted.
    #[test]
    fn member_tokens_refuse_every_alteration(
        c in claims(), at in any::<usize>(), with in prop::char::any(), insert in any::<bool>(), other in "[a-z]{1,5}"
    ) {
        let signed = token::sign(&c, SECRET);
        prop_assert_eq!(token::verify(&signed, SECRET, &c.site, "widget", NOW), Ok(c.clone()));
        prop_assert_eq!(token::unverified_site(&signed), Some(c.site.clone()));
        let elsewhere = format!("{}{other}", c.site);
        prop_assert_eq!(token::verify(&signed, SECRET, &elsewhere, "widget", NOW), Err(token::TokenError::WrongSite));
        prop_assert!(token::verify(&signed, b"another-secret", &c.site, "widget", NOW).is_err());
        prop_assert!(token::verify(&signed, SECRET, &c.site, "widget", c.exp).is_err(), "expired at exp");
        let altered = mutate(&signed, at, with, insert);
        if altered != signed {
            prop_assert!(token::verify(&altered, SECRET, &c.site, "widget", NOW).is_err(), "{altered}");
        }
    }

    /// Host identities: any text is refused without a panic; a signed value verifies only within its lifetime and
    /// refuses every one-character change.
    #[test]
    fn host_identities_refuse_every_alteration(
        text in ".{0,300}",
        user in "[a-z0-9.+_-]{1,20}",
        ttl in -100i64..1000,
        at in any::<usize>(), with in prop::char::any(), insert in any::<bool>()
    ) {
        let secret = identity::site_secret(SECRET, "site_fuzz", 1);
        prop_assert!(identity::verify(&text, &secret, NOW).is_err());
        let email = format!("{user}@example.com");
        let value = identity::sign(&email, NOW + ttl, &secret);
        let verdict = identity::verify(&value, &secret, NOW);
        match ttl {
            ..=0 => prop_assert_eq!(verdict, Err(IdentityError::Expired)),
            1..=identity::MAX_LIFETIME_SECS => prop_assert_eq!(verdict.map(|i| i.email), Ok(email)),
            _ => prop_assert_eq!(verdict, Err(IdentityError::TooLong)),
        }
        let altered = mutate(&value, at, with, insert);
        if altered != value {
            prop_assert!(identity::verify(&altered, &secret, NOW).is_err(), "{altered}");
            prop_assert_ne!(identity::replay_key(&altered), identity::replay_key(&value));
        }
        let other_site = identity::site_secret(SECRET, "site_other", 1);
        prop_assert!(identity::verify(&value, &other_site, NOW).is_err());
    }

    /// A cookie's value is what a plain reading of the header gives: the first `name=value` pair whose name is
    /// exactly `name`; never a piece of another cookie.
    #[test]
    fn cookies_read_like_the_header_says(
        pairs in prop::collection::vec(("[a-zA-Z_-]{0,8}|__Host-latch_owner|latch_owner", "[^;]{0,12}"), 0..6),
        spaces in prop::collection::vec("[ \t]{0,2}", 6),
        name in "latch_owner|__Host-latch_owner|latch_o|[a-z_]{1,6}",
    ) {
        let header = pairs
            .iter()
            .zip(&spaces)
            .map(|((k, v), s)| format!("{s}{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let expected = header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v);
        prop_assert_eq!(cookie::value(&header, &name), expected, "{}", header);
        if let Some(token) = owner::session_from_cookies(&header, true) {
            prop_assert!(owner::is_session_token(token));
            prop_assert_eq!(Some(token), cookie::value(&header, "__Host-latch_owner"));
        }
    }

    /// Whatever `origin_of` accepts, a browser parses too, to the same origin; whatever `redirect_allowed` lets
    /// through is, for a browser, on one of the allowed origins.
    #[test]
    fn origins_agree_with_the_url_standard(url in url_like(), allowed in prop::collection::vec(url_like(), 0..3)) {
        if let Ok(origin) = origin_of(&url) {
            let parsed = url::Url::parse(&url);
            prop_assert!(parsed.is_ok(), "accepted {url:?}, which a browser cannot parse: {parsed:?}");
            let browser = parsed.map(|u| u.origin()).ok();
            let ours = url::Url::parse(&origin).map(|u| u.origin()).ok();
            prop_assert_eq!(&ours, &browser, "{} read as {}", url, origin);
            prop_assert!(browser.as_ref().is_some_and(url::Origin::is_tuple));
        }
        if redirect_allowed(&url, &allowed).is_ok() {
            let browser = url::Url::parse(&url).map(|u| u.origin()).ok();
            let on_list = allowed.iter().any(|a| url::Url::parse(a).map(|u| u.origin()).ok() == browser);
            prop_assert!(on_list, "{url:?} let through for {allowed:?}");
        }
    }

    /// OAuth answers: any status and body without a panic; only a 2xx is a token, 429 and 5xx say "try again".
    #[test]
    fn oauth_answers_never_panic(status in 100u16..600, body in oauth_body()) {
        let answer = parse_oauth::<OAuthToken>(status, &body);
        match status {
            200..=299 => prop_assert!(answer.is_ok() || matches!(answer, Err(OAuthError::Malformed(_)))),
            429 | 500..=599 => prop_assert_eq!(answer, Err(OAuthError::Unavailable(status))),
            _ => prop_assert!(!matches!(answer, Ok(_) | Err(OAuthError::Unavailable(_)))),
        }
    }
}

/// URL-shaped text from the pieces that trip parsers: schemes in any case, userinfo, IPv4 in odd notations,
/// brackets, ports out of range or with leading zeros, percent-encodings, backslashes, spaces and dots.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["https", "HTTPS", "http", "javascript", "ftp", "https:", "", "hTTps"]);
    let sep = prop::sample::select(vec!["://", ":/", ":\\\\", "://\\", ":///", "//"]);
    let userinfo = prop::sample::select(vec!["", "", "", "user@", "a:b@", "@"]);
    let host = prop::sample::select(vec![
        "example.com",
        "EXAMPLE.com",
        "example.com.",
        "localhost",
        "127.0.0.1",
        "0x7f.1",
        "2130706433",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[example.com]",
        "[]",
        "xn--bcher-kva.example",
        "bücher.example",
        "ex%61mple.com",
        "a..b",
        "-a.com",
        "a_b.com",
        "1.2.3.4.5",
        "",
    ]);
    let port =
        prop::sample::select(vec!["", "", ":443", ":0443", ":8443", ":80", ":65535", ":65536", ":99999", ":", ":x"]);
    let rest = prop::sample::select(vec!["", "/", "/a?b#c", "?q", "#f", "\\x", " /x", "/%2F..", "@evil.com", "\t"]);
    (scheme, sep, userinfo, host, port, rest).prop_map(|(s, sep, u, h, p, r)| format!("{s}{sep}{u}{h}{p}{r}"))
}

fn oauth_body() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        Just(r#"{"stripe_user_id":"acct_1","livemode":false,"scope":"read_write"}"#.to_owned()),
        Just(r#"{"error":"invalid_grant","error_description":"expired"}"#.to_owned()),
        Just(r#"{"error":{"message":"nested"}}"#.to_owned()),
        Just(r#"{"error":null}"#.to_owned()),
        Just(r#"{"stripe_user_id":7}"#.to_owned()),
        Just("[]".to_owned()),
    ]
}
