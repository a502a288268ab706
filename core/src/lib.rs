//! Latch's pure core: everything Latch decides, nothing it does.
//!
//! No I/O, no clock, no randomness: time and random bytes come in as arguments, requests and effects go out as
//! values. Compiles natively (unit tests) and to wasm32 (the Worker and the widget).

pub mod account;
pub mod api;
pub mod catalog;
pub mod checkout;
pub mod claim;
pub mod connect;
pub mod cookie;
pub mod csrf;
pub mod dates;
pub mod delivery;
pub mod engine;
pub mod event;
pub mod identity;
mod json;
pub mod manual;
pub mod member;
pub mod money;
pub mod network;
pub mod notify;
pub mod owner;
pub mod payment_method;
pub mod plan;
pub mod portal;
pub mod signin;
pub mod stripe_request;
pub mod token;
pub mod validate;
pub mod webhook;
