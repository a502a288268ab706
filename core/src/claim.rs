//! The return trip from Checkout: who may claim a Checkout Session, and until when.
//!
//! A Checkout Session id proves nothing: it leaks through browser history, analytics, shared links and `Referer`.
//! So `POST /v1/checkout` draws a claim secret ([`secret`], 32 random bytes) and answers it only to the browser that
//! asked; Stripe keeps only its hash in the session's metadata ([`META_CLAIM`], [`secret_hash`]). `POST /v1/claim`
//! must present the secret, and is accepted only while the session is young ([`CLAIM_WINDOW_SECS`] after it was
//! created; the session itself expires after [`SESSION_TTL_SECS`]). Whoever holds only the id gets the same answer
//! as for a session that does not exist.
//!
//! The decision ([`check`]) is here; the edge fetches the session from Stripe and carries it out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::engine::META_SITE;
use crate::event::CheckoutSession;

/// Checkout Session metadata key holding the hash of the claim secret.
pub const META_CLAIM: &str = "latch_claim";

/// Random bytes in a claim secret.
pub const SECRET_BYTES: usize = 32;

/// How long a Checkout Session Latch creates stays open for payment (`expires_at`; Stripe allows 30 minutes to 24
/// hours).
pub const SESSION_TTL_SECS: i64 = 2 * 3600;

/// How long after its creation a session can be claimed: its life plus an hour for a slow return trip.
pub const CLAIM_WINDOW_SECS: i64 = SESSION_TTL_SECS + 3600;

/// The claim secret for `random` (base64url, 43 characters), handed to the browser that started the checkout.
pub fn secret(random: &[u8; SECRET_BYTES]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// What Stripe keeps of a claim secret (hex SHA-256 with a domain prefix): the secret cannot be read back from it.
pub fn secret_hash(secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"latch-claim-v1\0");
    hash.update(secret.as_bytes());
    hex::encode(hash.finalize())
}

/// Why a claim is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Not a session of this site that Latch started (or no secret was presented): answered like a missing session.
    #[error("checkout session was not found")]
    NotFound,
    /// The secret is not the one handed to the browser that started the checkout.
    #[error("this checkout was started in another browser; sign in with your email instead")]
    WrongBrowser,
    /// The session is older than [`CLAIM_WINDOW_SECS`].
    #[error("this checkout is too old to be claimed; sign in with your email instead")]
    Expired,
    /// Not paid (yet).
    #[error("the payment is not complete yet; try again in a moment")]
    Pending,
    /// The purchase has joined a verified member (someone proved the email it was bought under): its checkout no
    /// longer signs anyone in.
    #[error("this purchase now belongs to a member who signed in; sign in with your email to use it")]
    Joined,
}

/// Decides a claim of `session` on `site` with the `presented` secret at `now`. Checked in this order, so a stranger
/// learns nothing about a session they hold only the id of: ours (the site's metadata and a claim hash), the
/// secret, the age, then payment.
pub fn check(session: &CheckoutSession, site: &str, presented: &str, now: i64) -> Result<(), ClaimError> {
    let ours = session.metadata.get(META_SITE).is_some_and(|s| s == site);
    let Some(stored) = session.metadata.get(META_CLAIM).filter(|_| ours) else {
        return Err(ClaimError::NotFound);
    };
    if presented.is_empty() {
        return Err(ClaimError::NotFound);
    }
    let same: bool = secret_hash(presented).as_bytes().ct_eq(stored.as_bytes()).into();
    if !same {
        return Err(ClaimError::WrongBrowser);
    }
    if session.created.is_none_or(|created| now > created.saturating_add(CLAIM_WINDOW_SECS)) {
        return Err(ClaimError::Expired);
    }
    let paid = matches!(session.payment_status.as_deref(), Some("paid" | "no_payment_required"));
    if session.status.as_deref() != Some("complete") || !paid {
        return Err(ClaimError::Pending);
    }
    Ok(())
}

