//! `Set-Cookie` values for the edge's own cookies (the Connect OAuth binding, the owner session).
//!
//! Every cookie is HttpOnly, `SameSite=Lax` (it rides along on top-level navigations back to the edge, such as
//! Stripe's OAuth redirect) and `Path=/`. Over https it is `Secure` with the `__Host-` prefix (no Domain, pinned to
//! the edge's host); on loopback http (local development) browsers would drop a `Secure` cookie, so the plain name
//! is used without it.

/// The cookie's name: `__Host-{base}` when `secure`, plain `{base}` on loopback http.
pub fn name(base: &str, secure: bool) -> String {
    if secure { format!("__Host-{base}") } else { base.to_owned() }
}

/// `Set-Cookie` value storing `value` for `max_age_secs`.
pub fn set(base: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    format!("{}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly{secure_attr}; SameSite=Lax", name(base, secure))
}

/// `Set-Cookie` value deleting the cookie.
pub fn clear(base: &str, secure: bool) -> String {
    set(base, "", 0, secure)
}

/// A cookie's value from a `Cookie` request header.
pub fn value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_use_the_host_prefix() {
        assert_eq!(
            set("latch_x", "abc", 60, true),
            "__Host-latch_x=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(set("latch_x", "abc", 60, false), "latch_x=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
        assert_eq!(clear("latch_x", true), "__Host-latch_x=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    }

    #[test]
    fn values_are_read_by_exact_name() {
        assert_eq!(value("a=1; latch_oauth=xyz; b=2", "latch_oauth"), Some("xyz"));
        assert_eq!(value("xlatch_oauth=1", "latch_oauth"), None);
        assert_eq!(value("__Host-latch_owner=s1", "latch_owner"), None);
        assert_eq!(value("__Host-latch_owner=s1", &name("latch_owner", true)), Some("s1"));
    }
}
