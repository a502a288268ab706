//! Which member a purchase belongs to, when the email typed on Stripe's page and the member we know disagree.
//!
//! A member is per site, keyed by email and by the Stripe customers linked to it. Two rules keep one person one
//! member:
//! - A signed-in member checks out with their own customer, or, when they have none yet, with their own email as
//!   `customer_email` (Stripe pre-fills it): [`checkout_identity`].
//! - A purchase whose Stripe customer is already linked to a member belongs to that member, whatever email was
//!   typed on Stripe's page; the member keeps their email and no second member is created for the typed one. Only a
//!   customer nobody owns yet is matched (or a member created) by the checkout's email: [`owner_of_purchase`].

/// What a Checkout Session is created with, for a buyer who may be signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutIdentity<'a> {
    /// The Stripe customer to reuse (`customer`).
    pub customer: Option<&'a str>,
    /// The email to pre-fill (`customer_email`); never together with `customer`.
    pub customer_email: Option<&'a str>,
}

/// The signed-in member's customer if they have one, else their email; a signed-out buyer's optional email.
pub fn checkout_identity<'a>(
    member_email: Option<&'a str>,
    member_customer: Option<&'a str>,
    typed_email: Option<&'a str>,
) -> CheckoutIdentity<'a> {
    match (member_customer, member_email) {
        (Some(customer), _) => CheckoutIdentity { customer: Some(customer), customer_email: None },
        (None, Some(email)) => CheckoutIdentity { customer: None, customer_email: Some(email) },
        (None, None) => CheckoutIdentity { customer: None, customer_email: typed_email },
    }
}

/// Who a completed purchase belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseOwner<'a> {
    /// The member (by email) already linked to the purchase's customer.
    Linked(&'a str),
    /// Nobody owns the customer yet: the member with the checkout's email (created if new), linked to it.
    ByEmail(&'a str),
}

impl<'a> PurchaseOwner<'a> {
    /// The email of the member who gets the purchase.
    pub fn email(self) -> &'a str {
        match self {
            Self::Linked(e) | Self::ByEmail(e) => e,
        }
    }
}

/// `linked_email` is the email of the member owning the purchase's customer (if any), `checkout_email` what
/// Stripe recorded for the session.
pub fn owner_of_purchase<'a>(linked_email: Option<&'a str>, checkout_email: &'a str) -> PurchaseOwner<'a> {
    match linked_email {
        Some(email) => PurchaseOwner::Linked(email),
        None => PurchaseOwner::ByEmail(checkout_email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_in_member_checks_out_as_themselves() {
        let known = checkout_identity(Some("ann@x.io"), Some("cus_1"), Some("other@x.io"));
        assert_eq!(known, CheckoutIdentity { customer: Some("cus_1"), customer_email: None });
        let first = checkout_identity(Some("ann@x.io"), None, Some("other@x.io"));
        assert_eq!(first, CheckoutIdentity { customer: None, customer_email: Some("ann@x.io") });
        let anonymous = checkout_identity(None, None, Some("bob@x.io"));
        assert_eq!(anonymous, CheckoutIdentity { customer: None, customer_email: Some("bob@x.io") });
        assert_eq!(checkout_identity(None, None, None), CheckoutIdentity { customer: None, customer_email: None });
    }

    #[test]
    fn a_known_customer_keeps_its_member_whatever_email_was_typed() {
        let owner = owner_of_purchase(Some("ann@x.io"), "typed@x.io");
        assert_eq!(owner, PurchaseOwner::Linked("ann@x.io"));
        assert_eq!(owner.email(), "ann@x.io");
        let new = owner_of_purchase(None, "bob@x.io");
        assert_eq!(new, PurchaseOwner::ByEmail("bob@x.io"));
        assert_eq!(new.email(), "bob@x.io");
    }
}
