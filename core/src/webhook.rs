//! Stripe webhook signature verification (`Stripe-Signature`), byte for byte as Stripe's official libraries do it.
//!
//! Owns: parsing the `Stripe-Signature` header, HMAC-SHA256 over `"{t}.{raw body}"`, constant-time comparison,
//! the age check, and several endpoint secrets at once. Must not: parse the event (that is [`crate::event`]),
//! read a clock (`now` is an argument), or put a secret or an expected signature into an error.
//!
//! # Behaviour (the reference is `stripe.WebhookSignature.verify_header` of stripe-python 16, which produced
//! `tests/fixtures/stripe/signature-vectors.json`; stripe-node 23 agrees on every case that matters)
//! - The key is the whole `whsec_...` string as UTF-8 bytes (it is *not* base64-decoded).
//! - The signed payload is `"{t}.{raw body}"` where `{t}` is the header's timestamp re-printed as a canonical
//!   decimal integer (Python's `"%d" % int(t)`: `t=+0012` signs `"12."`), HMAC-SHA256, lowercase hex. The raw body
//!   is hashed as received; Stripe only ever sends UTF-8 JSON.
//! - The header is split on `,`; each item is split on `=`: the key is the text before the first `=`, the value the
//!   text between the first and a possible second `=`. Keys are compared exactly (`" v1"` is not `v1`, so
//!   `t=1, v1=..` has no `v1`). The *first* `t` counts; its value is parsed like Python's `int()` (surrounding
//!   whitespace, an optional sign, `_` between digits; ASCII digits only). Any `t` or `v1` item without `=`, no `t`,
//!   or an unparsable `t` is [`SignatureError::MalformedHeader`].
//! - Every `v1` is a candidate; any one matching passes (secret rotation sends one `v1` per live secret). `v0` and
//!   unknown schemes are ignored; a header with no `v1` is [`SignatureError::NoV1Signature`]. Uppercase hex does not
//!   match (the official libraries compare strings).
//! - Several endpoint secrets are accepted at once (platform + Connect endpoints, rotation): the header passes when
//!   one `v1` matches one secret. Blank secrets (empty or only whitespace) are skipped, never used as a key: a
//!   stray comma in `STRIPE_WEBHOOK_SECRETS` must not make the empty key valid.
//! - Checks run in the official order: header present, secrets present, header parses, a `v1` exists, a signature
//!   matches, then the age: `t < now - tolerance` fails with [`SignatureError::TimestampTooOld`].
//!   `tolerance_secs == 0` disables the age check (as in both official libraries); [`DEFAULT_TOLERANCE_SECS`] is 300.
//!
//! # Policy: timestamps in the future
//! Accepted, whatever their distance, exactly as both official libraries do: only the *age* of `t` is checked.
//! Rationale: the signature already proves Stripe produced the header, a Worker's clock can be behind Stripe's, and
//! rejecting would make Stripe retry a valid delivery for days. Replays are bounded by the age check plus the edge's
//! `processed_events` table (event ids are idempotency keys), not by refusing future timestamps. The engine never
//! uses the header's `t`: ordering uses Stripe's object/event timestamps only (see [`crate::engine`]).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Default age tolerance of the `t=` timestamp in seconds, the official libraries' default.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a webhook delivery was rejected. Never contains a secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The `Stripe-Signature` header is missing or empty.
    #[error("no Stripe-Signature header value was provided")]
    MissingHeader,
    /// No usable endpoint secret was configured (the list is empty or every secret is blank).
    #[error("no webhook secret is configured")]
    NoSecrets,
    /// The header has no `t=` item, an unparsable timestamp, or a `t`/`v1` item without `=`.
    #[error("unable to extract timestamp and signatures from the Stripe-Signature header")]
    MalformedHeader,
    /// The header carries no signature with the `v1` scheme (`v0` and unknown schemes are ignored).
    #[error("no signatures found with expected scheme v1")]
    NoV1Signature,
    /// No `v1` signature matches the payload under any configured secret.
    #[error("no signatures found matching the expected signature for the payload")]
    NoMatchingSignature,
    /// The signature matches but its timestamp is older than the tolerance allows.
    #[error("timestamp outside the tolerance zone ({timestamp}, now {now}, tolerance {tolerance_secs} s)")]
    TimestampTooOld {
        /// The header's `t`, saturated to the `i64` range.
        timestamp: i64,
        /// The `now` the caller passed.
        now: i64,
        /// The tolerance the caller passed.
        tolerance_secs: i64,
    },
}

