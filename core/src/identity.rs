//! Host-site identity: a site with its own accounts vouches for a member by signing their email with its site
//! secret, and the edge trades that for a member token (`POST /v1/identify`).
//!
//! The value is `v1.<payload>.<sig>`: `payload` is base64url (no padding) of the JSON `{"email": "...", "exp":
//! <unix seconds>}`, and `sig` is the lowercase hex HMAC-SHA256, keyed with the site secret, of the string
//! `v1.<payload>`. It is refused when malformed, wrongly signed (another site's secret included), expired, or
//! valid for more than [`MAX_LIFETIME_SECS`] from now.
//!
//! Replay: a value sits in the page's HTML, so whoever gets a copy of the page (a shared link to a cached page, a
//! proxy, a screenshot of the source) holds it. Two bounds: the host signs on every render, so a value lives at most
//! ten minutes; and each value is accepted once (the edge keeps [`replay_key`] until the value expires), so a copy
//! is worthless once the reader's own browser used it. The widget keeps the member token it got, and only presents
//! an identity when it holds no token for that email, so the reader's reloads do not need the value again.
//!
//! A site secret is not stored anywhere: it is derived from the edge's token secret, the site id and the site's
//! secret generation ([`site_secret`]); rotating bumps the generation, which retires the old secret at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Longest identity value accepted (an email is at most 254 characters).
const MAX_LEN: usize = 1024;

/// An identity may not be valid for longer than this ahead: ten minutes (the host signs on every render).
pub const MAX_LIFETIME_SECS: i64 = 10 * 60;

/// Prefix of site secrets, so they are recognisable in a config file.
const SECRET_PREFIX: &str = "lss_";

/// What a verified identity says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The member's email, normalized (trimmed, lowercase).
    pub email: String,
    /// Unix seconds after which the identity is refused.
    pub exp: i64,
}

/// Why an identity was refused. Messages never include the secret or the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not `v1.<payload>.<64 hex>`, or the payload is not the JSON expected, or the email is not plausible.
    #[error("the identity is malformed")]
    Malformed,
    /// The signature does not match this site's secret.
    #[error("the identity signature is invalid for this site")]
    BadSignature,
    /// `exp` is in the past.
    #[error("the identity has expired")]
    Expired,
    /// `exp` is more than [`MAX_LIFETIME_SECS`] ahead.
    #[error("the identity is valid for too long (exp at most 10 minutes ahead; sign it on every render)")]
    TooLong,
}

