//! Notification emails: who gets each [`Notification`] of the access engine, what the email says, and the
//! deterministic outbox id that makes a replayed cause write the same row (so it is never sent twice).

use sha2::{Digest, Sha256};

use crate::engine::{Notification, NotificationKind};

/// Who a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The member the grant belongs to (their email on the site).
    Member,
    /// The site's owner.
    Owner,
}

/// Who gets `kind`.
pub fn audience(kind: NotificationKind) -> Audience {
    match kind {
        NotificationKind::AccessGranted | NotificationKind::AccessRevoked | NotificationKind::PaymentFailed => {
            Audience::Member
        }
        NotificationKind::AccountDisconnected => Audience::Owner,
    }
}

/// A rendered email: subject and plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The kind's stable name (outbox ids, logs).
pub fn kind_name(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::AccessGranted => "access_granted",
        NotificationKind::AccessRevoked => "access_revoked",
        NotificationKind::PaymentFailed => "payment_failed",
        NotificationKind::AccountDisconnected => "account_disconnected",
    }
}

/// The email for `n` on the site named `site_name`; `product_name` is the product's display name when known.
pub fn render(n: &Notification, site_name: &str, product_name: Option<&str>) -> EmailContent {
    let site = one_line(site_name);
    let product = product_name.map(one_line).filter(|p| !p.is_empty()).unwrap_or_else(|| "your membership".into());
    let (subject, body) = match n.kind {
        NotificationKind::AccessGranted => (
            format!("Your access to {product} is ready"),
            format!(
                "Thank you for your purchase on {site}. Your access to {product} is active now.\n\n\
                 To use it in another browser or on another device, choose \"Sign in\" on {site} and enter this \
                 email address: we send you a one-time code, no password needed."
            ),
        ),
        NotificationKind::AccessRevoked => (
            format!("Your access to {product} has ended"),
            format!(
                "Your access to {product} on {site} has ended: the subscription or purchase behind it was \
                 cancelled, refunded or not paid.\n\n\
                 If you think this is a mistake, contact {site}. You can buy {product} again on {site} at any time."
            ),
        ),
        NotificationKind::PaymentFailed => (
            format!("Payment failed for {product}"),
            format!(
                "We could not take the latest payment for {product} on {site}. Your card issuer declined it or \
                 the card has expired.\n\n\
                 Stripe will try again over the next days, and your access continues during a short grace period. \
                 To keep it, update your card: sign in on {site} and choose \"Manage billing\"."
            ),
        ),
        NotificationKind::AccountDisconnected => (
            format!("Stripe was disconnected from {site}"),
            format!(
                "The Stripe account of {site} disconnected Latch. Latch no longer sees payments for {site}: new \
                 purchases and renewals are not recorded.\n\n\
                 Members keep the access they have until its current end; active subscriptions were not cancelled. \
                 Connect Stripe again in Settings > Payments to resume."
            ),
        ),
    };
    EmailContent { subject, text: format!("Hello,\n\n{body}\n\n— {site}\n") }
}

/// The email telling every owner of a site that its Stripe connection changed (whoever changed it): connected to
/// `account`, or disconnected from it.
pub fn connection_changed(site_name: &str, account: &str, connected: bool) -> EmailContent {
    let site = one_line(site_name);
    let account = one_line(account);
    let (subject, body) = if connected {
        (
            format!("Stripe account {account} connected to {site}"),
            format!(
                "The Stripe account {account} was connected to {site} in Latch. From now on, purchases on {site} \
                 are paid to that account.\n\n\
                 If you did not do this, sign in to the Latch dashboard at once, disconnect it in Settings > \
                 Payments, and sign out everywhere."
            ),
        )
    } else {
        (
            format!("Stripe was disconnected from {site}"),
            format!(
                "The Stripe account {account} was disconnected from {site} in Latch. Latch no longer sees payments \
                 for {site}; subscriptions keep running in Stripe until they are cancelled there.\n\n\
                 If you did not do this, sign in to the Latch dashboard and connect Stripe again in Settings > \
                 Payments."
            ),
        )
    };
    EmailContent { subject, text: format!("Hello,\n\n{body}\n\n— Latch\n") }
}

/// The outbox row id for a notification: the same cause (event id, claim, fetch), kind, recipient and product
/// always give the same id, so a replay inserts nothing new.
pub fn outbox_id(cause: &str, n: &Notification, recipient: &str) -> String {
    let mut hash = Sha256::new();
    for part in [cause, kind_name(n.kind), recipient, n.product.as_deref().unwrap_or("")] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("msg_{}", hex::encode(&hash.finalize()[..12]))
}

/// Text safe for a subject line: control characters (line breaks) become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: NotificationKind) -> Notification {
        Notification { kind, customer: Some("cus_1".into()), product: Some("pro".into()), email: None }
    }

    #[test]
    fn each_kind_says_what_happened_and_what_next() {
        let granted = render(&note(NotificationKind::AccessGranted), "Acme News", Some("Pro Plan"));
        assert_eq!(granted.subject, "Your access to Pro Plan is ready");
        assert!(granted.text.contains("Acme News") && granted.text.contains("Sign in"));
        let revoked = render(&note(NotificationKind::AccessRevoked), "Acme News", Some("Pro Plan"));
        assert_eq!(revoked.subject, "Your access to Pro Plan has ended");
        assert!(revoked.text.contains("buy Pro Plan again"));
        let failed = render(&note(NotificationKind::PaymentFailed), "Acme News", Some("Pro Plan"));
        assert_eq!(failed.subject, "Payment failed for Pro Plan");
        assert!(failed.text.contains("update your card") && failed.text.contains("Manage billing"));
        let gone = render(&note(NotificationKind::AccountDisconnected), "Acme News", None);
        assert!(gone.subject.contains("Acme News") && gone.text.contains("not cancelled"));
        for e in [granted, revoked, failed, gone] {
            assert!(e.text.starts_with("Hello,\n\n") && e.text.ends_with("— Acme News\n"), "{}", e.text);
        }
    }

    #[test]
    fn names_cannot_break_the_subject_line() {
        let e = render(&note(NotificationKind::AccessGranted), "Site", Some("Pro\r\nBcc: x@y.com"));
        assert!(!e.subject.contains(['\r', '\n']), "{:?}", e.subject);
        assert_eq!(
            render(&note(NotificationKind::AccessGranted), "Site", Some(" ")).subject,
            "Your access to your membership is ready"
        );
    }

    #[test]
    fn audiences() {
        assert_eq!(audience(NotificationKind::PaymentFailed), Audience::Member);
        assert_eq!(audience(NotificationKind::AccessRevoked), Audience::Member);
        assert_eq!(audience(NotificationKind::AccountDisconnected), Audience::Owner);
    }

    #[test]
    fn outbox_ids_are_deterministic_per_cause_kind_recipient_and_product() {
        let n = note(NotificationKind::PaymentFailed);
        let id = outbox_id("evt_1", &n, "a@x.com");
        assert_eq!(id, outbox_id("evt_1", &n, "a@x.com"));
        assert!(id.starts_with("msg_") && id.len() == 28);
        assert_ne!(id, outbox_id("evt_2", &n, "a@x.com"));
        assert_ne!(id, outbox_id("evt_1", &n, "b@x.com"));
        assert_ne!(id, outbox_id("evt_1", &note(NotificationKind::AccessRevoked), "a@x.com"));
        let other = Notification { product: Some("basic".into()), ..n };
        assert_ne!(id, outbox_id("evt_1", &other, "a@x.com"));
    }
}