type HmacSha256 = Hmac<Sha256>;

/// Verifies a Stripe webhook delivery: `payload` is the raw request body, `header` the `Stripe-Signature` value,
/// `secrets` every accepted endpoint secret (`whsec_...`), `now` the current Unix time in seconds and
/// `tolerance_secs` the accepted age of the header's timestamp (0 disables the age check).
pub fn verify(
    payload: &[u8],
    header: &str,
    secrets: &[&str],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    if header.is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    let mut usable = secrets.iter().filter(|s| !is_blank(s)).peekable();
    if usable.peek().is_none() {
        return Err(SignatureError::NoSecrets);
    }
    let parsed = parse_header(header)?;
    if !parsed.has_v1 {
        return Err(SignatureError::NoV1Signature);
    }
    let matched = usable.any(|secret| {
        let expected = compute_signature(secret, parsed.timestamp.canonical(), payload);
        v1_signatures(header).fold(false, |any, sig| any | same_signature(&expected, sig.as_bytes()))
    });
    if !matched {
        return Err(SignatureError::NoMatchingSignature);
    }
    if tolerance_secs != 0 && parsed.timestamp.value < i128::from(now) - i128::from(tolerance_secs) {
        return Err(SignatureError::TimestampTooOld {
            timestamp: saturate(parsed.timestamp.value),
            now,
            tolerance_secs,
        });
    }
    Ok(())
}

/// Builds a `Stripe-Signature` header (`t={timestamp},v1={hex}`) for `payload` under `secret`, as Stripe does.
/// For tests, the local Stripe emulator and benchmarks; production code only verifies.
pub fn signature_header(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let t = timestamp.to_string();
    let sig = compute_signature(secret, &t, payload);
    let mut out = String::with_capacity(t.len() + 70);
    out.push_str("t=");
    out.push_str(&t);
    out.push_str(",v1=");
    out.extend(sig.iter().map(|b| char::from(*b)));
    out
}

/// Lowercase hex HMAC-SHA256 of `"{t}.{payload}"` keyed with the secret's UTF-8 bytes.
fn compute_signature(secret: &str, t: &str, payload: &[u8]) -> [u8; 64] {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        // HMAC accepts keys of any length, so this branch is unreachable; fall back to an impossible signature
        // rather than panicking.
        .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(payload);
    let digest = mac.finalize().into_bytes();
    let mut hex = [0u8; 64];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        if let [hi, lo] = pair {
            *hi = DIGITS[usize::from(byte >> 4)];
            *lo = DIGITS[usize::from(byte & 0x0f)];
        }
    }
    hex
}

/// Constant-time comparison of the expected hex signature with a candidate: the length is public (an early
/// `false`), the bytes are compared without a data-dependent branch, 8 at a time, and only the folded difference
/// goes through `subtle` (one barrier instead of one per byte).
fn same_signature(expected: &[u8; 64], candidate: &[u8]) -> bool {
    let Ok(candidate) = <&[u8; 64]>::try_from(candidate) else { return false };
    let word = |chunk: &[u8]| u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
    let diff =
        expected.chunks_exact(8).zip(candidate.chunks_exact(8)).fold(0u64, |acc, (a, b)| acc | (word(a) ^ word(b)));
    bool::from(diff.ct_eq(&0))
}

fn is_blank(secret: &str) -> bool {
    secret.trim_matches([' ', '\t', '\r', '\n', '\x0c', '\x0b']).is_empty()
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// A parsed `t=` value: its canonical decimal text (what gets signed) and its numeric value (for the age check).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Timestamp<'h> {
    /// Borrowed from the header when it is already canonical (Stripe's `t=1790000100`).
    text: Cow<'h, str>,
    /// Saturated to the `i128` range; comparisons against `i64` arithmetic stay exact.
    value: i128,
}