/// Whose token a claim that passed [`check`] answers: only the purchase's own member, that is the unverified member
/// of its customer ([`crate::member::unverified_member_id`]) or the member who started the checkout signed in
/// (`session_member`, the session's [`crate::member::META_MEMBER`]). `linked` is the member the customer is linked to
/// now; when a proof of email has joined the purchase to another member, the checkout's secret signs nobody in
/// ([`ClaimError::Joined`]), so claiming again after the real owner of an email signed in hands out nothing of theirs.
pub fn answer(site: &str, customer: &str, session_member: Option<&str>, linked: &str) -> Result<(), ClaimError> {
    let own = linked == crate::member::unverified_member_id(site, customer) || session_member == Some(linked);
    if own { Ok(()) } else { Err(ClaimError::Joined) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StripeObject;

    fn session(metadata: &str, created: i64, status: &str, paid: &str) -> CheckoutSession {
        let json = format!(
            r#"{{"object":"checkout.session","id":"cs_1","status":"{status}","payment_status":"{paid}",
                "created":{created},"metadata":{metadata}}}"#
        );
        match StripeObject::parse(json.as_bytes()) {
            Ok(StripeObject::CheckoutSession(cs)) => cs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_browser_holding_the_secret_claims_in_time() {
        let secret = secret(&[9; SECRET_BYTES]);
        assert_eq!(secret.len(), 43);
        let meta = format!(r#"{{"latch_site":"site_a","latch_claim":"{}"}}"#, secret_hash(&secret));
        let cs = session(&meta, 1000, "complete", "paid");
        assert_eq!(check(&cs, "site_a", &secret, 1000), Ok(()));
        assert_eq!(check(&cs, "site_a", &secret, 1000 + CLAIM_WINDOW_SECS), Ok(()));
        assert_eq!(check(&cs, "site_a", &secret, 1001 + CLAIM_WINDOW_SECS), Err(ClaimError::Expired));
        // A stranger with the id only, or another secret.
        assert_eq!(check(&cs, "site_a", "", 1000), Err(ClaimError::NotFound));
        assert_eq!(check(&cs, "site_a", &super::secret(&[8; SECRET_BYTES]), 1000), Err(ClaimError::WrongBrowser));
        // Another site's session, or one Latch did not start, looks like no session at all.
        assert_eq!(check(&cs, "site_b", &secret, 1000), Err(ClaimError::NotFound));
        let foreign = session(r#"{"latch_site":"site_a"}"#, 1000, "complete", "paid");
        assert_eq!(check(&foreign, "site_a", &secret, 1000), Err(ClaimError::NotFound));
        // Unpaid sessions wait.
        let open = session(&meta, 1000, "open", "unpaid");
        assert_eq!(check(&open, "site_a", &secret, 1000), Err(ClaimError::Pending));
        let processing = session(&meta, 1000, "complete", "unpaid");
        assert_eq!(check(&processing, "site_a", &secret, 1000), Err(ClaimError::Pending));
        assert_eq!(check(&session(&meta, 1000, "complete", "no_payment_required"), "site_a", &secret, 1000), Ok(()));
    }

    #[test]
    fn a_claim_answers_only_the_purchases_own_member() {
        let own = crate::member::unverified_member_id("site_a", "cus_1");
        assert_eq!(answer("site_a", "cus_1", None, &own), Ok(()));
        assert_eq!(answer("site_a", "cus_1", Some("mem_v"), "mem_v"), Ok(()), "bought signed in");
        // A proof of the typed email joined the purchase to that email's verified member: nothing for the claimant.
        assert_eq!(answer("site_a", "cus_1", None, "mem_verified"), Err(ClaimError::Joined));
        assert_eq!(answer("site_a", "cus_1", Some("mem_m"), "mem_verified"), Err(ClaimError::Joined));
        assert_eq!(answer("site_b", "cus_1", None, &own), Err(ClaimError::Joined), "another site's member");
    }

    #[test]
    fn the_stored_hash_is_not_the_secret() {
        let s = secret(&[1; SECRET_BYTES]);
        assert_ne!(secret_hash(&s), s);
        assert_eq!(secret_hash(&s).len(), 64);
        assert_ne!(secret_hash(&s), crate::connect::hash_secret(&s), "domain-separated from other hashes");
    }
}
