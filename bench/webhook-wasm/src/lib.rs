//! latch-core's webhook path as the Worker runs it (verify the signature, parse the event, apply it to the loaded
//! rows), exported to JavaScript so `cargo xtask bench` times it in V8 beside Stripe's official Node library
//! (bench/webhook_v8.mjs). Built with the release profile, the one the Worker ships with.

use latch_core::engine::{AccessState, Catalog, Input, ProductPolicy, apply, scope};
use latch_core::event::Event;
use latch_core::webhook::{DEFAULT_TOLERANCE_SECS, verify};
use wasm_bindgen::prelude::*;

/// A site with the fixture's product linked, and the rows the edge would load for the fixture's subscription.
#[wasm_bindgen]
pub struct Webhook {
    catalog: Catalog,
    state: AccessState,
}

#[wasm_bindgen]
impl Webhook {
    /// Prepares the site for `body` (a subscription event for `product`): the grant of the previous period.
    #[wasm_bindgen(constructor)]
    pub fn new(body: &[u8], product: &str, now: f64) -> Result<Self, JsError> {
        let catalog = Catalog {
            products: vec![ProductPolicy::new("pro", product)],
            livemode: false,
            site: Some("site_pub_1".into()),
            account: None,
        };
        let mut first = Event::parse(body).map_err(|e| JsError::new(&e.to_string()))?;
        first.created -= 30 * 86_400;
        let state = apply(&Input::Event(&first), &AccessState::default(), &catalog, now as i64).state;
        Ok(Self { catalog, state })
    }

    /// One delivery: verifies `header` over `body` with `secret`, parses and applies the event. `false` when the
    /// signature or the body is refused.
    pub fn deliver(&self, body: &[u8], header: &str, secret: &str, now: f64) -> bool {
        let now = now as i64;
        if verify(body, header, &[secret], now, DEFAULT_TOLERANCE_SECS).is_err() {
            return false;
        }
        let Ok(event) = Event::parse(body) else { return false };
        let input = Input::Event(&event);
        let _ = scope(&input);
        !apply(&input, &self.state, &self.catalog, now).state.grants.is_empty()
    }
}
