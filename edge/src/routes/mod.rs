//! Route handlers. Each parses its input, calls latch-core, and carries out what core decided.

pub(crate) mod access;
pub(crate) mod admin;
pub(crate) mod catalog;
pub(crate) mod checkout;
pub(crate) mod claim;
pub(crate) mod connect;
pub(crate) mod identify;
pub(crate) mod owner;
pub(crate) mod portal;
pub(crate) mod portal_settings;
pub(crate) mod products;
pub(crate) mod signin;
pub(crate) mod webhook;
