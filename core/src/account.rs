//! Whose Stripe account a site works with: the one it connected, or the platform's for the one site the operator
//! put there; never a fallback. Also which webhook events are the site's, its mode, and when its connection may
//! change.

use crate::owner::Sensitive;

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

/// Why a site's Stripe connection cannot change as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefusal {
    /// The operator put the site on the platform's own account: owners cannot connect or disconnect it.
    #[error("this site runs on the platform's own Stripe account; only the operator can change that")]
    PlatformAccount,
    /// Nothing to disconnect.
    #[error("this site has no connected Stripe account")]
    NotConnected,
    /// The account Stripe answered already belongs to another site.
    #[error("this Stripe account is connected to another site")]
    AccountInUse,
}

/// A site's Stripe connection as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The account it connected, if any (kept after a disconnection).
    pub account: Option<&'a str>,
    /// `connected`, `disconnected` or `None` (never connected).
    pub status: Option<&'a str>,
    /// Whether the operator put it on the platform's account.
    pub platform: bool,
}

impl<'a> Connection<'a> {
    /// Whether an owner may start (or finish) connecting the site, and what that needs confirmed: a first
    /// connection nothing, a new account for a site that had one a fresh code.
    pub fn may_connect(&self) -> Result<Sensitive, ConnectionRefusal> {
        if self.platform {
            return Err(ConnectionRefusal::PlatformAccount);
        }
        Ok(Sensitive::connect(self.account.is_some()))
    }

    /// The account to disconnect, when the site is connected.
    pub fn may_disconnect(&self) -> Result<&'a str, ConnectionRefusal> {
        if self.platform {
            return Err(ConnectionRefusal::PlatformAccount);
        }
        self.account.filter(|_| self.status == Some("connected")).ok_or(ConnectionRefusal::NotConnected)
    }

    /// The change the owner's Stripe button makes now: disconnecting a connected site, else connecting it.
    pub fn next_change(&self) -> Sensitive {
        if self.status == Some("connected") {
            Sensitive::Disconnect
        } else {
            Sensitive::connect(self.account.is_some())
        }
    }
}

/// Whether the account Stripe answered may become `site`'s: not while another site holds it (`holder`: the site it
/// is connected to now, if any).
pub fn may_take(site: &str, holder: Option<&str>) -> Result<(), ConnectionRefusal> {
    match holder {
        Some(other) if other != site => Err(ConnectionRefusal::AccountInUse),
        _ => Ok(()),
    }
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

    #[test]
    fn connection_changes_are_decided_here() {
        let never = Connection { account: None, status: None, platform: false };
        assert_eq!(never.may_connect(), Ok(Sensitive::FirstConnection));
        assert_eq!(never.may_disconnect(), Err(ConnectionRefusal::NotConnected));
        assert_eq!(never.next_change(), Sensitive::FirstConnection);
        let connected = Connection { account: Some("acct_1"), status: Some("connected"), platform: false };
        assert_eq!(connected.may_connect(), Ok(Sensitive::Reconnect), "money would go elsewhere");
        assert_eq!(connected.may_disconnect(), Ok("acct_1"));
        assert_eq!(connected.next_change(), Sensitive::Disconnect);
        let gone = Connection { status: Some("disconnected"), ..connected };
        assert_eq!(gone.may_disconnect(), Err(ConnectionRefusal::NotConnected));
        assert_eq!(gone.next_change(), Sensitive::Reconnect);
        let platform = Connection { account: None, status: None, platform: true };
        assert_eq!(platform.may_connect(), Err(ConnectionRefusal::PlatformAccount));
        assert_eq!(platform.may_disconnect(), Err(ConnectionRefusal::PlatformAccount));
        assert_eq!(may_take("site_a", Some("site_b")), Err(ConnectionRefusal::AccountInUse));
        assert_eq!((may_take("site_a", Some("site_a")), may_take("site_a", None)), (Ok(()), Ok(())));
    }
}
