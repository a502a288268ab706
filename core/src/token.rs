//! Member tokens: what the widget holds to prove who the member is.
//!
//! A token is `v1.<payload>.<mac>`: the payload is base64url JSON ([`Claims`]), the mac is HMAC-SHA256 over
//! `v1.<payload>` with the edge's token secret. Tokens are bound to one site and one audience, expire, and carry the
//! member's token generation so the edge can revoke every token of a member by bumping it. Core signs and checks;
//! the caller supplies the secret and the time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const VERSION: &str = "v1";

/// Audience of tokens handed to the browser widget.
pub const WIDGET_AUDIENCE: &str = "widget";

/// Default lifetime of a member token: 30 days (the widget refreshes it through `/v1/access`).
pub const DEFAULT_TTL_SECS: i64 = 30 * 24 * 3600;

/// What a member token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Site public key the token is valid for.
    pub site: String,
    /// Member id.
    pub sub: String,
    /// Audience (`widget`).
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Member's token generation when issued; a higher generation in storage revokes this token.
    pub generation: i64,
}

/// Why a token was refused. Messages never include the secret or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the form `v1.<payload>.<mac>`, or not base64url / JSON.
    #[error("the token is malformed")]
    Malformed,
    /// The mac does not match: forged or altered.
    #[error("the token signature is invalid")]
    BadSignature,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// Issued for another site.
    #[error("the token belongs to another site")]
    WrongSite,
    /// Issued for another audience.
    #[error("the token is not meant for this audience")]
    WrongAudience,
}

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(signed.as_bytes());
    mac
}

/// Signs `claims` with `secret`.
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    // Serializing a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(json));
    let tag = mac(secret, &signed).finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Checks a token's signature, expiry, site and audience; returns its claims.
pub fn verify(token: &str, secret: &[u8], site: &str, audience: &str, now: i64) -> Result<Claims, TokenError> {
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (version, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    if version != VERSION {
        return Err(TokenError::Malformed);
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    mac(secret, signed).verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    if claims.site != site {
        return Err(TokenError::WrongSite);
    }
    if claims.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    Ok(claims)
}

/// Reads the site a token claims without checking anything, so the edge can pick the site before verifying.
pub fn unverified_site(token: &str) -> Option<String> {
    let payload = token.strip_prefix("v1.")?.split('.').next()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Claims>(&json).ok().map(|c| c.site)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-of-enough-length-000";

    fn claims() -> Claims {
        Claims {
            site: "site_a".into(),
            sub: "mem_1".into(),
            aud: WIDGET_AUDIENCE.into(),
            iat: 1000,
            exp: 2000,
            generation: 0,
        }
    }

    #[test]
    fn round_trip() {
        let t = sign(&claims(), SECRET);
        assert_eq!(verify(&t, SECRET, "site_a", WIDGET_AUDIENCE, 1500), Ok(claims()));
        assert_eq!(unverified_site(&t).as_deref(), Some("site_a"));
    }

    #[test]
    fn attacks_are_refused() {
        let t = sign(&claims(), SECRET);
        assert_eq!(verify(&t, b"other", "site_a", WIDGET_AUDIENCE, 1500), Err(TokenError::BadSignature));
        assert_eq!(verify(&t, SECRET, "site_b", WIDGET_AUDIENCE, 1500), Err(TokenError::WrongSite));
        assert_eq!(verify(&t, SECRET, "site_a", "admin", 1500), Err(TokenError::WrongAudience));
        assert_eq!(verify(&t, SECRET, "site_a", WIDGET_AUDIENCE, 2000), Err(TokenError::Expired));
        // A payload swapped for another site's, keeping the old mac.
        let other = sign(&Claims { site: "site_b".into(), ..claims() }, SECRET);
        let (_, mac_a) = t.rsplit_once('.').unwrap();
        let (signed_b, _) = other.rsplit_once('.').unwrap();
        let forged = format!("{signed_b}.{mac_a}");
        assert_eq!(verify(&forged, SECRET, "site_b", WIDGET_AUDIENCE, 1500), Err(TokenError::BadSignature));
        for junk in ["", "v1", "v1..", "v2.e30.AA", "v1.!!!.AA", "a.b.c.d", "v1.e30."] {
            assert!(verify(junk, SECRET, "site_a", WIDGET_AUDIENCE, 1500).is_err(), "{junk}");
        }
    }
}
