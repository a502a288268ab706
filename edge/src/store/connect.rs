//! `oauth_states`: the single-use states of Stripe Connect flows, stored hashed with what they are bound to.

use latch_core::connect::StoredState;

use super::{Arg, Store, changes, row, run};

/// Records the state `state_hash` of a Connect flow for `site`, bound to `binding`, made at `now`.
pub(crate) async fn insert_oauth_state(
    db: &Store,
    state_hash: &str,
    site: &str,
    binding: &str,
    expires_at: i64,
    now: i64,
) -> worker::Result<()> {
    run(
        db,
        "INSERT INTO oauth_states (state_hash, site_id, binding, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[Arg::Text(state_hash), Arg::Text(site), Arg::Text(binding), Arg::Int(expires_at), Arg::Int(now)],
    )
    .await?;
    Ok(())
}

/// The state `state_hash`, if known.
pub(crate) async fn oauth_state(db: &Store, state_hash: &str) -> worker::Result<Option<StoredState>> {
    row(
        db,
        "SELECT site_id, binding, expires_at, used_at FROM oauth_states WHERE state_hash = ?1",
        &[Arg::Text(state_hash)],
    )
    .await
}

/// Marks the state `state_hash` used at `now`; `true` only for the one call that did (single use, even under a
/// race).
pub(crate) async fn use_oauth_state(db: &Store, state_hash: &str, now: i64) -> worker::Result<bool> {
    let result = run(
        db,
        "UPDATE oauth_states SET used_at = ?2 WHERE state_hash = ?1 AND used_at IS NULL",
        &[Arg::Text(state_hash), Arg::Int(now)],
    )
    .await?;
    Ok(changes(&result)? == 1)
}
