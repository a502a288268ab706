//! Validation of what sites and members send: origins, redirect URLs, emails, slugs.
//!
//! Redirects (Checkout success/cancel, portal return) may only go to a site's allowed origins. URLs are parsed as
//! browsers parse them (the WHATWG URL standard, through the `url` crate), after refusing outright what a browser
//! would quietly repair or reinterpret (userinfo, backslashes, control characters, whitespace, a missing `://`).
//! `tests/fuzz_parsers.rs` holds the two to the same reading.

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Not an absolute http(s) URL Latch accepts.
    #[error("`{0}` is not an absolute https URL")]
    BadUrl(String),
    /// A well-formed URL whose origin is not on the site's list.
    #[error("`{0}` is not one of this site's allowed origins")]
    ForeignOrigin(String),
    /// No email address at all.
    #[error("Enter an email address.")]
    MissingEmail,
    /// Not a plausible email address.
    #[error("`{0}` is not an email address: it looks like name@example.com")]
    BadEmail(String),
    /// Not a valid slug (lowercase letters, digits, `-`, `_`, 1 to 64 characters).
    #[error("`{0}` is not a valid identifier (use a-z, 0-9, - and _)")]
    BadSlug(String),
    /// A site name that is empty, too long or holds control characters.
    #[error("a site name is 1 to {MAX_NAME} characters without control characters")]
    BadName,
    /// More allowed origins than a site may have.
    #[error("a site may have at most {MAX_ORIGINS} allowed origins")]
    TooManyOrigins,
    /// Not a Stripe id of the expected kind.
    #[error("`{value}` is not a Stripe id starting with `{prefix}`")]
    BadStripeId {
        /// The prefix expected (`prod_`, `price_`, ...).
        prefix: &'static str,
        /// What was given (shortened).
        value: String,
    },
}

/// Longest site name.
pub const MAX_NAME: usize = 100;

/// Most allowed origins per site.
pub const MAX_ORIGINS: usize = 20;

/// The origin (`scheme://host[:port]`) of an absolute URL, as a browser serializes it: parsed by the WHATWG URL
/// standard (the `url` crate), so the host is lowercase (punycode for international names), an IPv4 address in
/// any notation is dotted, and a default port is dropped. Refused before parsing, rather than guessed: control
/// characters, whitespace, backslashes, a missing `://` or an empty authority, and userinfo. `http` is allowed only
/// for loopback hosts, for local development.
pub fn origin_of(url: &str) -> Result<String, ValidationError> {
    let bad = || ValidationError::BadUrl(url.chars().take(200).collect());
    if url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return Err(bad());
    }
    let (_, rest) = url.split_once("://").ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad()),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad()),
    }
    Ok(parsed.origin().ascii_serialization())
}

/// Checks that `url` is on one of `allowed` origins (each as given by the site owner, normalized here).
pub fn redirect_allowed(url: &str, allowed: &[String]) -> Result<(), ValidationError> {
    let origin = origin_of(url)?;
    let on_list = allowed.iter().filter_map(|a| origin_of(a).ok()).any(|a| a == origin);
    if on_list { Ok(()) } else { Err(ValidationError::ForeignOrigin(origin)) }
}

/// Normalizes an email address (trimmed, lowercase) after a plausibility check.
pub fn email(raw: &str) -> Result<String, ValidationError> {
    let email = raw.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Err(ValidationError::MissingEmail);
    }
    let bad = || ValidationError::BadEmail(raw.trim().chars().take(200).collect());
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let plausible = !local.is_empty()
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>')
        && !domain.contains('@');
    if plausible { Ok(email) } else { Err(bad()) }
}

/// Checks a slug (product slug, lookup key).
pub fn slug(raw: &str) -> Result<&str, ValidationError> {
    let ok = (1..=64).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(raw) } else { Err(ValidationError::BadSlug(raw.chars().take(64).collect())) }
}

/// A slug made from a name, for forms that leave the slug to Latch: ASCII letters and digits lowercased, every other
/// run of characters one `-`, at most 64 characters (`"Pro Plan (2026)"` → `pro-plan-2026`); `None` when nothing
/// of the name is left.
pub fn slug_from(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_owned();
    out.truncate(64);
    let out = out.trim_end_matches('-').to_owned();
    (!out.is_empty()).then_some(out)
}

