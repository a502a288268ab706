//! The email outbox: emails are rows (table `outbox`) written in the same D1 batch as whatever caused them, and a
//! sender delivers them off the request path (`wait_until` after the response, and the cron trigger for anything
//! left over or failed).
//!
//! Senders: an HTTP provider (`EMAIL_API_URL`, `EMAIL_API_KEY`, `EMAIL_FROM`; a Resend-style JSON POST of
//! `{from, to, subject, text}` with a bearer key) in production, or the dev outbox (`DEV_OUTBOX = "1"`), where
//! emails are only stored and `GET /dev/outbox?to=email` shows them. A provider call that takes longer than
//! [`SEND_TIMEOUT_MS`] is aborted and counts as a failed try.

use serde::{Deserialize, Serialize};
use worker::{D1PreparedStatement, Env, Headers, Request, RequestInit, Response};

use crate::context::Ctx;
use crate::db::{self, Arg, Store};
use crate::error::{ApiError, ApiResult};
use crate::http;

/// Tries per email before it is marked `failed`.
const MAX_ATTEMPTS: i64 = 8;
/// A claim older than this (a sender that died mid-send) is retried.
const STALE_CLAIM_SECS: i64 = 300;
/// Emails one delivery run takes on.
const BATCH: i64 = 25;
/// How long one call to the email provider may take, answer included, before it is aborted and counted as a failed
/// try (retried by a later run, like any other failure). Providers answer in well under a second; 10 s leaves room
/// for a slow one while a provider that hangs cannot hold a delivery run, or the `wait_until` after a response,
/// for long.
const SEND_TIMEOUT_MS: u32 = 10_000;
/// Days a `held` email waits for its customer to be linked to a member before [`prune_held`] deletes it.
const HELD_RETENTION_DAYS: i64 = 30;

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
    db::statement(
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
/// [`crate::db::upsert_member`] links it. One transaction decides, so a link racing with this insert still
/// addresses it. An id already in the outbox inserts nothing.
pub(crate) fn enqueue_for_customer(
    db: &Store,
    id: &str,
    site: &str,
    customer: &str,
    subject: &str,
    text: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    db::statement(
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

/// How emails leave the outbox.
enum Sender {
    /// A Resend-style HTTP API.
    Http { url: String, key: String, from: String },
    /// Development: emails stay readable at `/dev/outbox`; delivering only marks them sent.
    Dev,
}

fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Whether the dev outbox is on (`DEV_OUTBOX = "1"`).
pub(crate) fn dev_enabled(env: &Env) -> bool {
    setting(env, "DEV_OUTBOX").as_deref() == Some("1")
}

impl Sender {
    fn from_env(env: &Env) -> Option<Self> {
        if let Some(url) = setting(env, "EMAIL_API_URL") {
            return Some(Self::Http {
                url,
                key: setting(env, "EMAIL_API_KEY").unwrap_or_default(),
                from: setting(env, "EMAIL_FROM").unwrap_or_else(|| "Latch <no-reply@latch.invalid>".into()),
            });
        }
        dev_enabled(env).then_some(Self::Dev)
    }

    async fn send(&self, row: &Pending) -> Result<(), String> {
        let Self::Http { url, key, from } = self else { return Ok(()) };
        let body = serde_json::json!({ "from": from, "to": row.to_email, "subject": row.subject, "text": row.body });
        let headers = Headers::new();
        let attempt = async {
            headers.set("Authorization", &format!("Bearer {key}"))?;
            headers.set("Content-Type", "application/json")?;
            headers.set("Idempotency-Key", &row.id)?;
            let mut init = RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_headers(headers.clone())
                .with_body(Some(body.to_string().into()));
            let mut resp = http::fetch_within(url, &init, SEND_TIMEOUT_MS).await?;
            Ok::<_, worker::Error>((resp.status_code(), resp.text().await.unwrap_or_default()))
        };
        match attempt.await {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, text)) => {
                Err(format!("provider answered {status}: {}", text.chars().take(200).collect::<String>()))
            }
            Err(e) => Err(format!("provider unreachable or no answer within {SEND_TIMEOUT_MS} ms: {e}")),
        }
    }
}

#[derive(Deserialize)]
struct Pending {
    id: String,
    to_email: String,
    subject: String,
    body: String,
    attempts: i64,
}

/// Delivers what is due in the outbox: pending emails and stale claims, each claimed atomically so two runs never
/// send the same email. Failures are recorded and retried by a later run, up to [`MAX_ATTEMPTS`].
pub(crate) async fn deliver(env: &Env, now: i64) -> worker::Result<()> {
    let Some(sender) = Sender::from_env(env) else {
        worker::console_warn!("outbox: no email sender configured (EMAIL_API_URL or DEV_OUTBOX); emails wait");
        return Ok(());
    };
    let db = Store::new(env.d1("DB")?);
    let due: Vec<Pending> = db::rows(
        &db,
        "SELECT id, to_email, subject, body, attempts FROM outbox \
         WHERE status = 'pending' OR (status = 'sending' AND claimed_at < ?1) ORDER BY created_at LIMIT ?2",
        &[Arg::Int(now - STALE_CLAIM_SECS), Arg::Int(BATCH)],
    )
    .await?;
    for row in due {
        #[derive(Deserialize)]
        struct Claimed {
            #[allow(dead_code)] // only the row's existence matters
            id: String,
        }
        let claimed: Option<Claimed> = db::row(
            &db,
            "UPDATE outbox SET status = 'sending', claimed_at = ?2, attempts = attempts + 1 \
             WHERE id = ?1 AND attempts = ?3 AND (status = 'pending' OR (status = 'sending' AND claimed_at < ?4)) \
             RETURNING id",
            &[Arg::Text(&row.id), Arg::Int(now), Arg::Int(row.attempts), Arg::Int(now - STALE_CLAIM_SECS)],
        )
        .await?;
        if claimed.is_none() {
            continue; // another run took it
        }
        let done = match sender.send(&row).await {
            Ok(()) => db::statement(
                &db,
                "UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
                &[Arg::Text(&row.id), Arg::Int(now)],
            )?,
            Err(e) => {
                worker::console_warn!("outbox: sending {} failed (try {}): {e}", row.id, row.attempts + 1);
                let status = if row.attempts + 1 >= MAX_ATTEMPTS { "failed" } else { "pending" };
                db::statement(
                    &db,
                    "UPDATE outbox SET status = ?2, last_error = ?3 WHERE id = ?1",
                    &[Arg::Text(&row.id), Arg::Text(status), Arg::Text(&e)],
                )?
            }
        };
        db.run(done).await?;
    }
    Ok(())
}

/// Deletes `held` emails older than [`HELD_RETENTION_DAYS`] (run by the cron trigger). A held email has no
/// recipient: its customer was never linked to a member (a subscription event whose checkout and claim never came
/// to this edge). Kept forever, such rows would pile up, and a customer linked months later would get a stale
/// notification. Deleted rather than marked `failed`, which says the provider refused an addressed email; and
/// deleting is safe for replays: what wrote the row (a webhook event in `processed_events`, a finished
/// `pending_fetches` job) stays recorded, so it queues nothing again. Pending, sending, sent and failed rows are
/// never touched.
pub(crate) async fn prune_held(db: &Store, now: i64) -> worker::Result<()> {
    db::run(
        db,
        "DELETE FROM outbox WHERE status = 'held' AND created_at < ?1",
        &[Arg::Int(now - HELD_RETENTION_DAYS * 86_400)],
    )
    .await
    .map(|_| ())
}

#[derive(Serialize, Deserialize)]
struct DevEmail {
    id: String,
    to: String,
    subject: String,
    text: String,
    status: String,
    created_at: i64,
}

/// `GET /dev/outbox?to=email`: the latest emails to an address, newest first. 404 unless `DEV_OUTBOX = "1"`.
pub(crate) async fn dev_get(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    if !dev_enabled(&ctx.env) {
        return Err(ApiError::not_found("GET /dev/outbox"));
    }
    let url = req.url()?;
    let raw = url.query_pairs().find(|(k, _)| k == "to").map(|(_, v)| v.into_owned());
    let to = latch_core::validate::email(&raw.ok_or_else(|| ApiError::bad_request("?to=email is required"))?)?;
    let emails: Vec<DevEmail> = db::rows(
        &ctx.db,
        "SELECT id, to_email AS \"to\", subject, body AS text, status, created_at FROM outbox \
         WHERE to_email = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 20",
        &[Arg::Text(&to)],
    )
    .await?;
    http::json(200, &serde_json::json!({ "emails": emails }))
}
