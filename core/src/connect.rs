//! Stripe Connect OAuth, decided here: the authorize URL, the rules for the single-use `state` and the token answer.
//!
//! The edge stores and sends; it never decides whether a state is good.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How long a Connect `state` stays usable after the owner asked for the authorize URL.
pub const STATE_TTL_SECS: i64 = 15 * 60;

/// The cookie that binds a Connect `state` to the browser that asked for it (base name: `__Host-latch_oauth` over
/// https, `latch_oauth` on loopback http).
pub const OAUTH_COOKIE: &str = "latch_oauth";

/// What Latch needs to build Stripe's OAuth authorize URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeParams<'a> {
    /// `https://connect.stripe.com` in production, the emulator offline.
    pub connect_base: &'a str,
    /// The platform's Connect client id (`ca_...`).
    pub client_id: &'a str,
    /// The single-use random state (sent in clear; stored hashed).
    pub state: &'a str,
    /// `{EDGE}/connect/callback`.
    pub redirect_uri: &'a str,
}

/// `GET {connect_base}/oauth/authorize?response_type=code&client_id&scope=read_write&state&redirect_uri`.
pub fn authorize_url(p: &AuthorizeParams<'_>) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", p.client_id)
        .append_pair("scope", "read_write")
        .append_pair("state", p.state)
        .append_pair("redirect_uri", p.redirect_uri)
        .finish();
    format!("{}/oauth/authorize?{query}", p.connect_base.trim_end_matches('/'))
}

/// SHA-256 hex of a secret (states and cookie nonces are stored only hashed).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A stored `state`, as the edge loaded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredState {
    /// The site being connected.
    pub site_id: String,
    /// What the state is bound to: [`binding`] of the owner session or of the cookie nonce that started it.
    pub binding: String,
    /// Unix seconds after which the state is dead.
    pub expires_at: i64,
    /// Set once the state was used (success or not).
    pub used_at: Option<i64>,
}

/// Why a callback is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// No such state (forged, or from another deployment).
    #[error("this Connect link is unknown; start again from Settings > Payments")]
    Unknown,
    /// The state was already used.
    #[error("this Connect link was already used; start again from Settings > Payments")]
    Replayed,
    /// Too old.
    #[error("this Connect link expired; start again from Settings > Payments")]
    Expired,
    /// The browser finishing the flow is not the one that started it.
    #[error("this Connect link was started in another browser; start again from Settings > Payments")]
    WrongBrowser,
}

/// Prefix of a binding to an owner session (a nonce binding is the bare hash).
const SESSION_BINDING: &str = "owner:";

/// Who started a Connect flow, and so who must finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starter<'a> {
    /// An owner session (its raw token): the callback must carry the same owner's session cookie.
    OwnerSession(&'a str),
    /// The operator token: the callback must carry the random nonce set in [`OAUTH_COOKIE`].
    Nonce(&'a str),
}

/// The value stored with a state for `starter` (only hashes, never the secret itself).
pub fn binding(starter: Starter<'_>) -> String {
    match starter {
        Starter::OwnerSession(token) => format!("{SESSION_BINDING}{}", hash_secret(token)),
        Starter::Nonce(nonce) => hash_secret(nonce),
    }
}

/// Checks a callback's state: known, unused, fresh, and finished by whoever started it. `session` is the raw
/// owner session token of the browser's live session cookie (if any), `cookie_nonce` the raw value of
/// [`OAUTH_COOKIE`] (if sent). A state bound to a session accepts only that session; a nonce-bound state only that
/// nonce.
pub fn check_state(
    stored: Option<&StoredState>,
    session: Option<&str>,
    cookie_nonce: Option<&str>,
    now: i64,
) -> Result<(), StateError> {
    let stored = stored.ok_or(StateError::Unknown)?;
    if stored.used_at.is_some() {
        return Err(StateError::Replayed);
    }
    if now >= stored.expires_at {
        return Err(StateError::Expired);
    }
    let presented = if stored.binding.starts_with(SESSION_BINDING) {
        session.map(|t| binding(Starter::OwnerSession(t)))
    } else {
        cookie_nonce.map(|n| binding(Starter::Nonce(n)))
    }
    .unwrap_or_default();
    let same: bool = subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), stored.binding.as_bytes()).into();
    if same { Ok(()) } else { Err(StateError::WrongBrowser) }
}

/// Whether a stored state was started by an owner session (else by the operator token's nonce).
pub fn started_by_owner(stored: &StoredState) -> bool {
    stored.binding.starts_with(SESSION_BINDING)
}

/// The `Set-Cookie` value binding a Connect flow to a browser (see [`crate::cookie`]).
pub fn oauth_cookie(nonce: &str, secure: bool) -> String {
    crate::cookie::set(OAUTH_COOKIE, nonce, STATE_TTL_SECS, secure)
}

