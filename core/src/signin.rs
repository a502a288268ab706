//! Sign-in codes: the 6-digit codes emailed to members (and site owners) to sign in.
//!
//! A code is drawn uniformly from caller-supplied random bytes (rejection sampling, no modulo bias), sent once by
//! email, and stored only as a keyed hash (HMAC-SHA256 with the token secret, bound to site, audience and email).
//! It expires after [`CODE_TTL_SECS`], is burned after [`MAX_ATTEMPTS`] wrong tries, and is single-use. The email
//! carries the code to type, not a link that signs in, so link scanners cannot burn or use it.
//! Core decides; the edge stores the hash, counts attempts and marks codes used.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A code is valid for 10 minutes.
pub const CODE_TTL_SECS: i64 = 10 * 60;

/// After this many wrong attempts a code is burned, even for the right digits.
pub const MAX_ATTEMPTS: i64 = 5;

/// Random bytes [`issue`] wants: 8 draws of 4 bytes; all 8 are rejected with probability below 10^-29.
pub const RANDOM_BYTES: usize = 32;

/// Largest multiple of 10^6 not above 2^32: draws at or above it are rejected so every code is equally likely.
const LIMIT: u32 = 4_294_000_000;

/// A freshly issued code: the digits go into the email, only the hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The six digits to email.
    pub code: String,
    /// Keyed hash to store (hex).
    pub code_hash: String,
    /// Unix seconds after which the code no longer works.
    pub expires_at: i64,
}

/// A stored code, as the edge loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// Keyed hash (hex) written at issue time.
    pub code_hash: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Wrong attempts so far.
    pub attempts: i64,
    /// Whether it was already used to sign in.
    pub used: bool,
}

/// What to do with one typed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Right code in time: sign in, and mark the code used.
    Accept,
    /// Wrong code: count the attempt; `attempts_left` more tries remain.
    Reject {
        /// Tries left after this one.
        attempts_left: i64,
    },
    /// Used, or too many wrong attempts (this one included): the code is dead; count the attempt.
    Burned,
    /// Past its expiry.
    Expired,
}

/// Draws a uniform 6-digit code from `random` (4 bytes per draw, rejection sampling). `None` if every draw was
/// rejected (practically never with [`RANDOM_BYTES`]; the caller then asks for fresh bytes).
pub fn code_from_random(random: &[u8]) -> Option<String> {
    random
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .find(|&n| n < LIMIT)
        .map(|n| format!("{:06}", n % 1_000_000))
}

