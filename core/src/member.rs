//! Who a member is, and which member a purchase belongs to. The one place that decides.
//!
//! Only three things prove who someone is: a member token Latch issued, a sign-in code sent to the email, or an
//! identity signed by the site's secret. An email typed on Stripe's page, a Checkout Session id and a request's
//! `Origin` prove nothing.
//!
//! A member is one record of a site. It is either
//! - **verified**: someone proved its email (a sign-in code, or the host site's signed identity). At most one
//!   verified member per (site, email); or
//! - **unverified**: made for a purchase nobody proved anything about. One per Stripe customer (its id is derived from
//!   the customer, so the claim and the webhook make the same one), named by the email typed on Stripe's page. Only
//!   the browser that started that checkout gets its token (the claim secret, [`crate::claim`]).
//!
//! The rules:
//! 1. A Stripe customer linked to a member stays that member's: a link is never re-pointed ([`link_purchase`]).
//! 2. A checkout started with a member token belongs to that member: their customer is reused, or the member id
//!    rides in the session's metadata ([`checkout_identity`], [`META_MEMBER`]).
//! 3. Any other purchase gets its own unverified member, whatever email was typed: typing someone's email never
//!    signs in as them, merges into them or re-points their billing.
//! 4. Proof of an email ([`on_proof`]) finds or creates the verified member of that email, and merges into it every
//!    unverified member of that email plus the unverified member whose token the proving browser holds. Merged
//!    members are deleted, so their tokens stop working; what they bought now belongs to the verified member.

use sha2::{Digest, Sha256};

/// Checkout Session metadata key naming the member who started the checkout with a valid member token.
pub const META_MEMBER: &str = "latch_member";

/// What a Checkout Session is created with, for a buyer who may be signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutIdentity<'a> {
    /// The Stripe customer to reuse (`customer`).
    pub customer: Option<&'a str>,
    /// The email to pre-fill (`customer_email`); never together with `customer`.
    pub customer_email: Option<&'a str>,
    /// The member to record in the session's metadata ([`META_MEMBER`]): only one proved by a member token.
    pub member: Option<&'a str>,
}

/// A member who proved who they are for this request (a valid member token of the site).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn<'a> {
    /// Member id.
    pub id: &'a str,
    /// Their email.
    pub email: &'a str,
    /// Their most recently linked Stripe customer, if any.
    pub customer: Option<&'a str>,
}

/// The signed-in member's customer if they have one, else their email; a signed-out buyer's optional email is only
/// a pre-fill and proves nothing.
pub fn checkout_identity<'a>(signed_in: Option<SignedIn<'a>>, typed_email: Option<&'a str>) -> CheckoutIdentity<'a> {
    match signed_in {
        Some(m) => CheckoutIdentity {
            customer: m.customer,
            customer_email: if m.customer.is_some() { None } else { Some(m.email) },
            member: Some(m.id),
        },
        None => CheckoutIdentity { customer: None, customer_email: typed_email, member: None },
    }
}

/// How to link a purchase's Stripe customer to its member: try each candidate in order, stopping at the first that
/// holds. The edge writes the plan as conditional statements in one batch, so a claim and a webhook racing on the
/// same purchase still make one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    /// The purchase's Stripe customer.
    pub customer: String,
    /// In order; a customer already linked keeps its member and none is tried (a link is never re-pointed).
    pub candidates: Vec<Candidate>,
}

/// One way to own a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// This existing member (the one who started the checkout signed in), if it still exists.
    Member(String),
    /// The customer's own unverified member, created if new.
    Unverified {
        /// [`unverified_member_id`] of the customer.
        id: String,
        /// The email typed on Stripe's page: the member's name, nothing more.
        email: String,
    },
}

/// Who gets a purchase of `customer` on `site`: the member already linked to it; else the member who started the
/// checkout with their token (`checkout_member`, the session's [`META_MEMBER`]); else the customer's own unverified
/// member, named by `typed_email`. The typed email never chooses an existing member.
pub fn link_purchase(site: &str, customer: &str, typed_email: &str, checkout_member: Option<&str>) -> LinkPlan {
    let mut candidates: Vec<Candidate> =
        checkout_member.map(|id| Candidate::Member(id.to_owned())).into_iter().collect();
    candidates.push(Candidate::Unverified { id: unverified_member_id(site, customer), email: typed_email.to_owned() });
    LinkPlan { customer: customer.to_owned(), candidates }
}