/// Longest Stripe id accepted (Stripe's are far shorter).
pub const MAX_STRIPE_ID: usize = 255;

/// A Stripe object id of one kind: `prefix` (`prod_`, `price_`, `cs_`, ...) then ASCII letters, digits and `_` only,
/// at most [`MAX_STRIPE_ID`] characters in all. Nothing else reaches a Stripe URL path.
pub fn stripe_id<'a>(prefix: &'static str, raw: &'a str) -> Result<&'a str, ValidationError> {
    if is_stripe_id(prefix, raw) {
        Ok(raw)
    } else {
        Err(ValidationError::BadStripeId { prefix, value: raw.chars().take(64).collect() })
    }
}

/// Whether `raw` is a Stripe id of one kind ([`stripe_id`]'s rule, without the error, for the widget).
pub fn is_stripe_id(prefix: &str, raw: &str) -> bool {
    raw.len() <= MAX_STRIPE_ID
        && raw
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// A site's display name, trimmed.
pub fn site_name(raw: &str) -> Result<&str, ValidationError> {
    let name = raw.trim();
    let ok = !name.is_empty() && name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control);
    if ok { Ok(name) } else { Err(ValidationError::BadName) }
}

/// A site's allowed origins as the owner typed them (full URLs are fine, and so is a bare domain, completed to
/// `https://`, or `http://` for a loopback host): normalized to origins, deduplicated, at most [`MAX_ORIGINS`].
pub fn allowed_origins(raw: &[String]) -> Result<Vec<String>, ValidationError> {
    if raw.len() > MAX_ORIGINS {
        return Err(ValidationError::TooManyOrigins);
    }
    let mut origins = Vec::with_capacity(raw.len());
    for typed in raw {
        let typed = typed.trim();
        let url = if typed.contains("://") {
            typed.to_owned()
        } else {
            let host = typed.split([':', '/']).next().unwrap_or_default();
            let loopback = host == "localhost" || host == "127.0.0.1";
            format!("{}://{typed}", if loopback { "http" } else { "https" })
        };
        let origin = origin_of(&url)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

pub use crate::api::SESSION_PARAM;

/// `url` without its fragment and without any `latch_session` parameter (the page to come back to).
pub fn return_page(url: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> =
        query.split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(SESSION_PARAM)).collect();
    if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) }
}

