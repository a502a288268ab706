//! Whose Stripe account a site works with: the one it connected, or the platform's for the one site the operator
//! put there; never a fallback. Also which webhook events are the site's, and its mode.

/// The Stripe account a site's Stripe calls go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteAccount<'a> {
    /// The account the site's owner connected (`Stripe-Account` header).
    Connected(&'a str),
    /// The platform's own account (single-account mode): only for the one site the operator marked so.
    Platform,
}

impl<'a> SiteAccount<'a> {
    /// The `Stripe-Account` header value, if any.
    pub fn header(self) -> Option<&'a str> {
        match self {
            Self::Connected(account) => Some(account),
            Self::Platform => None,
        }
    }
}

/// Why a site does no Stripe work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoStripe {
    /// The owner never connected Stripe (and the operator did not put the site on the platform's account).
    #[error("this site has not connected Stripe yet; its owner connects it in Settings > Payments")]
    NotConnected,
    /// The owner (or Stripe) disconnected it.
    #[error("this site's Stripe account is disconnected; the owner must connect Stripe again")]
    Disconnected,
}

/// The account a site works with: its connected account; the platform's only when the operator said so
/// (`platform`); nothing otherwise. A site that never connected never falls back to the platform's account.
pub fn site_account<'a>(
    account: Option<&'a str>,
    status: Option<&str>,
    platform: bool,
) -> Result<SiteAccount<'a>, NoStripe> {
    match (platform, status, account) {
        (true, _, _) => Ok(SiteAccount::Platform),
        (false, Some("connected"), Some(account)) => Ok(SiteAccount::Connected(account)),
        (false, Some("disconnected"), _) => Err(NoStripe::Disconnected),
        _ => Err(NoStripe::NotConnected),
    }
}

/// Whether a Stripe secret (or restricted) key is a live-mode key: a site on the platform's account takes the
/// key's mode, so a live key's events are not all ignored as the other mode's.
pub fn key_livemode(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("rk_live_")
}

/// A site's Stripe status as owners read it: `platform_account` for the operator's single-account site, else the
/// stored `connected` / `disconnected`, or `not_connected`.
pub fn status_label(stored: Option<&str>, platform: bool) -> &str {
    match (platform, stored) {
        (true, _) => "platform_account",
        (false, Some(status)) => status,
        (false, None) => "not_connected",
    }
}

/// The account whose webhook events are a site's: its connected account, `None` for the site on the platform's own
/// account (the platform's events carry no `account`).
pub fn event_account(account: Option<&str>, platform: bool) -> Option<&str> {
    if platform { None } else { account }
}

/// Whether a site works in live mode: a site on the platform's account follows the platform key's mode, a connected
/// site the mode it connected in.
pub fn site_livemode(stored_livemode: bool, platform: bool, platform_key: &str) -> bool {
    if platform { key_livemode(platform_key) } else { stored_livemode }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_uses_only_the_stripe_account_it_connected() {
        assert_eq!(site_account(Some("acct_1"), Some("connected"), false), Ok(SiteAccount::Connected("acct_1")));
        assert_eq!(site_account(None, None, false), Err(NoStripe::NotConnected), "never the platform's by default");
        assert_eq!(site_account(Some("acct_1"), Some("disconnected"), false), Err(NoStripe::Disconnected));
        assert_eq!(site_account(None, Some("connected"), false), Err(NoStripe::NotConnected));
        assert_eq!(site_account(None, None, true), Ok(SiteAccount::Platform));
        assert_eq!(SiteAccount::Platform.header(), None);
        assert_eq!(SiteAccount::Connected("acct_1").header(), Some("acct_1"));
        assert!(key_livemode("sk_live_123") && key_livemode("rk_live_1"));
        assert!(!key_livemode("sk_test_123") && !key_livemode("sk_livefoo"));
        assert_eq!(event_account(Some("acct_1"), false), Some("acct_1"));
        assert_eq!(event_account(Some("acct_1"), true), None);
        assert!(site_livemode(false, true, "sk_live_1") && !site_livemode(true, true, "sk_test_1"));
        assert!(site_livemode(true, false, "sk_test_1"));
        assert_eq!(status_label(Some("connected"), true), "platform_account");
        assert_eq!(
            (status_label(None, false), status_label(Some("disconnected"), false)),
            ("not_connected", "disconnected")
        );
    }
}