/// The id of the unverified member made for `customer` on `site`: derived, so the claim, the webhook and an import
/// make the same member whichever comes first.
pub fn unverified_member_id(site: &str, customer: &str) -> String {
    let mut hash = Sha256::new();
    for part in ["latch-unverified-member-v1", site, customer] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    format!("mem_{}", hex::encode(&hash.finalize()[..12]))
}

/// A member as core needs to see it to decide a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Member id.
    pub id: String,
    /// Email (typed on Stripe's page for an unverified member).
    pub email: String,
    /// Whether someone proved the email.
    pub verified: bool,
}

/// What a proof of an email does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The verified member of the email, when there is one; `None`: create it (with a fresh random id).
    pub verified: Option<String>,
    /// Unverified members to merge into it: their customers move over, then they are deleted.
    pub merge: Vec<String>,
}

/// Someone proved `email` (a sign-in code, or the host site's signed identity). `members` are the site's members
/// with that email; `presented` is the member whose token the proving browser sent along, if any. Only unverified
/// members merge: a verified member never merges into another, and a presented member of another email merges only
/// because the same browser holds its token and proved this email.
pub fn on_proof(email: &str, members: &[Known], presented: Option<&Known>) -> Proof {
    let verified = members.iter().find(|m| m.verified && m.email == email).map(|m| m.id.clone());
    let mut merge: Vec<String> =
        members.iter().filter(|m| !m.verified && m.email == email).map(|m| m.id.clone()).collect();
    if let Some(p) = presented.filter(|p| !p.verified)
        && !merge.contains(&p.id)
    {
        merge.push(p.id.clone());
    }
    merge.sort();
    Proof { verified, merge }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str, email: &str, verified: bool) -> Known {
        Known { id: id.into(), email: email.into(), verified }
    }

    #[test]
    fn a_signed_in_member_checks_out_as_themselves() {
        let ann = SignedIn { id: "mem_a", email: "ann@x.io", customer: Some("cus_1") };
        let known = checkout_identity(Some(ann), Some("other@x.io"));
        assert_eq!(known, CheckoutIdentity { customer: Some("cus_1"), customer_email: None, member: Some("mem_a") });
        let first = checkout_identity(Some(SignedIn { customer: None, ..ann }), Some("other@x.io"));
        assert_eq!(first, CheckoutIdentity { customer: None, customer_email: Some("ann@x.io"), member: Some("mem_a") });
        let anonymous = checkout_identity(None, Some("bob@x.io"));
        assert_eq!(anonymous, CheckoutIdentity { customer: None, customer_email: Some("bob@x.io"), member: None });
    }

    #[test]
    fn a_typed_email_decides_nothing() {
        // A signed-in checkout tries its member first; anything else gets the customer's own unverified member.
        let plan = link_purchase("site_a", "cus_1", "victim@x.io", Some("mem_b"));
        assert_eq!(plan.customer, "cus_1");
        assert_eq!(
            plan.candidates,
            [
                Candidate::Member("mem_b".into()),
                Candidate::Unverified { id: unverified_member_id("site_a", "cus_1"), email: "victim@x.io".into() },
            ]
        );
        let anonymous = link_purchase("site_a", "cus_1", "victim@x.io", None);
        assert_eq!(anonymous.candidates[..], plan.candidates[1..]);
        let id = unverified_member_id("site_a", "cus_1");
        assert!(id.starts_with("mem_") && id.len() == 28);
        assert_ne!(id, unverified_member_id("site_b", "cus_1"));
        assert_ne!(id, unverified_member_id("site_a", "cus_2"));
        // Length prefixes: moving a boundary changes the id.
        assert_ne!(unverified_member_id("ab", "c"), unverified_member_id("a", "bc"));
    }

    #[test]
    fn proof_merges_only_unverified_members() {
        let members =
            [known("mem_v", "ann@x.io", true), known("mem_u1", "ann@x.io", false), known("mem_u2", "ann@x.io", false)];
        let proof = on_proof("ann@x.io", &members, None);
        assert_eq!(proof, Proof { verified: Some("mem_v".into()), merge: vec!["mem_u1".into(), "mem_u2".into()] });
        // No verified member yet: one is created; the presented unverified member of another email joins too.
        let typo = known("mem_t", "an@x.io", false);
        let proof = on_proof("ann@x.io", &members[1..], Some(&typo));
        assert_eq!(proof.verified, None);
        assert_eq!(proof.merge, ["mem_t", "mem_u1", "mem_u2"]);
        // A verified member presented with a proof of another email never merges.
        let bea = known("mem_b", "bea@x.io", true);
        assert_eq!(on_proof("ann@x.io", &members, Some(&bea)).merge, ["mem_u1", "mem_u2"]);
    }
}