/// The Checkout `success_url` for a return page: Stripe replaces `{CHECKOUT_SESSION_ID}` with the session id.
pub fn checkout_success_url(url: &str) -> String {
    let page = return_page(url);
    let sep = if page.contains('?') { '&' } else { '?' };
    format!("{page}{sep}{SESSION_PARAM}={{CHECKOUT_SESSION_ID}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized() {
        assert_eq!(origin_of("https://Example.com/a?b#c").unwrap(), "https://example.com");
        assert_eq!(origin_of("https://example.com:8443").unwrap(), "https://example.com:8443");
        assert_eq!(origin_of("http://127.0.0.1:8787/demo/").unwrap(), "http://127.0.0.1:8787");
        assert_eq!(origin_of("http://localhost/x").unwrap(), "http://localhost");
        // As browsers serialize them (the Origin header): default port dropped, punycode, dotted IPv4.
        assert_eq!(origin_of("https://good.com:443/").unwrap(), "https://good.com");
        assert_eq!(origin_of("https://good.com:/").unwrap(), "https://good.com");
        assert_eq!(origin_of("https://Bücher.example/").unwrap(), "https://xn--bcher-kva.example");
        assert_eq!(origin_of("http://0x7f.1:8787/").unwrap(), "http://127.0.0.1:8787");
        for bad in ["https://1.2.3.4.5/", "https://[example.com]/", "https://good.com:65536/", "https://ex%00.com/"] {
            assert!(origin_of(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn redirect_attacks_are_refused() {
        let allowed = vec!["https://good.com".to_string(), "http://127.0.0.1:8787".to_string()];
        assert!(redirect_allowed("https://good.com/thanks?x=1", &allowed).is_ok());
        assert!(redirect_allowed("http://127.0.0.1:8787/demo/", &allowed).is_ok());
        for url in [
            "https://evil.com/",
            "https://good.com.evil.com/",
            "https://good.com@evil.com/",
            "https://evil.com#https://good.com",
            "https://good.com\\@evil.com/",
            "//good.com/",
            "javascript:alert(1)//https://good.com",
            "http://good.com/",
            "https://good.com:99999999/",
            "http://127.0.0.1:9999/",
            " https://good.com/",
            "https://good.com/\n",
            "",
        ] {
            assert!(redirect_allowed(url, &allowed).is_err(), "{url:?} must be refused");
        }
    }

    #[test]
    fn emails_and_slugs() {
        assert_eq!(email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@x.com", "ann@", "ann@x", "a b@x.com", "a@x.com,b@y.com", "a@@x.com", "a@.x.com"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(slug("pro-monthly_2").is_ok());
        for bad in ["", "Pro", "a b", "a/b", &"x".repeat(65)] {
            assert!(slug(bad).is_err(), "{bad:?}");
        }
        // Messages a person can act on.
        assert_eq!(email("  ").unwrap_err().to_string(), "Enter an email address.");
        assert_eq!(
            email("ann").unwrap_err().to_string(),
            "`ann` is not an email address: it looks like name@example.com"
        );
    }

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Pro Plan (2026)").as_deref(), Some("pro-plan-2026"));
        assert_eq!(slug_from("  Café — Members  ").as_deref(), Some("caf-members"));
        assert_eq!(slug_from("!!!"), None);
        let long = slug_from(&"word ".repeat(40)).unwrap();
        assert!(long.len() <= 64 && !long.ends_with('-') && slug(&long).is_ok(), "{long}");
    }

    #[test]
    fn stripe_ids_are_strict() {
        assert_eq!(stripe_id("prod_", "prod_NWjs8kKbJWmuuc"), Ok("prod_NWjs8kKbJWmuuc"));
        assert_eq!(stripe_id("cs_", "cs_test_a1B2"), Ok("cs_test_a1B2"));
        let long = format!("prod_{}", "a".repeat(MAX_STRIPE_ID));
        for bad in ["", "prod_", "price_1", "prod_1/../../v1/customers", "prod_1?x=1", "prod_1 ", "prod_é", &long] {
            assert!(stripe_id("prod_", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn site_names_and_origin_lists() {
        assert_eq!(site_name("  My blog ").unwrap(), "My blog");
        for bad in ["", "   ", "a\nb", &"x".repeat(MAX_NAME + 1)] {
            assert!(site_name(bad).is_err(), "{bad:?}");
        }
        let typed = vec![
            "https://Blog.example/page".to_string(),
            "https://blog.example".into(),
            "http://localhost:3000".into(),
        ];
        assert_eq!(allowed_origins(&typed).unwrap(), vec!["https://blog.example", "http://localhost:3000"]);
        assert!(allowed_origins(&["http://blog.example".to_string()]).is_err(), "plain http only on loopback");
        assert!(allowed_origins(&["https://a.com@evil.com".to_string()]).is_err());
        assert_eq!(
            allowed_origins(&vec!["https://a.com".to_string(); MAX_ORIGINS + 1]),
            Err(ValidationError::TooManyOrigins)
        );
        assert_eq!(allowed_origins(&[]).unwrap(), Vec::<String>::new());
        let bare = ["blog.example".to_string(), " www.example.com/pricing ".to_string(), "localhost:8787".to_string()];
        assert_eq!(
            allowed_origins(&bare).unwrap(),
            vec!["https://blog.example", "https://www.example.com", "http://localhost:8787"],
            "bare domains are completed"
        );
        assert!(allowed_origins(&["not a domain".to_string()]).is_err());
    }

    #[test]
    fn success_urls_carry_the_session_template() {
        assert_eq!(checkout_success_url("https://a.com/p"), "https://a.com/p?latch_session={CHECKOUT_SESSION_ID}");
        assert_eq!(
            checkout_success_url("https://a.com/p?x=1&latch_session=cs_old#top"),
            "https://a.com/p?x=1&latch_session={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(return_page("https://a.com/p?latch_session=cs_1"), "https://a.com/p");
        assert_eq!(return_page("https://a.com/?a=1&latch_session=cs_1&b=2"), "https://a.com/?a=1&b=2");
    }
}
