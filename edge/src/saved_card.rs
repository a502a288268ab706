//! Setup mode's last step, carried out: the card a member saved becomes the default of their Stripe customer and
//! of their billed subscriptions. Runs as a durable job of `fetches.rs` (object `setup_intent`, queued by the
//! engine when a setup session completes, from the webhook or the claim), so it is off the webhook's request,
//! retried with backoff, and never lost. The decisions are `latch_core::payment_method::plan`; every POST has an
//! idempotency key scoped by the SetupIntent, so running it twice (webhook and claim) repeats nothing at Stripe.

use latch_core::engine::{FetchObject, FetchRequest};
use latch_core::payment_method::{self, SaveError};
use latch_core::stripe_request::StripeError;
use worker::D1PreparedStatement;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::store::{self, Site};
use crate::stripe;

/// Why the job did not finish.
pub(crate) struct SaveFailure {
    /// Retrying cannot help.
    pub(crate) permanent: bool,
    /// For the job's `last_error` and the log.
    pub(crate) message: String,
}

impl From<StripeError> for SaveFailure {
    fn from(e: StripeError) -> Self {
        Self { permanent: matches!(e, StripeError::Refused { .. }), message: e.to_string() }
    }
}

impl From<ApiError> for SaveFailure {
    fn from(e: ApiError) -> Self {
        Self { permanent: false, message: e.message }
    }
}

impl From<worker::Error> for SaveFailure {
    fn from(e: worker::Error) -> Self {
        ApiError::from(e).into()
    }
}

/// Makes the card of SetupIntent `seti` the default, then writes `done` (the job's completion) and the
/// "Payment method updated" activity (once per SetupIntent) in one batch.
pub(crate) async fn make_default(
    ctx: &Ctx,
    site: &Site,
    seti: &str,
    done: D1PreparedStatement,
) -> Result<(), SaveFailure> {
    let account = site.stripe().map_err(|e| SaveFailure { permanent: true, message: e.message })?;
    let fetch = FetchRequest { object: FetchObject::SetupIntent, id: seti.to_owned() };
    let body = stripe::send_raw(&ctx.config, &fetch.to_stripe_request().on_account(account)).await?;
    let intent = payment_method::parse_setup_intent(body.as_bytes())
        .map_err(|message| SaveFailure { permanent: true, message })?;
    let subscriptions = match &intent.customer {
        Some(customer) => {
            let request = payment_method::list_customer_subscriptions(customer).on_account(account);
            let body = stripe::send_raw(&ctx.config, &request).await?;
            payment_method::parse_subscriptions(body.as_bytes())
                .map_err(|message| SaveFailure { permanent: true, message })?
        }
        None => Vec::new(),
    };
    let plan = payment_method::plan(&intent, &subscriptions, account)
        .map_err(|e| SaveFailure { permanent: !matches!(e, SaveError::NotSucceeded(_)), message: e.to_string() })?;
    for request in &plan.requests {
        stripe::send_raw(&ctx.config, request).await?;
    }
    // One entry per SetupIntent, even when the webhook's and the claim's jobs both finish (one atomic statement).
    let activity = store::insert_payment_method_updated(
        &ctx.db,
        &site.id,
        plan.activity.customer.as_deref(),
        &plan.activity.stripe_object,
        &plan.activity.reason,
        ctx.now,
    )?;
    let statements = vec![done, activity];
    store::batch(&ctx.db, statements).await?;
    Ok(())
}
