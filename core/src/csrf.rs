//! CSRF protection of the owners' dashboard: every form carries a synchronizer token bound to the browser's
//! session (an HMAC under the Worker's secret of the session's hash, so nothing extra is stored), and every
//! state-changing request must come from the dashboard's own origin (`Origin` and `Sec-Fetch-Site`).
//!
//! Before sign-in there is no session: the sign-in forms bind their token to a random pre-session cookie instead
//! (login CSRF), with the same functions.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The form field that carries the token.
pub const FIELD: &str = "csrf";

/// The token for forms of the session (or pre-session) identified by `binding` (a hash of the session token).
pub fn token(secret: &[u8], binding: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for part in ["latch-dashboard-csrf-v1", binding] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `presented` is the token of `binding` (constant time). An empty binding never matches.
pub fn token_ok(secret: &[u8], binding: &str, presented: &str) -> bool {
    !binding.is_empty() && bool::from(token(secret, binding).as_bytes().ct_eq(presented.as_bytes()))
}

/// Whether a state-changing request may come from where it says it comes from: a browser's `Sec-Fetch-Site`
/// must be `same-origin`, and an `Origin` header must be the dashboard's own origin (`null` is refused).
/// Requests with neither header (not from a browser) rely on the token alone.
pub fn same_origin(own_origin: &str, origin: Option<&str>, sec_fetch_site: Option<&str>) -> bool {
    let site_ok = sec_fetch_site.is_none_or(|s| s.eq_ignore_ascii_case("same-origin"));
    let origin_ok = origin.is_none_or(|o| o == own_origin);
    site_ok && origin_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_matches_only_its_binding_and_secret() {
        let t = token(SECRET, "session-hash-a");
        assert_eq!(t.len(), 64);
        assert!(token_ok(SECRET, "session-hash-a", &t));
        assert!(!token_ok(SECRET, "session-hash-b", &t));
        assert!(!token_ok(b"another secret of at least 32 bytes", "session-hash-a", &t));
        assert!(!token_ok(SECRET, "session-hash-a", ""));
        assert!(!token_ok(SECRET, "session-hash-a", &t[..63]));
        assert!(!token_ok(SECRET, "", &token(SECRET, "")));
    }

    #[test]
    fn only_the_own_origin_passes() {
        let own = "https://edge.example";
        assert!(same_origin(own, Some(own), Some("same-origin")));
        assert!(same_origin(own, None, None));
        assert!(same_origin(own, Some(own), None));
        assert!(!same_origin(own, Some("https://evil.example"), None));
        assert!(!same_origin(own, Some("null"), None));
        assert!(!same_origin(own, None, Some("cross-site")));
        assert!(!same_origin(own, None, Some("same-site")));
        assert!(!same_origin(own, Some(own), Some("cross-site")));
    }
}