impl Timestamp<'_> {
    fn canonical(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedHeader<'h> {
    timestamp: Timestamp<'h>,
    /// Whether the header has a `v1` item ([`v1_signatures`] lists them).
    has_v1: bool,
}

/// The header's items as (key, value) pairs, split like stripe-python does.
fn items(header: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    header.split(',').map(|item| {
        let mut parts = item.splitn(3, '=');
        (parts.next().unwrap_or_default(), parts.next())
    })
}

/// Every `v1` signature of a header that [`parse_header`] accepted.
fn v1_signatures(header: &str) -> impl Iterator<Item = &str> {
    items(header).filter_map(|(key, value)| if key == "v1" { value } else { None })
}

/// Parses the header like stripe-python's `_get_timestamp_and_signatures`.
fn parse_header(header: &str) -> Result<ParsedHeader<'_>, SignatureError> {
    let mut first_t: Option<&str> = None;
    let mut has_v1 = false;
    for (key, value) in items(header) {
        match key {
            "t" => {
                let value = value.ok_or(SignatureError::MalformedHeader)?;
                first_t.get_or_insert(value);
            }
            "v1" => {
                value.ok_or(SignatureError::MalformedHeader)?;
                has_v1 = true;
            }
            _ => {}
        }
    }
    let timestamp = first_t.and_then(parse_python_int).ok_or(SignatureError::MalformedHeader)?;
    Ok(ParsedHeader { timestamp, has_v1 })
}

