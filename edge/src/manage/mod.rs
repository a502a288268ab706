//! Managing a site, shared by the owner API (`routes/`) and the dashboard (`dashboard/`): each operation takes typed
//! input, lets latch-core decide, and calls Stripe and the store. Routes read JSON and answer JSON; pages read forms
//! and render HTML; neither holds a rule of its own.

pub(crate) mod connection;
pub(crate) mod portal;
pub(crate) mod products;