/// The key under which the edge remembers that a value was used (hex SHA-256 of the value), until its `exp`.
pub fn replay_key(value: &str) -> String {
    use sha2::Digest as _;
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The secret of `site` at `generation`: `lss_` + hex HMAC-SHA256 under the edge's token secret.
pub fn site_secret(token_secret: &[u8], site: &str, generation: i64) -> String {
    let mut mac = hmac(token_secret);
    let generation = generation.to_string();
    for part in ["latch-site-secret-v1", site, &generation] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    format!("{SECRET_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Signs an identity as a site's server does (for tests and the documentation's examples).
pub fn sign(email: &str, exp: i64, site_secret: &str) -> String {
    let json = serde_json::json!({ "email": email, "exp": exp }).to_string();
    let signed = format!("v1.{}", URL_SAFE_NO_PAD.encode(json));
    let mut mac = hmac(site_secret.as_bytes());
    mac.update(signed.as_bytes());
    format!("{signed}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an identity against the site's secret at `now`; returns the member it names.
pub fn verify(value: &str, site_secret: &str, now: i64) -> Result<Identity, IdentityError> {
    if value.len() > MAX_LEN {
        return Err(IdentityError::Malformed);
    }
    let (signed, sig) = value.rsplit_once('.').ok_or(IdentityError::Malformed)?;
    let payload = signed.strip_prefix("v1.").ok_or(IdentityError::Malformed)?;
    let lowercase_hex = sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lowercase_hex || payload.contains('.') {
        return Err(IdentityError::Malformed);
    }
    let sig = hex::decode(sig).map_err(|_| IdentityError::Malformed)?;
    let mut mac = hmac(site_secret.as_bytes());
    mac.update(signed.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&sig).map_err(|_| IdentityError::BadSignature)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| IdentityError::Malformed)?;
    let claims: Identity = serde_json::from_slice(&json).map_err(|_| IdentityError::Malformed)?;
    let email = crate::validate::email(&claims.email).map_err(|_| IdentityError::Malformed)?;
    if claims.exp <= now {
        return Err(IdentityError::Expired);
    }
    if claims.exp > now.saturating_add(MAX_LIFETIME_SECS) {
        return Err(IdentityError::TooLong);
    }
    Ok(Identity { email, exp: claims.exp })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_SECRET: &[u8] = b"test-secret-of-enough-length-000";

    fn secret() -> String {
        site_secret(TOKEN_SECRET, "site_a", 0)
    }

    #[test]
    fn round_trip_normalizes_the_email() {
        let v = sign(" Ann@Example.com", 1500, &secret());
        assert_eq!(verify(&v, &secret(), 1000), Ok(Identity { email: "ann@example.com".into(), exp: 1500 }));
    }

    #[test]
    fn secrets_differ_per_site_generation_and_key() {
        let s = secret();
        assert!(s.starts_with("lss_") && s.len() == 4 + 64);
        assert_ne!(s, site_secret(TOKEN_SECRET, "site_b", 0));
        assert_ne!(s, site_secret(TOKEN_SECRET, "site_a", 1));
        assert_ne!(s, site_secret(b"another-token-secret-of-length-0", "site_a", 0));
        assert_eq!(s, site_secret(TOKEN_SECRET, "site_a", 0), "derived, so stable");
    }

    /// The documented construction, spelled out independently of `sign`.
    #[test]
    fn matches_the_documented_contract() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"email":"a@b.co","exp":1700000000}"#);
        let mut mac = hmac(b"lss_example");
        mac.update(format!("v1.{payload}").as_bytes());
        let v = format!("v1.{payload}.{}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(verify(&v, "lss_example", 1_699_999_700).map(|i| i.email), Ok("a@b.co".into()));
    }

    #[test]
    fn each_value_has_its_own_replay_key() {
        let s = secret();
        let a = sign("ann@example.com", 2000, &s);
        assert_eq!(replay_key(&a), replay_key(&a.clone()));
        assert_ne!(replay_key(&a), replay_key(&sign("ann@example.com", 2001, &s)), "a new render, a new key");
        assert_eq!(replay_key(&a).len(), 64);
    }

    #[test]
    fn attacks_are_refused() {
        let s = secret();
        let v = sign("ann@example.com", 2000, &s);
        // Another site's secret, an old generation, a guessed key.
        assert_eq!(verify(&v, &site_secret(TOKEN_SECRET, "site_b", 0), 1000), Err(IdentityError::BadSignature));
        assert_eq!(verify(&v, &site_secret(TOKEN_SECRET, "site_a", 1), 1000), Err(IdentityError::BadSignature));
        // Signed by the other site: refused by this one.
        let other = sign("ann@example.com", 2000, &site_secret(TOKEN_SECRET, "site_b", 0));
        assert_eq!(verify(&other, &s, 1000), Err(IdentityError::BadSignature));
        // Tampered payload keeping the signature.
        let (_, sig) = v.rsplit_once('.').unwrap();
        let evil = URL_SAFE_NO_PAD.encode(br#"{"email":"boss@example.com","exp":2000}"#);
        assert_eq!(verify(&format!("v1.{evil}.{sig}"), &s, 1000), Err(IdentityError::BadSignature));
        // A flipped signature digit; uppercase hex is not the contract.
        let flipped = format!("{}{}", &v[..v.len() - 1], if v.ends_with('0') { '1' } else { '0' });
        assert_eq!(verify(&flipped, &s, 1000), Err(IdentityError::BadSignature));
        assert_eq!(verify(&v.to_uppercase(), &s, 1000), Err(IdentityError::Malformed));
        // Expired, or valid for too long.
        assert_eq!(verify(&v, &s, 2000), Err(IdentityError::Expired));
        assert_eq!(verify(&sign("a@b.co", 1000 + MAX_LIFETIME_SECS, &s), &s, 1000).map(|i| i.exp), Ok(1000 + 600));
        assert_eq!(verify(&sign("a@b.co", 1001 + MAX_LIFETIME_SECS, &s), &s, 1000), Err(IdentityError::TooLong));
        assert_eq!(verify(&sign("a@b.co", i64::MAX, &s), &s, 1000), Err(IdentityError::TooLong));
        // A well-signed payload that is not an identity.
        assert_eq!(verify(&sign("not-an-email", 2000, &s), &s, 1000), Err(IdentityError::Malformed));
        for junk in ["", "v1", "v1..", "v2.e30.00", &format!("v1.e30.{}", "0".repeat(63)), &"v1.".repeat(400)] {
            assert_eq!(verify(junk, &s, 1000), Err(IdentityError::Malformed), "{junk:?}");
        }
        let unsigned_json = format!("v1.e30.{}", {
            let mut mac = hmac(s.as_bytes());
            mac.update(b"v1.e30");
            hex::encode(mac.finalize().into_bytes())
        });
        assert_eq!(verify(&unsigned_json, &s, 1000), Err(IdentityError::Malformed), "signed {{}} has no email");
    }
}
