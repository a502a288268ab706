//! `outbox`: emails as rows, written in the batch of what caused them, claimed one at a time by a delivery run, and
//! marked sent or failed.

use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use super::{Arg, Store, returns_row, rows, run, statement};

/// One email to send.
pub(crate) struct Email<'a> {
    /// Site it concerns, if any.
    pub(crate) site: Option<&'a str>,
    /// Recipient address.
    pub(crate) to: &'a str,
    /// Subject line.
    pub(crate) subject: &'a str,
    /// Plain-text body.
    pub(crate) text: &'a str,
}

/// Statement adding `email` to the outbox; put it in the same batch as what caused the email. An id already in
/// the outbox inserts nothing (deterministic ids make replays harmless).
pub(crate) fn enqueue(db: &Store, id: &str, email: &Email<'_>, now: i64) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO outbox (id, site_id, to_email, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO NOTHING",
        &[
            Arg::Text(id),
            Arg::OptText(email.site),
            Arg::Text(email.to),
            Arg::Text(email.subject),
            Arg::Text(email.text),
            Arg::Int(now),
        ],
    )
}

/// Statement adding an email for the member owning `customer` on `site`: addressed now when the customer is
/// linked to a member (also by an earlier statement of the same batch), else `held` until
/// [`link_purchase`](super::link_purchase) links it. One transaction decides, so a link racing with this insert
/// still addresses it. An id already in the outbox inserts nothing.
pub(crate) fn enqueue_for_customer(
    db: &Store,
    id: &str,
    site: &str,
    customer: &str,
    subject: &str,
    text: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO outbox (id, site_id, to_email, subject, body, status, customer, created_at) \
         SELECT ?1, ?2, COALESCE(m.email, ''), ?3, ?4, CASE WHEN m.email IS NULL THEN 'held' ELSE 'pending' END, \
           ?5, ?6 \
         FROM (SELECT (SELECT mm.email FROM member_customers mc JOIN members mm ON mm.id = mc.member_id \
                       WHERE mc.site_id = ?2 AND mc.customer = ?5) AS email) AS m \
         WHERE true ON CONFLICT (id) DO NOTHING",
        &[Arg::Text(id), Arg::Text(site), Arg::Text(subject), Arg::Text(text), Arg::Text(customer), Arg::Int(now)],
    )
}

/// An email waiting to be sent.
#[derive(Deserialize)]
pub(crate) struct PendingEmail {
    /// Its id (the provider's idempotency key).
    pub(crate) id: String,
    /// Recipient address.
    pub(crate) to_email: String,
    /// Subject line.
    pub(crate) subject: String,
    /// Plain-text body.
    pub(crate) body: String,
    /// Tries so far.
    pub(crate) attempts: i64,
}

/// Up to `limit` emails due, oldest first: pending ones and claims taken before `stale_before`.
pub(crate) async fn emails_due(db: &Store, stale_before: i64, limit: i64) -> worker::Result<Vec<PendingEmail>> {
    rows(
        db,
        "SELECT id, to_email, subject, body, attempts FROM outbox \
         WHERE status = 'pending' OR (status = 'sending' AND claimed_at < ?1) ORDER BY created_at LIMIT ?2",
        &[Arg::Int(stale_before), Arg::Int(limit)],
    )
    .await
}

/// Claims the email `id` at `now` if it is still due and still at `attempts` tries (a claim taken before
/// `stale_before` is taken over); `false` when another run has it.
pub(crate) async fn claim_email(
    db: &Store,
    id: &str,
    attempts: i64,
    now: i64,
    stale_before: i64,
) -> worker::Result<bool> {
    returns_row(
        db,
        "UPDATE outbox SET status = 'sending', claimed_at = ?2, attempts = attempts + 1 \
         WHERE id = ?1 AND attempts = ?3 AND (status = 'pending' OR (status = 'sending' AND claimed_at < ?4)) \
         RETURNING id",
        &[Arg::Text(id), Arg::Int(now), Arg::Int(attempts), Arg::Int(stale_before)],
    )
    .await
}

/// Statement marking the email `id` sent at `now`.
pub(crate) fn mark_email_sent(db: &Store, id: &str, now: i64) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
        &[Arg::Text(id), Arg::Int(now)],
    )
}

/// Statement recording a failed try of the email `id`: `status` (`pending` again, or `failed`) and the error.
pub(crate) fn mark_email_failed(
    db: &Store,
    id: &str,
    status: &str,
    error: &str,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE outbox SET status = ?2, last_error = ?3 WHERE id = ?1",
        &[Arg::Text(id), Arg::Text(status), Arg::Text(error)],
    )
}

/// Deletes `held` emails created before `before`.
pub(crate) async fn delete_held_emails(db: &Store, before: i64) -> worker::Result<()> {
    run(db, "DELETE FROM outbox WHERE status = 'held' AND created_at < ?1", &[Arg::Int(before)]).await.map(|_| ())
}

/// An email as the dev outbox shows it.
#[derive(Serialize, Deserialize)]
pub(crate) struct DevEmail {
    id: String,
    to: String,
    subject: String,
    text: String,
    status: String,
    created_at: i64,
}

/// The latest 20 emails to `to`, newest first (the dev outbox).
pub(crate) async fn emails_to(db: &Store, to: &str) -> worker::Result<Vec<DevEmail>> {
    rows(
        db,
        "SELECT id, to_email AS \"to\", subject, body AS text, status, created_at FROM outbox \
         WHERE to_email = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 20",
        &[Arg::Text(to)],
    )
    .await
}
