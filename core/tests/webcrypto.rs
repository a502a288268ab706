//! Cross-check of the Rust HMAC-SHA256 (the one `webhook::verify` uses) against the platform's Web Crypto
//! (`crypto.subtle.sign("HMAC", ...)` with SHA-256) in a real browser, on random keys and bodies: the two must agree
//! byte for byte, and a header signed by Web Crypto must verify.
//!
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver \
//!  cargo test -p latch-core --target wasm32-unknown-unknown --test webcrypto`
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, Uint8Array};
use latch_core::webhook::{SignatureError, signature_header, verify};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Crypto, CryptoKey};

wasm_bindgen_test_configure!(run_in_browser);

/// xorshift64*: deterministic given the seed, which is printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 24) as u8).collect()
    }

    /// A non-blank secret: `whsec_` + base62 like Stripe's, or any Unicode (keys are UTF-8 bytes of any length).
    fn secret(&mut self) -> String {
        const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let len = 1 + self.below(150);
        match self.below(3) {
            0 => {
                let tail: String =
                    (0..32).map(|_| char::from(B62.get(self.below(B62.len())).copied().unwrap_or(b'a'))).collect();
                format!("whsec_{tail}")
            }
            1 => (0..len).map(|_| char::from(B62.get(self.below(B62.len())).copied().unwrap_or(b'a'))).collect(),
            _ => {
                let s: String = (0..len).filter_map(|_| char::from_u32((self.next() % 0x11_0000) as u32)).collect();
                if s.trim().is_empty() { "x".to_owned() } else { s }
            }
        }
    }
}

fn crypto() -> Result<Crypto, JsValue> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?.dyn_into::<Crypto>()
}

/// HMAC-SHA256 by Web Crypto, lowercase hex.
async fn webcrypto_hmac_hex(key: &[u8], data: &[u8]) -> Result<String, JsValue> {
    let subtle = crypto()?.subtle();
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let usages = Array::of1(&JsValue::from_str("sign"));
    let key_data = Uint8Array::from(key);
    let key: CryptoKey = JsFuture::from(subtle.import_key_with_object("raw", &key_data, &algorithm, false, &usages)?)
        .await?
        .dyn_into()?;
    let sig = JsFuture::from(subtle.sign_with_str_and_u8_array("HMAC", &key, data)?).await?;
    let bytes = Uint8Array::new(&sig).to_vec();
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn check(rng: &mut Rng, seed: u64, round: usize) -> Result<(), JsValue> {
    let secret = rng.secret();
    let len = match rng.below(4) {
        0 => rng.below(64),
        1 => 3000 + rng.below(300),
        _ => rng.below(5000),
    };
    let body = rng.bytes(len);
    let t = 1_700_000_000 + i64::try_from(rng.below(100_000_000)).unwrap_or(0);
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&body);
    let theirs = webcrypto_hmac_hex(secret.as_bytes(), &signed).await?;
    let ours = signature_header(&body, &secret, t);
    let want = format!("t={t},v1={theirs}");
    assert_eq!(
        ours,
        want,
        "seed {seed} round {round}: Rust and Web Crypto disagree (key {} bytes, body {len} bytes)",
        secret.len()
    );
    assert_eq!(verify(&body, &want, &[&secret], t, 300), Ok(()), "seed {seed} round {round}");
    let mut tampered = body.clone();
    match tampered.first_mut() {
        Some(b) => *b ^= 1,
        None => tampered.push(b'x'),
    }
    assert_eq!(
        verify(&tampered, &want, &[&secret], t, 300),
        Err(SignatureError::NoMatchingSignature),
        "seed {seed} round {round}"
    );
    Ok(())
}

#[wasm_bindgen_test]
async fn rust_hmac_matches_web_crypto_on_fixed_seeds() -> Result<(), JsValue> {
    for seed in [1u64, 2, 3, 0x5eed_1a7c] {
        let mut rng = Rng(seed);
        for round in 0..40 {
            check(&mut rng, seed, round).await?;
        }
    }
    Ok(())
}

#[wasm_bindgen_test]
async fn rust_hmac_matches_web_crypto_on_a_fresh_seed() -> Result<(), JsValue> {
    let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64 | 1;
    let mut rng = Rng(seed);
    for round in 0..100 {
        check(&mut rng, seed, round).await?;
    }
    Ok(())
}

/// The official vectors' first valid case, signed by Web Crypto.
#[wasm_bindgen_test]
async fn official_example_matches() -> Result<(), JsValue> {
    let secret = "whsec_iK2ZWeqhFWCEPyYngFb51yBMWXaSCrUZ";
    let payload = "{\n  \"id\": \"evt_1d4aaaa607a189151183a7df\",\n  \"object\": \"event\",\n  \"type\": \"invoice.paid\",\n  \"created\": 1790126762,\n  \"livemode\": false,\n  \"data\": {\n    \"object\": {\n      \"id\": \"cs_test_797947650\",\n      \"note\": \"quote\\\"d\"\n    }\n  }\n}";
    let sig = webcrypto_hmac_hex(secret.as_bytes(), format!("1795089679.{payload}").as_bytes()).await?;
    assert_eq!(sig, "69e7fd13b6e7c9f59484cdccb9ef25797eaa3fc554dbb2d34fe5f7fb42db8621");
    assert_eq!(verify(payload.as_bytes(), &format!("t=1795089679,v1={sig}"), &[secret], 1_795_089_762, 300), Ok(()));
    Ok(())
}
