//! Fuzz target: the Stripe-Signature parser, event and object parsing and the engine on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "body.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
