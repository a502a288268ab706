//! `owners`, `owner_sessions` and `site_owners`: owner accounts, their sessions (kept as hashes), and who manages
//! which site. The sites an owner manages are read in [`super::sites`].

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, returns_row, row, rows, run, statement};

/// An owner account, as stored.
#[derive(Deserialize)]
pub(crate) struct OwnerRow {
    /// `own_...`.
    pub(crate) id: String,
    /// Normalized email address.
    pub(crate) email: String,
}

/// The owner with `email`, created with `new_id` at `now` if there is none.
pub(crate) async fn upsert_owner(db: &Store, new_id: &str, email: &str, now: i64) -> worker::Result<Option<OwnerRow>> {
    row(
        db,
        "INSERT INTO owners (id, email, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (email) DO UPDATE SET email = excluded.email RETURNING id, email",
        &[Arg::Text(new_id), Arg::Text(email), Arg::Int(now)],
    )
    .await
}

/// Records a session of `owner_id` (by its token's hash) made at `now`, ending at `expires_at`.
pub(crate) async fn insert_session(
    db: &Store,
    token_hash: &str,
    owner_id: &str,
    now: i64,
    expires_at: i64,
) -> worker::Result<()> {
    run(
        db,
        "INSERT INTO owner_sessions (token_hash, owner_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        &[Arg::Text(token_hash), Arg::Text(owner_id), Arg::Int(now), Arg::Int(expires_at)],
    )
    .await?;
    Ok(())
}

/// Marks the session `token_hash` confirmed at `now`.
pub(crate) async fn mark_session_confirmed(db: &Store, token_hash: &str, now: i64) -> worker::Result<()> {
    run(
        db,
        "UPDATE owner_sessions SET confirmed_at = ?2 WHERE token_hash = ?1",
        &[Arg::Text(token_hash), Arg::Int(now)],
    )
    .await?;
    Ok(())
}

/// When the session `token_hash` last confirmed with a fresh code, if ever (or if there is no such session).
pub(crate) async fn session_confirmed_at(db: &Store, token_hash: &str) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        confirmed_at: Option<i64>,
    }
    let row: Option<Row> =
        row(db, "SELECT confirmed_at FROM owner_sessions WHERE token_hash = ?1", &[Arg::Text(token_hash)]).await?;
    Ok(row.and_then(|r| r.confirmed_at))
}

/// A session with its owner's email.
#[derive(Deserialize)]
pub(crate) struct SessionRow {
    /// The owner it signs in.
    pub(crate) owner_id: String,
    /// The owner's email.
    pub(crate) email: String,
    /// Unix seconds.
    pub(crate) expires_at: i64,
    /// When it was signed out, if it was.
    pub(crate) revoked_at: Option<i64>,
}

/// The session `token_hash`, if known.
pub(crate) async fn owner_session(db: &Store, token_hash: &str) -> worker::Result<Option<SessionRow>> {
    row(
        db,
        "SELECT s.owner_id, o.email, s.expires_at, s.revoked_at FROM owner_sessions s \
         JOIN owners o ON o.id = s.owner_id WHERE s.token_hash = ?1",
        &[Arg::Text(token_hash)],
    )
    .await
}

/// Revokes the session `token_hash` at `now`, unless it was already.
pub(crate) async fn revoke_owner_session(db: &Store, token_hash: &str, now: i64) -> worker::Result<()> {
    run(
        db,
        "UPDATE owner_sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        &[Arg::Text(token_hash), Arg::Int(now)],
    )
    .await?;
    Ok(())
}

/// Statement making `owner_id` an owner of the site `site` at `now`.
pub(crate) fn insert_site_owner(
    db: &Store,
    site: &str,
    owner_id: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO site_owners (site_id, owner_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
        &[Arg::Text(site), Arg::Text(owner_id), Arg::Int(now)],
    )
}

/// Whether `owner_id` manages `site`.
pub(crate) async fn is_site_owner(db: &Store, site: &str, owner_id: &str) -> worker::Result<bool> {
    returns_row(
        db,
        "SELECT role FROM site_owners WHERE site_id = ?1 AND owner_id = ?2",
        &[Arg::Text(site), Arg::Text(owner_id)],
    )
    .await
}

/// The email addresses of everyone who manages `site`, oldest owner first.
pub(crate) async fn owner_emails(db: &Store, site: &str) -> worker::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        email: String,
    }
    let rows: Vec<Row> = rows(
        db,
        "SELECT o.email FROM owners o JOIN site_owners so ON so.owner_id = o.id \
         WHERE so.site_id = ?1 ORDER BY so.created_at, o.id",
        &[Arg::Text(site)],
    )
    .await?;
    Ok(rows.into_iter().map(|r| r.email).collect())
}
