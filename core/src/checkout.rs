//! What `POST /v1/checkout` becomes, decided here: which mode the body asks for, whether the product sells through
//! Checkout, and the Checkout Session's parameters (mode from the price, trial, promotion codes, billing address,
//! who buys, how long it takes payment). The edge reads the price and product named and the signed-in member, calls
//! [`session_params`] once and sends the request.

use crate::claim;
use crate::member::CheckoutIdentity;
use crate::stripe_request::{CheckoutMode, CheckoutParams};

/// What a checkout body asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Buy the price named (`mode` absent, `payment` or `subscription`: the price decides).
    Buy,
    /// Save a card to the signed-in member's customer (`mode: "setup"`).
    Setup,
}

/// Why a checkout cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// `mode` is neither absent, `payment`, `subscription` nor `setup`.
    #[error("mode must be `setup` or absent, not `{0}`")]
    BadMode(String),
    /// Setup mode without a signed-in member who has a Stripe customer.
    #[error("saving a card needs a signed-in member with a billing account")]
    MemberRequired,
    /// The owner turned checkout off for the product (it sells elsewhere, or not now).
    #[error("checkout is turned off for {0}")]
    CheckoutDisabled(String),
    /// The product was archived or deleted in Stripe: it is not sold any more.
    #[error("{0} is not sold any more")]
    NotSold(String),
    /// A purchase without a price.
    #[error("give either `price` or `product`")]
    NothingToBuy,
}

/// Reads the body's `mode`.
pub fn requested(mode: Option<&str>) -> Result<Requested, CheckoutError> {
    match mode {
        None | Some("payment" | "subscription") => Ok(Requested::Buy),
        Some("setup") => Ok(Requested::Setup),
        Some(other) => Err(CheckoutError::BadMode(other.chars().take(32).collect())),
    }
}

/// The price bought and its product, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer<'a> {
    /// Stripe price id.
    pub price: &'a str,
    /// Whether the price recurs (a subscription).
    pub recurring: bool,
    /// The price's free trial (0: none).
    pub trial_days: i64,
    /// The product's slug.
    pub product: &'a str,
    /// The product's name (for the error when checkout is off).
    pub product_name: &'a str,
    /// Whether the product is still sold (not archived or deleted in Stripe).
    pub active: bool,
    /// Whether the owner sells it through Checkout.
    pub checkout_enabled: bool,
    /// Whether Checkout must collect the full billing address.
    pub billing_address_required: bool,
}

/// Where the buyer comes back to, built by [`crate::validate::checkout_success_url`] and
/// [`crate::validate::return_page`] from an allowed `return_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Return<'a> {
    /// Carries `{CHECKOUT_SESSION_ID}` back.
    pub success_url: &'a str,
    /// The page itself.
    pub cancel_url: &'a str,
}