/// The keyed hash of a code for one site, audience and email (hex HMAC-SHA256).
pub fn code_hash(secret: &[u8], site: &str, audience: &str, email: &str, code: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for part in ["latch-signin-code-v1", site, audience, email, code] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Issues a code for `email` on `site` (`audience` tells members from owners); `None` if `random` had no usable draw.
pub fn issue(secret: &[u8], site: &str, audience: &str, email: &str, random: &[u8], now: i64) -> Option<Issued> {
    let code = code_from_random(random)?;
    let code_hash = code_hash(secret, site, audience, email, &code);
    Some(Issued { code, code_hash, expires_at: now + CODE_TTL_SECS })
}

/// The digits of what a person typed: spaces and dashes are ignored; anything else that is not exactly six digits
/// is simply a wrong code.
pub fn normalize(typed: &str) -> String {
    typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

/// Decides one attempt at `stored` with `typed`.
pub fn check(
    stored: &StoredCode,
    secret: &[u8],
    site: &str,
    audience: &str,
    email: &str,
    typed: &str,
    now: i64,
) -> Attempt {
    if stored.used || stored.attempts >= MAX_ATTEMPTS {
        return Attempt::Burned;
    }
    if now >= stored.expires_at {
        return Attempt::Expired;
    }
    let typed = normalize(typed);
    let digits = typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit());
    let hash = code_hash(secret, site, audience, email, &typed);
    let same: bool = hash.as_bytes().ct_eq(stored.code_hash.as_bytes()).into();
    if digits && same {
        return Attempt::Accept;
    }
    let attempts_left = MAX_ATTEMPTS - stored.attempts - 1;
    if attempts_left <= 0 { Attempt::Burned } else { Attempt::Reject { attempts_left } }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-of-enough-length-000";

    fn stored(code: &str) -> StoredCode {
        StoredCode {
            code_hash: code_hash(SECRET, "site_a", "member", "a@example.com", code),
            expires_at: 1600,
            attempts: 0,
            used: false,
        }
    }

    fn attempt(s: &StoredCode, typed: &str, now: i64) -> Attempt {
        check(s, SECRET, "site_a", "member", "a@example.com", typed, now)
    }

    #[test]
    fn codes_are_six_digits_without_bias() {
        assert_eq!(code_from_random(&[0, 0, 0, 0]).as_deref(), Some("000000"));
        assert_eq!(code_from_random(&0x0001_E240u32.to_be_bytes()).as_deref(), Some("123456"));
        // The top of the u32 range would favour low codes: rejected, the next draw is used.
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&LIMIT.to_be_bytes());
        bytes.extend_from_slice(&(LIMIT - 1).to_be_bytes());
        assert_eq!(code_from_random(&bytes).as_deref(), Some("999999"));
        assert_eq!(code_from_random(&u32::MAX.to_be_bytes()), None);
        assert_eq!(code_from_random(&[1, 2, 3]), None);
        assert_eq!(LIMIT % 1_000_000, 0);
        assert!(u64::from(LIMIT) + 1_000_000 > 1 << 32);
    }

    #[test]
    fn issue_stores_only_a_keyed_hash() {
        let issued = issue(SECRET, "site_a", "member", "a@example.com", &[0, 1, 226, 64], 1000).unwrap();
        assert_eq!(issued.code, "123456");
        assert_eq!(issued.expires_at, 1000 + CODE_TTL_SECS);
        assert_eq!(issued.code_hash.len(), 64);
        assert!(!issued.code_hash.contains("123456"));
        // Bound to key, site, audience and email.
        assert_ne!(issued.code_hash, code_hash(b"other-secret", "site_a", "member", "a@example.com", "123456"));
        assert_ne!(issued.code_hash, code_hash(SECRET, "site_b", "member", "a@example.com", "123456"));
        assert_ne!(issued.code_hash, code_hash(SECRET, "site_a", "owner", "a@example.com", "123456"));
        assert_ne!(issued.code_hash, code_hash(SECRET, "site_a", "member", "b@example.com", "123456"));
        // Length prefixes: moving a boundary changes the hash.
        assert_ne!(code_hash(SECRET, "ab", "c", "d", "123456"), code_hash(SECRET, "a", "bc", "d", "123456"));
    }

    #[test]
    fn right_code_in_time_is_accepted_with_spacing_forgiven() {
        let s = stored("123456");
        assert_eq!(attempt(&s, "123456", 1000), Attempt::Accept);
        assert_eq!(attempt(&s, " 123 456 ", 1000), Attempt::Accept);
        assert_eq!(attempt(&s, "123-456", 1599), Attempt::Accept);
    }

    #[test]
    fn wrong_codes_count_down_then_burn() {
        let mut s = stored("123456");
        for left in (1..MAX_ATTEMPTS).rev() {
            assert_eq!(attempt(&s, "000000", 1000), Attempt::Reject { attempts_left: left });
            s.attempts += 1;
        }
        assert_eq!(attempt(&s, "000000", 1000), Attempt::Burned, "the fifth wrong code burns it");
        s.attempts += 1;
        assert_eq!(attempt(&s, "123456", 1000), Attempt::Burned, "even the right code fails afterwards");
    }

    #[test]
    fn used_or_expired_codes_fail() {
        let s = StoredCode { used: true, ..stored("123456") };
        assert_eq!(attempt(&s, "123456", 1000), Attempt::Burned);
        let s = stored("123456");
        assert_eq!(attempt(&s, "123456", 1600), Attempt::Expired);
        assert_eq!(attempt(&s, "123456", 5000), Attempt::Expired);
    }

    #[test]
    fn junk_is_just_wrong() {
        let s = stored("123456");
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６", "123456\0"] {
            assert_eq!(attempt(&s, junk, 1000), Attempt::Reject { attempts_left: MAX_ATTEMPTS - 1 }, "{junk:?}");
        }
    }
}