/// Stripe's answer to `POST /oauth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthToken {
    /// The connected account (`acct_...`).
    pub stripe_user_id: String,
    /// Live or test account.
    #[serde(default)]
    pub livemode: bool,
    /// Granted scope.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why the token exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Stripe refused the code (`invalid_grant`, ...).
    #[error("Stripe refused the connection: {0}")]
    Refused(String),
    /// Stripe is failing or rate limiting: try again.
    #[error("Stripe is not answering right now ({0})")]
    Unavailable(u16),
    /// Not the JSON expected.
    #[error("unexpected answer from Stripe's OAuth endpoint: {0}")]
    Malformed(String),
}

/// Parses an `/oauth/token` or `/oauth/deauthorize` answer (OAuth errors are `{"error": "...",
/// "error_description"}`, not the API's error object).
pub fn parse_oauth<T: serde::de::DeserializeOwned>(status: u16, body: &str) -> Result<T, OAuthError> {
    #[derive(Deserialize)]
    struct OAuthErrorBody {
        error: serde_json::Value,
        #[serde(default)]
        error_description: Option<String>,
    }
    match status {
        200..=299 => serde_json::from_str(body).map_err(|e| OAuthError::Malformed(e.to_string())),
        429 | 500..=599 => Err(OAuthError::Unavailable(status)),
        _ => match serde_json::from_str::<OAuthErrorBody>(body) {
            Ok(e) => Err(OAuthError::Refused(e.error_description.unwrap_or_else(|| match e.error {
                serde_json::Value::String(s) => s,
                serde_json::Value::Object(o) => o.get("message").and_then(|m| m.as_str()).unwrap_or("").to_owned(),
                other => other.to_string(),
            }))),
            Err(e) => Err(OAuthError::Malformed(format!("status {status}: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(nonce: &str) -> StoredState {
        StoredState { site_id: "site_a".into(), binding: hash_secret(nonce), expires_at: 1000, used_at: None }
    }

    #[test]
    fn authorize_url_is_encoded() {
        let url = authorize_url(&AuthorizeParams {
            connect_base: "https://connect.stripe.com/",
            client_id: "ca_1",
            state: "s t",
            redirect_uri: "https://edge.example/connect/callback",
        });
        assert_eq!(
            url,
            "https://connect.stripe.com/oauth/authorize?response_type=code&client_id=ca_1&scope=read_write&state=s+t\
             &redirect_uri=https%3A%2F%2Fedge.example%2Fconnect%2Fcallback"
        );
    }

    #[test]
    fn state_rules() {
        let s = stored("n1");
        assert_eq!(check_state(Some(&s), None, Some("n1"), 999), Ok(()));
        assert_eq!(check_state(None, None, Some("n1"), 999), Err(StateError::Unknown));
        assert_eq!(check_state(Some(&s), None, Some("n1"), 1000), Err(StateError::Expired));
        assert_eq!(check_state(Some(&s), None, Some("n2"), 10), Err(StateError::WrongBrowser));
        assert_eq!(check_state(Some(&s), None, None, 10), Err(StateError::WrongBrowser));
        let used = StoredState { used_at: Some(5), ..s };
        assert_eq!(check_state(Some(&used), None, Some("n1"), 10), Err(StateError::Replayed));
    }

    #[test]
    fn a_session_bound_state_needs_the_same_session() {
        let s = StoredState {
            site_id: "site_a".into(),
            binding: binding(Starter::OwnerSession("sess_a")),
            expires_at: 1000,
            used_at: None,
        };
        assert!(!s.binding.contains("sess_a"), "only the hash is stored");
        assert_eq!(check_state(Some(&s), Some("sess_a"), None, 10), Ok(()));
        assert_eq!(check_state(Some(&s), Some("sess_b"), None, 10), Err(StateError::WrongBrowser));
        assert_eq!(check_state(Some(&s), None, None, 10), Err(StateError::WrongBrowser));
        // The session's hash is no nonce: a cookie nonce cannot stand in for the session, nor the reverse.
        assert_eq!(check_state(Some(&s), None, Some("sess_a"), 10), Err(StateError::WrongBrowser));
        let by_nonce = stored("n1");
        assert_eq!(check_state(Some(&by_nonce), Some("n1"), None, 10), Err(StateError::WrongBrowser));
    }

    #[test]
    fn cookies() {
        assert!(oauth_cookie("abc", true).starts_with("__Host-latch_oauth=abc; Path=/;"));
        assert!(oauth_cookie("abc", true).contains("Secure"));
        assert!(!oauth_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn oauth_answers() {
        let t: OAuthToken =
            parse_oauth(200, r#"{"stripe_user_id":"acct_1","livemode":false,"scope":"read_write"}"#).unwrap();
        assert_eq!(t.stripe_user_id, "acct_1");
        let e = parse_oauth::<OAuthToken>(400, r#"{"error":"invalid_grant","error_description":"used code"}"#);
        assert_eq!(e, Err(OAuthError::Refused("used code".into())));
        assert_eq!(parse_oauth::<OAuthToken>(503, ""), Err(OAuthError::Unavailable(503)));
    }
}
