//! Site owners: their sign-in (the members' emailed codes, audience [`AUDIENCE`]) and their sessions.
//!
//! A session token is 32 random bytes in base64url (43 characters). The edge stores only its SHA-256 hash, with the
//! owner, an expiry ([`SESSION_TTL_SECS`]) and a revocation time. The JSON APIs take it as a bearer token; the
//! server-rendered dashboard reads it from the [`SESSION_COOKIE`] cookie. Core decides what is live; the edge
//! stores and looks up.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Audience of owner sign-in codes (members use [`crate::token::WIDGET_AUDIENCE`]).
pub const AUDIENCE: &str = "owner";

/// The `site` an owner's sign-in code is bound to: owners sign in to Latch, not to one site. Real site ids all
/// start with `site_`, so this never names a site.
pub const CODE_SCOPE: &str = "latch-owners";

/// An owner session lasts 30 days.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 3600;

/// Random bytes in a session token.
pub const SESSION_BYTES: usize = 32;

/// Base name of the dashboard's session cookie (`__Host-latch_owner` over https, `latch_owner` on loopback http).
pub const SESSION_COOKIE: &str = "latch_owner";

/// The session token for `random` (base64url, no padding).
pub fn session_token(random: &[u8; SESSION_BYTES]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// Whether `token` has the shape of a session token (43 base64url characters), checked before any lookup.
pub fn is_session_token(token: &str) -> bool {
    token.len() == 43 && URL_SAFE_NO_PAD.decode(token).is_ok_and(|b| b.len() == SESSION_BYTES)
}

/// What is stored for a token: its SHA-256 (hex). A leaked table does not hand out sessions.
pub fn session_hash(token: &str) -> String {
    crate::connect::hash_secret(token)
}

/// A stored session, as the edge loads it by hash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredSession {
    /// The owner signed in.
    pub owner_id: String,
    /// Unix seconds after which the session is dead.
    pub expires_at: i64,
    /// Set when the owner signed out.
    pub revoked_at: Option<i64>,
}

/// Whether a stored session still signs its owner in at `now`.
pub fn session_live(session: &StoredSession, now: i64) -> bool {
    session.revoked_at.is_none() && now < session.expires_at
}

/// Audience of the codes an owner types to confirm a sensitive change (kept apart from sign-in codes).
pub const CONFIRM_AUDIENCE: &str = "owner-confirm";

/// How long a confirmation (a fresh code typed in this session) lets the session make sensitive changes.
pub const CONFIRM_TTL_SECS: i64 = 10 * 60;

/// Something an owner session does that decides where a site's money goes or who its members are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    /// Connecting a site that never had a Stripe account.
    FirstConnection,
    /// Connecting a site that has (or had) an account: the money would go elsewhere.
    Reconnect,
    /// Disconnecting the account.
    Disconnect,
    /// Reading or rotating the site's identity secret, which signs in any member (`crate::identity`).
    SiteSecret,
}

impl Sensitive {
    /// What a connect flow on a site is, given whether it has (or had) an account.
    pub fn connect(has_account: bool) -> Self {
        if has_account { Self::Reconnect } else { Self::FirstConnection }
    }
}

/// Whether an owner session must first confirm with a fresh emailed code: for everything [`Sensitive`] but a site's
/// first connection, unless the session confirmed within [`CONFIRM_TTL_SECS`]. (The operator token needs none.) A
/// stolen session alone then neither sends a site's money elsewhere nor signs in as its members.
pub fn needs_confirmation(action: Sensitive, confirmed_at: Option<i64>, now: i64) -> bool {
    action != Sensitive::FirstConnection && confirmed_at.is_none_or(|at| now >= at + CONFIRM_TTL_SECS)
}

/// `Set-Cookie` value carrying a session to the dashboard (see [`crate::cookie`]).
pub fn session_cookie(token: &str, secure: bool) -> String {
    crate::cookie::set(SESSION_COOKIE, token, SESSION_TTL_SECS, secure)
}

/// `Set-Cookie` value deleting the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    crate::cookie::clear(SESSION_COOKIE, secure)
}

/// The session token in a `Cookie` request header, if it has a session token's shape.
pub fn session_from_cookies(header: &str, secure: bool) -> Option<&str> {
    crate::cookie::value(header, &crate::cookie::name(SESSION_COOKIE, secure)).filter(|t| is_session_token(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_base64url_characters_stored_hashed() {
        let token = session_token(&[7; SESSION_BYTES]);
        assert_eq!(token.len(), 43);
        assert!(is_session_token(&token));
        let hash = session_hash(&token);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&token));
        assert_ne!(hash, session_hash(&session_token(&[8; SESSION_BYTES])));
        for bad in ["", "abc", &"A".repeat(44), &format!("{}!", &token[..42]), "v1.e30.AA"] {
            assert!(!is_session_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn sensitive_actions_need_a_fresh_code_but_the_first_connection() {
        use Sensitive::*;
        assert!(!needs_confirmation(FirstConnection, None, 1000));
        assert!(needs_confirmation(Reconnect, None, 1000));
        assert!(needs_confirmation(Disconnect, None, 1000));
        assert!(!needs_confirmation(Disconnect, Some(1000), 1000 + CONFIRM_TTL_SECS - 1));
        assert!(needs_confirmation(Disconnect, Some(1000), 1000 + CONFIRM_TTL_SECS));
        assert!(needs_confirmation(SiteSecret, None, 1000));
        assert_eq!(Sensitive::connect(true), Reconnect);
        assert_eq!(Sensitive::connect(false), FirstConnection);
    }

    #[test]
    fn sessions_expire_and_revoke() {
        let s = StoredSession { owner_id: "own_1".into(), expires_at: 100, revoked_at: None };
        assert!(session_live(&s, 99));
        assert!(!session_live(&s, 100));
        assert!(!session_live(&StoredSession { revoked_at: Some(50), ..s }, 60));
    }

    #[test]
    fn cookies_carry_the_session_only_under_their_name() {
        let token = session_token(&[1; SESSION_BYTES]);
        let set = session_cookie(&token, true);
        assert!(set.starts_with(&format!("__Host-latch_owner={token}; Path=/; Max-Age=2592000; HttpOnly; Secure")));
        assert!(set.ends_with("SameSite=Lax"));
        assert!(!session_cookie(&token, false).contains("Secure"));
        assert!(clear_session_cookie(false).starts_with("latch_owner=; Path=/; Max-Age=0;"));
        let header = format!("a=1; __Host-latch_owner={token}");
        assert_eq!(session_from_cookies(&header, true), Some(token.as_str()));
        assert_eq!(session_from_cookies(&header, false), None, "loopback reads the plain name only");
        assert_eq!(session_from_cookies("latch_owner=junk", false), None);
    }
}