/// Python's `int(str)` for ASCII digits: surrounding whitespace, optional sign, single `_` between digits.
fn parse_python_int(raw: &str) -> Option<Timestamp<'_>> {
    // Stripe's own form, plain digits without a leading zero, is already canonical: no copy.
    if !raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0') {
        let value = raw.bytes().fold(0i128, |v, b| v * 10 + i128::from(b - b'0'));
        return Some(Timestamp { text: Cow::Borrowed(raw), value });
    }
    let s = raw.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c));
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut text = String::with_capacity(digits.len() + 1);
    let mut value: i128 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(10)?;
        if text.is_empty() && d == 0 {
            continue; // leading zeros are not part of the canonical text
        }
        text.push(c);
        value = value.saturating_mul(10).saturating_add(i128::from(d));
    }
    if text.is_empty() {
        text.push('0');
    } else if negative {
        text.insert(0, '-');
        value = -value;
    }
    Some(Timestamp { text: Cow::Owned(text), value })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    fn header_at(t: i64) -> String {
        signature_header(BODY, SECRET, t)
    }

    #[test]
    fn valid_signature_passes() {
        assert_eq!(verify(BODY, &header_at(1000), &[SECRET], 1000, 300), Ok(()));
    }

    #[test]
    fn errors_in_official_order() {
        let cases: &[(&str, &[&str], Result<(), SignatureError>)] = &[
            ("", &[SECRET], Err(SignatureError::MissingHeader)),
            ("t=1,v1=ab", &[], Err(SignatureError::NoSecrets)),
            ("t=1,v1=ab", &["", " \t"], Err(SignatureError::NoSecrets)),
            ("v1=ab", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t,v1=ab", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t=1,v1", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t=1.5,v1=ab", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t=1__0,v1=ab", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t=,v1=ab", &[SECRET], Err(SignatureError::MalformedHeader)),
            ("t=1,v0=ab", &[SECRET], Err(SignatureError::NoV1Signature)),
            ("t=1, v1=ab", &[SECRET], Err(SignatureError::NoV1Signature)),
            ("t=1,v1=ab", &[SECRET], Err(SignatureError::NoMatchingSignature)),
        ];
        for (header, secrets, want) in cases {
            assert_eq!(&verify(BODY, header, secrets, 1, 300), want, "header {header:?}");
        }
    }

    #[test]
    fn age_is_checked_after_the_signature_and_the_future_is_accepted() {
        let h = header_at(1000);
        assert_eq!(verify(BODY, &h, &[SECRET], 1300, 300), Ok(()));
        assert_eq!(
            verify(BODY, &h, &[SECRET], 1301, 300),
            Err(SignatureError::TimestampTooOld { timestamp: 1000, now: 1301, tolerance_secs: 300 })
        );
        assert_eq!(verify(BODY, &h, &[SECRET], 1_000_000, 0), Ok(()), "tolerance 0 disables the age check");
        assert_eq!(verify(BODY, &h, &[SECRET], -1_000_000, 300), Ok(()), "future timestamps are accepted");
        assert_eq!(verify(BODY, &h, &["whsec_other"], 5000, 300), Err(SignatureError::NoMatchingSignature));
    }

    #[test]
    fn any_secret_and_any_v1_may_match() {
        let good = header_at(1000);
        let sig = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let rotated = format!("t=1000,v1={},v1={sig},v0=zz,v9=x", "0".repeat(64));
        assert_eq!(verify(BODY, &rotated, &["whsec_old", SECRET], 1000, 300), Ok(()));
        assert_eq!(verify(BODY, &rotated, &["", SECRET], 1000, 300), Ok(()));
        let upper = format!("t=1000,v1={}", sig.to_ascii_uppercase());
        assert_eq!(verify(BODY, &upper, &[SECRET], 1000, 300), Err(SignatureError::NoMatchingSignature));
    }

    #[test]
    fn timestamp_is_signed_in_canonical_form() {
        let good = header_at(1000);
        let sig = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        for t in ["+1000", "0001000", " 1000 ", "1_000", "\t+0_1000\n"] {
            let h = format!("t={t},v1={sig}");
            assert_eq!(verify(BODY, &h, &[SECRET], 1000, 300), Ok(()), "t={t:?}");
        }
        // The first `t` counts, a third `=`-part is ignored.
        let h = format!("t=1000,t=999,v1={sig}=junk");
        assert_eq!(verify(BODY, &h, &[SECRET], 1000, 300), Ok(()));
    }

    #[test]
    fn signature_comparison() {
        let expected = compute_signature(SECRET, "1000", BODY);
        assert!(same_signature(&expected, &expected));
        for at in 0..64 {
            let mut other = expected;
            other[at] ^= 1;
            assert!(!same_signature(&expected, &other), "byte {at}");
        }
        assert!(!same_signature(&expected, &expected[..63]));
        assert!(!same_signature(&expected, b""));
        let mut longer = expected.to_vec();
        longer.push(b'0');
        assert!(!same_signature(&expected, &longer));
    }

    #[test]
    fn python_int_parser() {
        let p = |s: &str| parse_python_int(s).map(|t| (t.text.into_owned(), t.value));
        assert_eq!(p("-0"), Some(("0".into(), 0)));
        assert_eq!(p("-012"), Some(("-12".into(), -12)));
        assert_eq!(
            p("99999999999999999999999"),
            Some(("99999999999999999999999".into(), 99_999_999_999_999_999_999_999))
        );
        assert_eq!(p("_1"), None);
        assert_eq!(p("1_"), None);
        assert_eq!(p("+"), None);
        assert_eq!(p("--1"), None);
        assert_eq!(p("١"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("0"), Some(("0".into(), 0)));
        assert_eq!(p("1790000100"), Some(("1790000100".into(), 1_790_000_100)));
        assert!(matches!(parse_python_int("1790000100").map(|t| t.text), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn huge_timestamps_do_not_overflow() {
        let h = "t=-99999999999999999999999999999999999999999999,v1=ab";
        assert_eq!(verify(BODY, h, &[SECRET], i64::MAX, i64::MIN), Err(SignatureError::NoMatchingSignature));
        let sig = compute_signature(SECRET, "-99999999999999999999999999999999999999999999", BODY);
        let h = format!("t=-99999999999999999999999999999999999999999999,v1={}", String::from_utf8_lossy(&sig));
        assert_eq!(
            verify(BODY, &h, &[SECRET], i64::MAX, i64::MAX),
            Err(SignatureError::TimestampTooOld { timestamp: i64::MIN, now: i64::MAX, tolerance_secs: i64::MAX })
        );
    }
}
