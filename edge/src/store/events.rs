//! `processed_events` and `unreadable_events`: the webhook deliveries handled (each event once) and the signed ones
//! Latch could not read, and what the dashboard shows of the webhook's health.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, row, statement};

/// Statement recording a processed event: the first of its delivery's batch, and without a conflict clause, so that
/// of two deliveries of one event racing past the read, the second fails on it and its whole batch (a D1 batch is
/// one transaction) writes nothing; see [`lost_event_race`].
pub(crate) fn mark_event_processed(
    db: &Store,
    event_id: &str,
    site: Option<&str>,
    kind: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO processed_events (event_id, site_id, type, received_at) VALUES (?1, ?2, ?3, ?4)",
        &[Arg::Text(event_id), Arg::OptText(site), Arg::Text(kind), Arg::Int(now)],
    )
}

/// Whether a delivery's batch failed because another delivery of the same event wrote it first.
pub(crate) fn lost_event_race(error: &worker::Error) -> bool {
    // D1's own message (its `cause`), not the Debug form `worker::Error` displays.
    let message = match error {
        worker::Error::D1(e) => e.cause(),
        other => other.to_string(),
    };
    message.contains("UNIQUE constraint failed: processed_events.event_id")
}

/// Statement keeping a validly signed webhook delivery Latch could not read, for the operator.
pub(crate) fn unreadable_event(
    db: &Store,
    event_id: Option<&str>,
    site: Option<&str>,
    error: &str,
    body: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO unreadable_events (event_id, site_id, error, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[Arg::OptText(event_id), Arg::OptText(site), Arg::Text(error), Arg::Text(body), Arg::Int(now)],
    )
}

/// The type and time of the newest event processed for a site.
pub(crate) async fn last_processed_event(db: &Store, site: &str) -> worker::Result<Option<(String, i64)>> {
    #[derive(Deserialize)]
    struct Last {
        #[serde(rename = "type")]
        kind: String,
        received_at: i64,
    }
    let last: Option<Last> = row(
        db,
        "SELECT type, received_at FROM processed_events WHERE site_id = ?1 ORDER BY received_at DESC LIMIT 1",
        &[Arg::Text(site)],
    )
    .await?;
    Ok(last.map(|l| (l.kind, l.received_at)))
}

/// How many events were processed for a site after `since`.
pub(crate) async fn processed_events_since(db: &Store, site: &str, since: i64) -> worker::Result<i64> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let count: Option<Count> = row(
        db,
        "SELECT COUNT(*) AS n FROM processed_events WHERE site_id = ?1 AND received_at > ?2",
        &[Arg::Text(site), Arg::Int(since)],
    )
    .await?;
    Ok(count.map_or(0, |c| c.n))
}