/// The Checkout Session's parameters for one attempt (`claim_hash`: [`crate::claim::secret_hash`] of its secret).
/// A purchase needs an [`Offer`] that sells through Checkout; a setup needs a signed-in member with a customer.
pub fn session_params<'a>(
    requested: Requested,
    offer: Option<Offer<'a>>,
    identity: CheckoutIdentity<'a>,
    back: Return<'a>,
    site: &'a str,
    claim_hash: &'a str,
    now: i64,
) -> Result<CheckoutParams<'a>, CheckoutError> {
    let offer = match requested {
        Requested::Setup if identity.customer.is_none() => return Err(CheckoutError::MemberRequired),
        Requested::Setup => None,
        Requested::Buy => {
            let offer = offer.ok_or(CheckoutError::NothingToBuy)?;
            if !offer.active {
                return Err(CheckoutError::NotSold(offer.product_name.to_owned()));
            }
            if !offer.checkout_enabled {
                return Err(CheckoutError::CheckoutDisabled(offer.product_name.to_owned()));
            }
            Some(offer)
        }
    };
    let mode = match offer {
        None => CheckoutMode::Setup,
        Some(o) if o.recurring => CheckoutMode::Subscription,
        Some(_) => CheckoutMode::Payment,
    };
    Ok(CheckoutParams {
        mode,
        price: offer.map_or("", |o| o.price),
        quantity: 1,
        success_url: back.success_url,
        cancel_url: back.cancel_url,
        site,
        product: offer.map_or("", |o| o.product),
        customer: identity.customer,
        customer_email: identity.customer_email,
        trial_days: offer.and_then(|o| u32::try_from(o.trial_days).ok()),
        allow_promotion_codes: mode != CheckoutMode::Setup,
        require_billing_address: offer.is_some_and(|o| o.billing_address_required),
        claim_hash,
        member: identity.member,
        expires_at: now + claim::SESSION_TTL_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACK: Return<'static> = Return {
        success_url: "https://a.example/?latch_session={CHECKOUT_SESSION_ID}",
        cancel_url: "https://a.example/",
    };

    fn offer(recurring: bool) -> Offer<'static> {
        Offer {
            price: "price_1",
            recurring,
            trial_days: 7,
            product: "pro",
            product_name: "Pro",
            active: true,
            checkout_enabled: true,
            billing_address_required: false,
        }
    }

    const GUEST: CheckoutIdentity<'static> = CheckoutIdentity { customer: None, customer_email: None, member: None };

    #[test]
    fn the_price_decides_the_mode_and_setup_needs_a_customer() {
        assert_eq!(requested(None), Ok(Requested::Buy));
        assert_eq!(requested(Some("subscription")), Ok(Requested::Buy));
        assert_eq!(requested(Some("setup")), Ok(Requested::Setup));
        assert!(matches!(requested(Some("gift")), Err(CheckoutError::BadMode(m)) if m == "gift"));
        let sub = session_params(Requested::Buy, Some(offer(true)), GUEST, BACK, "site_a", "h", 100).unwrap();
        assert_eq!((sub.mode, sub.trial_days, sub.allow_promotion_codes), (CheckoutMode::Subscription, Some(7), true));
        assert_eq!(sub.expires_at, 100 + claim::SESSION_TTL_SECS);
        let once = session_params(Requested::Buy, Some(offer(false)), GUEST, BACK, "site_a", "h", 100).unwrap();
        assert_eq!(once.mode, CheckoutMode::Payment);
        assert_eq!(
            session_params(Requested::Setup, None, GUEST, BACK, "site_a", "h", 100),
            Err(CheckoutError::MemberRequired)
        );
        let member = CheckoutIdentity { customer: Some("cus_1"), customer_email: None, member: Some("mem_1") };
        let setup = session_params(Requested::Setup, Some(offer(true)), member, BACK, "site_a", "h", 100).unwrap();
        assert_eq!((setup.mode, setup.price, setup.allow_promotion_codes), (CheckoutMode::Setup, "", false));
        assert_eq!((setup.customer, setup.member), (Some("cus_1"), Some("mem_1")));
    }

    #[test]
    fn a_product_sold_elsewhere_never_opens_checkout() {
        let off = Offer { checkout_enabled: false, ..offer(false) };
        assert_eq!(
            session_params(Requested::Buy, Some(off), GUEST, BACK, "site_a", "h", 100),
            Err(CheckoutError::CheckoutDisabled("Pro".into()))
        );
        assert_eq!(
            session_params(Requested::Buy, None, GUEST, BACK, "site_a", "h", 100),
            Err(CheckoutError::NothingToBuy)
        );
        let archived = Offer { active: false, ..offer(false) };
        assert_eq!(
            session_params(Requested::Buy, Some(archived), GUEST, BACK, "site_a", "h", 100),
            Err(CheckoutError::NotSold("Pro".into()))
        );
        let billing = Offer { billing_address_required: true, ..offer(false) };
        let p = session_params(Requested::Buy, Some(billing), GUEST, BACK, "site_a", "h", 100).unwrap();
        assert!(p.require_billing_address);
    }
}
