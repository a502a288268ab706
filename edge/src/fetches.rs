//! Durable re-fetches: the Stripe objects the access engine asked to see fresh ([`Effect::Fetch`]) are rows of
//! `pending_fetches`, written in the same D1 batch as the effects of the input that asked, so the webhook answers
//! 2xx at once and no fetch is ever lost. They are performed after the answer (`wait_until`), and the cron trigger
//! takes whatever is left (a run that crashed or timed out, a Stripe outage), with backoff, up to [`MAX_ATTEMPTS`].
//! Each row is claimed atomically before its fetch, and marked done in the same batch as the grants its answer
//! writes, so two racing runs apply it once.
//!
//! [`Effect::Fetch`]: latch_core::engine::Effect::Fetch

use latch_core::engine::{FetchObject, FetchRequest, Input};
use latch_core::event::StripeObject;
use latch_core::plan::{MAX_FETCH_ROUNDS, Origin};
use latch_core::stripe_request::StripeError;
use worker::{D1PreparedStatement, Env};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, PendingFetch};
use crate::{grants, saved_card, stripe};

/// Tries per fetch before it is marked `failed`.
const MAX_ATTEMPTS: i64 = 8;
/// A claim older than this (a run that died mid-fetch) is taken again.
const STALE_CLAIM_SECS: i64 = 120;
/// Fetches one run takes on.
const BATCH: i64 = 20;

/// Performs the fetches that are due: pending rows whose backoff has passed and stale claims. A fetched answer
/// that queues one more round has it performed in the same run.
pub(crate) async fn run(env: &Env) -> ApiResult<()> {
    let ctx = Ctx::new(env.clone(), None).await?;
    for _ in 0..MAX_FETCH_ROUNDS {
        run_due(&ctx, None).await?;
        if !ctx.fetch_pending.replace(false) {
            break;
        }
    }
    Ok(())
}

/// Performs, within the request, the fetches `cause` just queued (the claim answers with what they settle); any
/// that fail stay pending for the cron trigger. Later rounds are left to the run after the answer.
pub(crate) async fn settle(ctx: &Ctx, cause: &str) -> ApiResult<()> {
    if ctx.fetch_pending.get() {
        run_due(ctx, Some(cause)).await?;
    }
    Ok(())
}

async fn run_due(ctx: &Ctx, cause: Option<&str>) -> ApiResult<()> {
    let due = store::pending_fetches_due(&ctx.db, ctx.now, ctx.now - STALE_CLAIM_SECS, BATCH, cause).await?;
    for job in due {
        if !store::claim_fetch(&ctx.db, &job.id, job.attempts, ctx.now, ctx.now - STALE_CLAIM_SECS).await? {
            continue; // another run took it
        }
        if let Err(failure) = perform(ctx, &job).await {
            release(ctx, &job, &failure).await?;
        }
    }
    Ok(())
}

/// Why a fetch did not complete.
struct Failure {
    /// Retrying cannot help (Stripe refused the request: the object is gone or not ours).
    permanent: bool,
    message: String,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self { permanent: false, message: e.message }
    }
}

/// Fetches the object and applies it; the row is marked done in the same batch as the grants.
async fn perform(ctx: &Ctx, job: &PendingFetch) -> Result<(), Failure> {
    let fetch = FetchRequest::from_stored(&job.object, &job.stripe_id)
        .ok_or_else(|| Failure { permanent: true, message: format!("unknown fetch kind {}", job.object) })?;
    let site = store::site(&ctx.db, &job.site_id).await.map_err(ApiError::from)?;
    let site = site.ok_or_else(|| Failure { permanent: true, message: "the site no longer exists".into() })?;
    if fetch.object == FetchObject::SetupIntent {
        let done = done_statement(ctx, job)?;
        return saved_card::make_default(ctx, &site, &fetch.id, done)
            .await
            .map_err(|f| Failure { permanent: f.permanent, message: f.message });
    }
    let account = site.stripe().map_err(|e| Failure { permanent: true, message: e.message })?;
    let request = fetch.to_stripe_request().on_account(account);
    let body = stripe::send_raw(&ctx.config, &request)
        .await
        .map_err(|e| Failure { permanent: matches!(e, StripeError::Refused { .. }), message: e.to_string() })?;
    let object = StripeObject::parse(body.as_bytes())
        .map_err(|e| Failure { permanent: true, message: format!("re-fetched object unreadable: {e}") })?;
    let done = done_statement(ctx, job)?;
    let origin = Origin { event_id: None, cause: &job.id, round: job.round + 1, notify: true };
    grants::apply(ctx, &site, Input::Fetched { object: &object }, origin, vec![done]).await?;
    Ok(())
}

/// The statement marking `job` done (written in the same batch as what it did).
fn done_statement(ctx: &Ctx, job: &PendingFetch) -> Result<D1PreparedStatement, Failure> {
    Ok(store::mark_fetch_done(&ctx.db, &job.id, ctx.now).map_err(ApiError::from)?)
}

/// Records a failed try: back to pending with exponential backoff, or `failed` after [`MAX_ATTEMPTS`] or when
/// retrying cannot help.
async fn release(ctx: &Ctx, job: &PendingFetch, failure: &Failure) -> ApiResult<()> {
    let attempts = job.attempts + 1;
    let status = if failure.permanent || attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    let backoff = 30 * (1_i64 << attempts.clamp(0, 10));
    worker::console_warn!(
        "fetch {} ({} {}) failed, try {attempts}: {}",
        job.id,
        job.object,
        job.stripe_id,
        failure.message
    );
    store::release_fetch(&ctx.db, &job.id, status, ctx.now + backoff, &failure.message).await?;
    Ok(())
}
