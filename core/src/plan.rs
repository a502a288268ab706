//! One input to the access engine, planned whole: from the input (an event, a claim's or a re-fetch's fetched
//! object, an imported subscription), the rows it touches and the site's facts, everything the edge writes in one
//! batch: the grant rows, the buyer's member link, the activity, the notification emails with their recipients and
//! the re-fetches. The edge reads what [`crate::engine::scope`] names, calls [`apply`] once and writes [`Writes`].

use crate::catalog::StoredProduct;
use crate::engine::{self, AccessState, Activity, Catalog, Effect, Grant, Input, Notification};
use crate::member::{self, LinkPlan};
use crate::notify::{self, Audience};

/// How many rounds of re-fetches one cause may chain (a fetched answer asking for another fetch, and so on):
/// past it the fetch is dropped and logged, so a disagreement Stripe never settles cannot loop.
pub const MAX_FETCH_ROUNDS: i64 = 2;

/// Where an input came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The Stripe event id, when the input is a webhook event.
    pub event_id: Option<&'a str>,
    /// What caused the input, unique per cause (the event id, the checkout session of a claim, the fetch job):
    /// derives the ids of the emails and fetches it queues, so a replay queues nothing twice.
    pub cause: &'a str,
    /// How many re-fetches deep this input is (0 for events, claims and imports).
    pub round: i64,
    /// Whether notifications become emails (an import of existing subscribers stays quiet).
    pub notify: bool,
}

/// What the edge read for one input.
#[derive(Debug, Clone, Copy)]
pub struct Loaded<'a> {
    /// The site's public key.
    pub site: &'a str,
    /// The site's name, for the emails.
    pub site_name: &'a str,
    /// The engine's catalog ([`crate::catalog::engine_catalog`]).
    pub catalog: &'a Catalog,
    /// The stored products, for the products' names in the emails.
    pub products: &'a [StoredProduct],
    /// The rows [`crate::engine::scope`] named.
    pub grants: &'a [Grant],
    /// The site's owners' addresses (owner notifications go to each).
    pub owners: &'a [String],
}

/// Who an email goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// This address.
    Address(String),
    /// Whoever is the member of this Stripe customer when the email is written; held until a checkout or a claim
    /// links one (a subscription's events often come before its checkout's).
    MemberOfCustomer(String),
}

/// An email for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Idempotency key: a replay of the same cause writes nothing twice.
    pub id: String,
    /// Its recipient.
    pub to: Recipient,
    /// Subject line.
    pub subject: String,
    /// Plain text body.
    pub text: String,
}

/// A re-fetch to queue (`pending_fetches`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchJob {
    /// Job id, derived from the site, the object and the cause.
    pub id: String,
    /// `subscription`, `checkout.session`, ...
    pub object: &'static str,
    /// The Stripe id to fetch.
    pub stripe_id: String,
    /// What caused it ([`Origin::cause`]).
    pub cause: String,
    /// The round its answer will be applied at.
    pub round: i64,
}

/// Everything one input writes, in one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Writes {
    /// Every row of the scope after the input, to be upserted (the store's upsert keeps the engine's ordering).
    pub grants: Vec<Grant>,
    /// The buyer's customer and the member it joins ([`crate::member::link_purchase`]).
    pub link: Option<LinkPlan>,
    /// Activity entries, from the event `Origin::event_id` when there is one.
    pub activities: Vec<Activity>,
    /// Emails, rendered.
    pub emails: Vec<Email>,
    /// Re-fetches, performed after the answer.
    pub fetches: Vec<FetchJob>,
    /// What the operator's log should say (nothing here changes the writes).
    pub log: Vec<String>,
}

/// Plans one input: runs the engine over the loaded rows and turns its effects into writes. Pure.
pub fn apply(input: &Input<'_>, loaded: Loaded<'_>, origin: Origin<'_>, now: i64) -> Writes {
    let state = AccessState { grants: loaded.grants.to_vec() };
    let transition = engine::apply(input, &state, loaded.catalog, now);
    // The buyer's customer gets its member: never by the email typed on Stripe's page.
    let link = engine::buyer(input, &transition)
        .map(|b| member::link_purchase(loaded.site, &b.customer, &b.email, b.member.as_deref()));
    let mut log = Vec::new();
    let mut fetches = Vec::new();
    let mut emails = Vec::new();
    for effect in &transition.effects {
        match effect {
            Effect::Fetch(fetch) if origin.round >= MAX_FETCH_ROUNDS => {
                log.push(format!("fetch of {} dropped: {MAX_FETCH_ROUNDS} rounds of re-fetches already", fetch.id));
            }
            Effect::Fetch(fetch) => fetches.push(FetchJob {
                id: fetch.job_id(loaded.site, origin.cause),
                object: fetch.object_name(),
                stripe_id: fetch.id.clone(),
                cause: origin.cause.to_owned(),
                round: origin.round,
            }),
            Effect::Notify(n) if origin.notify => emails.extend(render(n, loaded, origin.cause, &mut log)),
            Effect::Notify(_) | Effect::RecordActivity(_) => {}
        }
    }
    Writes {
        activities: transition.activities().cloned().collect(),
        grants: transition.state.grants,
        link,
        emails,
        fetches,
        log,
    }
}

/// The emails of one notification. The recipient is the email the source told, else the member owning the
/// customer; owner notifications go to every owner of the site.
fn render(n: &Notification, loaded: Loaded<'_>, cause: &str, log: &mut Vec<String>) -> Vec<Email> {
    let product = n.product.as_deref().and_then(|slug| loaded.products.iter().find(|p| p.slug == slug));
    let content = notify::render(n, loaded.site_name, product.map(|p| p.name.as_str()));
    let email = |key: &str, to: Recipient| Email {
        id: notify::outbox_id(cause, n, key),
        to,
        subject: content.subject.clone(),
        text: content.text.clone(),
    };
    if notify::audience(n.kind) == Audience::Owner {
        if loaded.owners.is_empty() {
            log.push(format!(
                "{} for site {} not emailed: the site has no owner",
                notify::kind_name(n.kind),
                loaded.site
            ));
        }
        return loaded.owners.iter().map(|to| email(to, Recipient::Address(to.clone()))).collect();
    }
    // An `email:` customer key (no Stripe customer) is the address itself.
    let told = n.email.as_deref().or_else(|| n.customer.as_deref().and_then(|c| c.strip_prefix("email:")));
    match (told.and_then(|e| crate::validate::email(e).ok()), n.customer.as_deref()) {
        (Some(to), _) => vec![email(&to, Recipient::Address(to.clone()))],
        (None, Some(customer)) => {
            vec![email(&format!("customer:{customer}"), Recipient::MemberOfCustomer(customer.to_owned()))]
        }
        (None, None) => {
            log.push(format!("{} not emailed: it names no customer", notify::kind_name(n.kind)));
            Vec::new()
        }
    }
}
