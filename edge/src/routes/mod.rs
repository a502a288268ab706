//! Route handlers. Each parses its input, calls latch-core, and carries out what core decided.

pub mod access;
pub mod admin;
pub mod catalog;
pub mod checkout;
pub mod claim;
pub mod portal;
pub mod webhook;
