//! Stripe-looking identifiers (`prod_…`, `price_1…`, `cs_test_…`) and secrets.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn next_u64() -> u64 {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = SEED.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// `n` random base-62 characters.
pub fn random_chars(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut bits = next_u64();
    let mut left = 10;
    for _ in 0..n {
        if left == 0 {
            bits = next_u64();
            left = 10;
        }
        out.push(ALPHABET[(bits % 62) as usize] as char);
        bits /= 62;
        left -= 1;
    }
    out
}

/// A fresh id with Stripe's prefix and a length like Stripe's for that object.
pub fn new_id(prefix: &str) -> String {
    let len = match prefix {
        "prod" | "cus" | "si" | "req" => 14,
        "cs_test" => 58,
        "acct" => 16,
        _ => 24,
    };
    let body = random_chars(len);
    match prefix {
        // Stripe's long ids start with a digit marking the shard.
        "price" | "sub" | "in" | "bps" | "evt" | "we" | "seti" | "pm" | "acct" | "il" | "li" => {
            format!("{prefix}_1{}", &body[1..])
        }
        "ch" | "pi" | "re" => format!("{prefix}_3{}", &body[1..]),
        "cs_test" => format!("cs_test_a1{}", &body[2..]),
        _ => format!("{prefix}_{body}"),
    }
}

/// A webhook signing secret, `whsec_` and 32 characters.
pub fn webhook_secret() -> String {
    format!("whsec_{}", random_chars(32))
}
