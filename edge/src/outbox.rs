//! The email outbox: emails are rows (table `outbox`) written in the same D1 batch as whatever caused them
//! (`store::enqueue`, `store::enqueue_for_customer`), and a sender delivers them off the request path (`wait_until`
//! after the response, and the cron trigger for anything left over or failed).
//!
//! Senders: an HTTP provider (`EMAIL_API_URL`, `EMAIL_API_KEY`, `EMAIL_FROM`; a Resend-style JSON POST of
//! `{from, to, subject, text}` with a bearer key) in production, or the dev outbox (`DEV_OUTBOX = "1"`), where
//! emails are only stored and `GET /dev/outbox?to=email` shows them. A provider call that takes longer than
//! [`SEND_TIMEOUT_MS`] is aborted and counts as a failed try.

use worker::{Env, Headers, Request, RequestInit, Response};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::store::{self, PendingEmail, Store};

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

    async fn send(&self, row: &PendingEmail) -> Result<(), String> {
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

/// Delivers what is due in the outbox: pending emails and stale claims, each claimed atomically so two runs never
/// send the same email. Failures are recorded and retried by a later run, up to [`MAX_ATTEMPTS`].
pub(crate) async fn deliver(env: &Env, now: i64) -> worker::Result<()> {
    let Some(sender) = Sender::from_env(env) else {
        worker::console_warn!("outbox: no email sender configured (EMAIL_API_URL or DEV_OUTBOX); emails wait");
        return Ok(());
    };
    let db = Store::new(env.d1("DB")?);
    let due = store::emails_due(&db, now - STALE_CLAIM_SECS, BATCH).await?;
    for row in due {
        if !store::claim_email(&db, &row.id, row.attempts, now, now - STALE_CLAIM_SECS).await? {
            continue; // another run took it
        }
        let done = match sender.send(&row).await {
            Ok(()) => store::mark_email_sent(&db, &row.id, now)?,
            Err(e) => {
                worker::console_warn!("outbox: sending {} failed (try {}): {e}", row.id, row.attempts + 1);
                let status = if row.attempts + 1 >= MAX_ATTEMPTS { "failed" } else { "pending" };
                store::mark_email_failed(&db, &row.id, status, &e)?
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
    store::delete_held_emails(db, now - HELD_RETENTION_DAYS * 86_400).await
}

/// `GET /dev/outbox?to=email`: the latest emails to an address, newest first. 404 unless `DEV_OUTBOX = "1"`.
pub(crate) async fn dev_get(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    if !dev_enabled(&ctx.env) {
        return Err(ApiError::not_found("GET /dev/outbox"));
    }
    let url = req.url()?;
    let raw = url.query_pairs().find(|(k, _)| k == "to").map(|(_, v)| v.into_owned());
    let to = latch_core::validate::email(&raw.ok_or_else(|| ApiError::bad_request("?to=email is required"))?)?;
    let emails = store::emails_to(&ctx.db, &to).await?;
    http::json(200, &serde_json::json!({ "emails": emails }))
}
