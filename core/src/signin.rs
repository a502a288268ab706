//! Sign-in codes: the codes emailed to members (and site owners) to sign in, and the rules that keep guessing them
//! hopeless without locking anyone out.
//!
//! - **Bound to the browser that asked.** Asking for a code answers a random challenge ([`challenge`]) to the
//!   browser; the code only works together with it. Another browser asking for a code for the same address gets its
//!   own code and challenge, so a stranger's requests never supersede, and a stranger's wrong guesses never burn, the
//!   code a real person is typing.
//! - **Six digits, at most [`SHORT_CODES_PER_DAY`] a day per address**, each burned after [`MAX_ATTEMPTS`] wrong
//!   tries: at most 20 guesses at an address's six-digit codes per day, from every network together
//!   ([`kind_for`]).
//! - **Then ten characters.** Past that quota a code is 10 characters of Crockford's base32 (50 bits), which needs no
//!   daily cap, so someone flooding an address can make its codes longer but never stops its owner signing in.
//!
//! A code is drawn uniformly from caller-supplied random bytes (no modulo bias), sent once by email, and stored only
//! as a keyed hash (HMAC-SHA256 with the token secret, bound to site, audience, email and challenge). It expires after
//! [`CODE_TTL_SECS`] and is single-use. The email carries the code to type, not a link that signs in, so link
//! scanners cannot burn or use it. Core decides; the edge stores hashes, counts attempts and marks codes used.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A code is valid for 10 minutes.
pub const CODE_TTL_SECS: i64 = 10 * 60;

/// After this many wrong attempts a code is burned, even for the right characters.
pub const MAX_ATTEMPTS: i64 = 5;

/// Six-digit codes an address gets per day (UTC); later codes are long ones.
pub const SHORT_CODES_PER_DAY: i64 = 4;

/// Random bytes [`issue`] wants: enough for 8 six-digit draws (all 8 rejected with probability below 10^-29) or one
/// long code.
pub const RANDOM_BYTES: usize = 32;

/// Random bytes in a challenge.
pub const CHALLENGE_BYTES: usize = 32;

/// Largest multiple of 10^6 not above 2^32: draws at or above it are rejected so every code is equally likely.
const LIMIT: u32 = 4_294_000_000;

/// Crockford's base32 alphabet (no I, L, O, U): what long codes are made of.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a long code.
const LONG_LEN: usize = 10;

/// The two shapes of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Six digits (about 20 bits): the everyday code.
    Short,
    /// Ten base32 characters (50 bits): once an address used up its six-digit codes for the day.
    Long,
}

impl CodeKind {
    /// Stable name (for storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Short => "short",
            Self::Long => "long",
        }
    }

    /// Parses [`Self::as_str`]; anything else is a long code (the stricter reading).
    pub fn parse(s: &str) -> Self {
        if s == "short" { Self::Short } else { Self::Long }
    }

    /// How the email names what to type.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Short => "6-digit code",
            Self::Long => "10-character code",
        }
    }
}

/// The shape of the next code for an address that already got `codes_today` codes today.
pub fn kind_for(codes_today: i64) -> CodeKind {
    if codes_today < SHORT_CODES_PER_DAY { CodeKind::Short } else { CodeKind::Long }
}

/// A challenge for `random` (base64url, 43 characters): the browser keeps it and sends it with the code.
pub fn challenge(random: &[u8; CHALLENGE_BYTES]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// What is stored of a challenge (hex SHA-256 with a domain prefix).
pub fn challenge_hash(challenge: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"latch-signin-challenge-v1\0");
    hash.update(challenge.as_bytes());
    hex::encode(hash.finalize())
}

/// What a code is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The site id (or the owners' scope).
    pub site: &'a str,
    /// `widget` (members) or `owner`.
    pub audience: &'a str,
    /// The normalized email.
    pub email: &'a str,
    /// [`challenge_hash`] of the asking browser's challenge.
    pub challenge_hash: &'a str,
}

/// A freshly issued code: the characters go into the email, only the hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// What to email, as shown (`123456`, or `ABCDE-FGHJK`).
    pub code: String,
    /// Short or long.
    pub kind: CodeKind,
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
    /// Short or long.
    pub kind: CodeKind,
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

/// Draws a uniform code of `kind` from `random`. Six digits use 4 bytes per draw with rejection sampling; a long
/// code uses one byte per character (256 is a multiple of 32, so no bias). `None` if `random` had no usable draw
/// (practically never with [`RANDOM_BYTES`]; the caller then asks for fresh bytes).
pub fn code_from_random(kind: CodeKind, random: &[u8]) -> Option<String> {
    match kind {
        CodeKind::Short => random
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .find(|&n| n < LIMIT)
            .map(|n| format!("{:06}", n % 1_000_000)),
        CodeKind::Long => {
            let bytes = random.get(..LONG_LEN)?;
            Some(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect())
        }
    }
}

