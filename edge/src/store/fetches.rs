//! `pending_fetches`: the durable re-fetches latch-core plans (queued in the batch of the input that asked, claimed
//! atomically, marked done in the batch of what their answer wrote, released with backoff when they fail).

use latch_core::plan::FetchJob;
use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, returns_row, rows, run, statement};

/// Statement queuing a re-fetch latch-core planned at `now`; an id already queued adds nothing.
pub(crate) fn queue_fetch(db: &Store, site: &str, job: &FetchJob, now: i64) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO pending_fetches (id, site_id, object, stripe_id, cause, round, next_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (id) DO NOTHING",
        &[
            Arg::Text(&job.id),
            Arg::Text(site),
            Arg::Text(job.object),
            Arg::Text(&job.stripe_id),
            Arg::Text(&job.cause),
            Arg::Int(job.round),
            Arg::Int(now),
        ],
    )
}

/// A queued re-fetch.
#[derive(Deserialize)]
pub(crate) struct PendingFetch {
    /// The job's id.
    pub(crate) id: String,
    /// The site it is for.
    pub(crate) site_id: String,
    /// What kind of Stripe object to fetch (`latch_core::engine::FetchRequest::from_stored`).
    pub(crate) object: String,
    /// The object's Stripe id.
    pub(crate) stripe_id: String,
    /// Which fetch round of its cause it is.
    pub(crate) round: i64,
    /// Tries so far.
    pub(crate) attempts: i64,
}

/// Up to `limit` fetches due at `now`, oldest first: pending ones whose backoff has passed, and claims taken before
/// `stale_before`; only those queued by `cause` when it is given.
pub(crate) async fn pending_fetches_due(
    db: &Store,
    now: i64,
    stale_before: i64,
    limit: i64,
    cause: Option<&str>,
) -> worker::Result<Vec<PendingFetch>> {
    rows(
        db,
        "SELECT id, site_id, object, stripe_id, round, attempts FROM pending_fetches \
         WHERE ((status = 'pending' AND next_at <= ?1) OR (status = 'running' AND claimed_at < ?2)) \
           AND (?4 IS NULL OR cause = ?4) \
         ORDER BY next_at LIMIT ?3",
        &[Arg::Int(now), Arg::Int(stale_before), Arg::Int(limit), Arg::OptText(cause)],
    )
    .await
}

/// Claims the fetch `id` at `now` if it is still due and still at `attempts` tries (a claim taken before
/// `stale_before` is taken over); `false` when another run has it.
pub(crate) async fn claim_fetch(
    db: &Store,
    id: &str,
    attempts: i64,
    now: i64,
    stale_before: i64,
) -> worker::Result<bool> {
    returns_row(
        db,
        "UPDATE pending_fetches SET status = 'running', claimed_at = ?2, attempts = attempts + 1 \
         WHERE id = ?1 AND attempts = ?3 \
           AND ((status = 'pending' AND next_at <= ?2) OR (status = 'running' AND claimed_at < ?4)) \
         RETURNING id",
        &[Arg::Text(id), Arg::Int(now), Arg::Int(attempts), Arg::Int(stale_before)],
    )
    .await
}

/// The statement marking the fetch `id` done at `now` (written in the same batch as what it did).
pub(crate) fn mark_fetch_done(db: &Store, id: &str, now: i64) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE pending_fetches SET status = 'done', done_at = ?2, last_error = NULL WHERE id = ?1",
        &[Arg::Text(id), Arg::Int(now)],
    )
}

/// Releases the claimed fetch `id` after a failed try: `status` (`pending` again, or `failed`), the next try at
/// `next_at`, and the error.
pub(crate) async fn release_fetch(db: &Store, id: &str, status: &str, next_at: i64, error: &str) -> worker::Result<()> {
    run(
        db,
        "UPDATE pending_fetches SET status = ?2, next_at = ?3, last_error = ?4 WHERE id = ?1 AND status = 'running'",
        &[Arg::Text(id), Arg::Text(status), Arg::Int(next_at), Arg::Text(error)],
    )
    .await?;
    Ok(())
}