/// The keyed hash of a code under `binding` (hex HMAC-SHA256).
pub fn code_hash(secret: &[u8], binding: &Binding<'_>, code: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for part in ["latch-signin-code-v2", binding.site, binding.audience, binding.email, binding.challenge_hash, code] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// How a code is shown: a long one in two groups of five.
fn display(kind: CodeKind, code: &str) -> String {
    match (kind, code.get(..5), code.get(5..)) {
        (CodeKind::Long, Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// Issues a code of `kind` under `binding`; `None` if `random` had no usable draw.
pub fn issue(secret: &[u8], binding: &Binding<'_>, kind: CodeKind, random: &[u8], now: i64) -> Option<Issued> {
    let code = code_from_random(kind, random)?;
    let code_hash = code_hash(secret, binding, &code);
    Some(Issued { code: display(kind, &code), kind, code_hash, expires_at: now + CODE_TTL_SECS })
}

/// A sign-in email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject: never the code (subjects show in notifications, lock screens and stored mail lists).
    pub subject: String,
    /// The plain-text body, with the code on a line of its own.
    pub text: String,
}

/// The email carrying `issued` for `place` (a site's name, or the dashboard).
pub fn email(place: &str, issued: &Issued) -> Message {
    Message {
        subject: format!("Your sign-in code for {place}"),
        text: format!(
            "Your {} for {place} is:\n\n    {}\n\nType it in the browser where you asked for it. It works once, \
             for 10 minutes.\nIf you did not ask to sign in, ignore this email: nobody can sign in without the code.\n",
            issued.kind.describe(),
            issued.code,
        ),
    }
}

/// The canonical characters of what a person typed: spaces and dashes are ignored, letters uppercased, and the
/// letters Crockford's base32 leaves out read as the digits they look like (O as 0, I and L as 1).
pub fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// Whether `code` (normalized) has the shape of a code of `kind`.
fn well_formed(kind: CodeKind, code: &str) -> bool {
    match kind {
        CodeKind::Short => code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        CodeKind::Long => code.len() == LONG_LEN && code.bytes().all(|b| ALPHABET.contains(&b)),
    }
}

/// Decides one attempt at `stored` with `typed` under `binding`.
pub fn check(stored: &StoredCode, secret: &[u8], binding: &Binding<'_>, typed: &str, now: i64) -> Attempt {
    if stored.used || stored.attempts >= MAX_ATTEMPTS {
        return Attempt::Burned;
    }
    if now >= stored.expires_at {
        return Attempt::Expired;
    }
    let typed = normalize(typed);
    let hash = code_hash(secret, binding, &typed);
    let same: bool = hash.as_bytes().ct_eq(stored.code_hash.as_bytes()).into();
    if well_formed(stored.kind, &typed) && same {
        return Attempt::Accept;
    }
    let attempts_left = MAX_ATTEMPTS - stored.attempts - 1;
    if attempts_left <= 0 { Attempt::Burned } else { Attempt::Reject { attempts_left } }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-of-enough-length-000";

    fn binding(challenge: &str) -> Binding<'_> {
        Binding { site: "site_a", audience: "member", email: "a@example.com", challenge_hash: challenge }
    }

    fn stored(kind: CodeKind, code: &str) -> StoredCode {
        StoredCode {
            code_hash: code_hash(SECRET, &binding("ch1"), &normalize(code)),
            kind,
            expires_at: 1600,
            attempts: 0,
            used: false,
        }
    }

    fn attempt(s: &StoredCode, typed: &str, now: i64) -> Attempt {
        check(s, SECRET, &binding("ch1"), typed, now)
    }

    #[test]
    fn codes_are_drawn_without_bias() {
        let short = |b: &[u8]| code_from_random(CodeKind::Short, b);
        assert_eq!(short(&[0, 0, 0, 0]).as_deref(), Some("000000"));
        assert_eq!(short(&0x0001_E240u32.to_be_bytes()).as_deref(), Some("123456"));
        // The top of the u32 range would favour low codes: rejected, the next draw is used.
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&LIMIT.to_be_bytes());
        bytes.extend_from_slice(&(LIMIT - 1).to_be_bytes());
        assert_eq!(short(&bytes).as_deref(), Some("999999"));
        assert_eq!(short(&u32::MAX.to_be_bytes()), None);
        assert_eq!(short(&[1, 2, 3]), None);
        assert_eq!(LIMIT % 1_000_000, 0);
        assert!(u64::from(LIMIT) + 1_000_000 > 1 << 32);
        let long = code_from_random(CodeKind::Long, &[0, 1, 31, 32, 255, 10, 18, 17, 22, 27]).expect("long");
        assert_eq!(long, "01Z0ZAJHPV");
        assert_eq!(code_from_random(CodeKind::Long, &[0; 9]), None);
    }

    #[test]
    fn the_daily_quota_of_six_digit_codes_turns_into_long_codes() {
        assert_eq!(kind_for(0), CodeKind::Short);
        assert_eq!(kind_for(SHORT_CODES_PER_DAY - 1), CodeKind::Short);
        assert_eq!(kind_for(SHORT_CODES_PER_DAY), CodeKind::Long);
        const { assert!(SHORT_CODES_PER_DAY * MAX_ATTEMPTS <= 20, "at most 20 guesses at six digits per address per day") };
        assert_eq!(CodeKind::parse("short"), CodeKind::Short);
        assert_eq!(CodeKind::parse("long"), CodeKind::Long);
        assert_eq!(CodeKind::parse("?"), CodeKind::Long);
    }

    #[test]
    fn issue_stores_only_a_keyed_hash_bound_to_everything() {
        let b = binding("ch1");
        let issued = issue(SECRET, &b, CodeKind::Short, &[0, 1, 226, 64], 1000).expect("issued");
        assert_eq!(issued.code, "123456");
        assert_eq!(issued.expires_at, 1000 + CODE_TTL_SECS);
        assert_eq!(issued.code_hash.len(), 64);
        assert!(!issued.code_hash.contains("123456"));
        let other = |b: Binding<'_>| code_hash(SECRET, &b, "123456");
        assert_ne!(issued.code_hash, code_hash(b"other-secret", &b, "123456"));
        assert_ne!(issued.code_hash, other(Binding { site: "site_b", ..b }));
        assert_ne!(issued.code_hash, other(Binding { audience: "owner", ..b }));
        assert_ne!(issued.code_hash, other(Binding { email: "b@example.com", ..b }));
        assert_ne!(issued.code_hash, other(binding("ch2")), "another browser's challenge");
        let long = issue(SECRET, &b, CodeKind::Long, &[7; RANDOM_BYTES], 1000).expect("long");
        assert_eq!(long.code, "77777-77777");
        assert_eq!(long.code_hash, code_hash(SECRET, &b, "7777777777"), "hashed without the dash");
    }

    #[test]
    fn the_subject_never_carries_the_code() {
        let issued = issue(SECRET, &binding("ch1"), CodeKind::Short, &[0, 1, 226, 64], 1000).expect("issued");
        let message = email("The Rust Weekly", &issued);
        assert_eq!(message.subject, "Your sign-in code for The Rust Weekly");
        assert!(message.text.contains("\n    123456\n") && message.text.contains("6-digit code"), "{}", message.text);
        let long = issue(SECRET, &binding("ch1"), CodeKind::Long, &[7; RANDOM_BYTES], 1000).expect("long");
        assert!(email("x", &long).text.contains("10-character code"));
    }

    #[test]
    fn challenges_are_random_and_stored_hashed() {
        let c = challenge(&[3; CHALLENGE_BYTES]);
        assert_eq!(c.len(), 43);
        assert_eq!(challenge_hash(&c).len(), 64);
        assert_ne!(challenge_hash(&c), challenge_hash(&challenge(&[4; CHALLENGE_BYTES])));
    }

    #[test]
    fn right_code_in_time_is_accepted_with_spacing_forgiven() {
        let s = stored(CodeKind::Short, "123456");
        assert_eq!(attempt(&s, "123456", 1000), Attempt::Accept);
        assert_eq!(attempt(&s, " 123 456 ", 1000), Attempt::Accept);
        assert_eq!(attempt(&s, "123-456", 1599), Attempt::Accept);
        let long = stored(CodeKind::Long, "AB1C0DEFGH");
        assert_eq!(attempt(&long, "AB1C0-DEFGH", 1000), Attempt::Accept);
        assert_eq!(attempt(&long, "ab1c0 defgh", 1000), Attempt::Accept);
        assert_eq!(attempt(&long, "ABLCO-DEFGH", 1000), Attempt::Accept, "L and O read as 1 and 0");
    }

    #[test]
    fn a_code_works_only_with_its_browser_challenge() {
        let s = stored(CodeKind::Short, "123456");
        assert_eq!(check(&s, SECRET, &binding("ch2"), "123456", 1000), Attempt::Reject { attempts_left: 4 });
    }

    #[test]
    fn wrong_codes_count_down_then_burn() {
        let mut s = stored(CodeKind::Short, "123456");
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
        let s = StoredCode { used: true, ..stored(CodeKind::Short, "123456") };
        assert_eq!(attempt(&s, "123456", 1000), Attempt::Burned);
        let s = stored(CodeKind::Short, "123456");
        assert_eq!(attempt(&s, "123456", 1600), Attempt::Expired);
        assert_eq!(attempt(&s, "123456", 5000), Attempt::Expired);
    }

    #[test]
    fn junk_is_just_wrong() {
        let s = stored(CodeKind::Short, "123456");
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６", "123456\0"] {
            assert_eq!(attempt(&s, junk, 1000), Attempt::Reject { attempts_left: MAX_ATTEMPTS - 1 }, "{junk:?}");
        }
        // A long code's characters never satisfy a short code's shape, and the other way round.
        let long = stored(CodeKind::Long, "0000001234");
        assert_eq!(attempt(&long, "123456", 1000), Attempt::Reject { attempts_left: MAX_ATTEMPTS - 1 });
    }
}
