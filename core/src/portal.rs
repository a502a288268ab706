//! Customer Portal settings of a site: what the owner chose (portal on or off, privacy and terms links, whether
//! members may cancel), checked here, and the Stripe billing portal configuration that carries them.
//!
//! Stripe does not require the privacy and terms links (API version 2025-08-27.basil: `business_profile` is
//! optional); when given they must be URLs members can open, so Latch takes `https` URLs only (`http` on loopback
//! hosts, for local development), like every other URL it stores.

use serde::{Deserialize, Serialize};

use crate::stripe_request::{Method, StripeRequest};
use crate::validate;

/// A site's portal settings, as the owner sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalSettings {
    /// Whether members may open the portal at all.
    pub enabled: bool,
    /// Link to the site's privacy policy, shown in the portal.
    #[serde(default)]
    pub privacy_policy_url: Option<String>,
    /// Link to the site's terms of service, shown in the portal.
    #[serde(default)]
    pub terms_of_service_url: Option<String>,
    /// Whether members may cancel their subscriptions in the portal (at the end of the period).
    pub allow_cancel: bool,
}

impl Default for PortalSettings {
    /// A site that never saved settings: portal on, cancelling allowed, no links (Stripe's default portal).
    fn default() -> Self {
        Self { enabled: true, privacy_policy_url: None, terms_of_service_url: None, allow_cancel: true }
    }
}

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalSettingsError {
    /// A link is not an absolute https URL.
    #[error("{field} must be an absolute https URL (http only on localhost), got `{value}`")]
    BadUrl {
        /// `privacy_policy_url` or `terms_of_service_url`.
        field: &'static str,
        /// What was sent (shortened).
        value: String,
    },
}

impl PortalSettingsError {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::BadUrl { field, .. } => field,
        }
    }
}

fn link(field: &'static str, raw: Option<&str>) -> Result<Option<String>, PortalSettingsError> {
    let Some(url) = raw.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(None) };
    let ok = url.len() <= 2048 && validate::origin_of(url).is_ok();
    if ok {
        Ok(Some(url.to_owned()))
    } else {
        Err(PortalSettingsError::BadUrl { field, value: url.chars().take(200).collect() })
    }
}

impl PortalSettings {
    /// The settings checked and normalized: links trimmed, empty links removed, each link an https URL.
    pub fn validated(&self) -> Result<Self, PortalSettingsError> {
        Ok(Self {
            enabled: self.enabled,
            privacy_policy_url: link("privacy_policy_url", self.privacy_policy_url.as_deref())?,
            terms_of_service_url: link("terms_of_service_url", self.terms_of_service_url.as_deref())?,
            allow_cancel: self.allow_cancel,
        })
    }

    /// `POST /v1/billing_portal/configurations`: the portal members of `site` get. Invoice history and card
    /// updates are always on (a member whose payment failed fixes it there); cancelling, when allowed, takes effect
    /// at the end of the paid period so access runs until then.
    pub fn create_configuration(&self, site: &str) -> StripeRequest {
        let mut req = self.features(StripeRequest::new(Method::Post, "/v1/billing_portal/configurations"));
        for (key, url) in self.links() {
            if let Some(url) = url {
                req = req.param(key, url);
            }
        }
        req.param("metadata[latch_site]", site)
    }

    /// `POST /v1/billing_portal/configurations/{id}`: the same settings on an existing configuration; removed links
    /// are cleared (Stripe unsets a parameter sent empty).
    pub fn update_configuration(&self, id: &str) -> StripeRequest {
        let mut req =
            self.features(StripeRequest::new(Method::Post, format!("/v1/billing_portal/configurations/{id}")));
        for (key, url) in self.links() {
            req = req.param(key, url.unwrap_or_default());
        }
        req
    }

    fn links(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("business_profile[privacy_policy_url]", self.privacy_policy_url.as_deref()),
            ("business_profile[terms_of_service_url]", self.terms_of_service_url.as_deref()),
        ]
    }

    fn features(&self, req: StripeRequest) -> StripeRequest {
        req.param("features[invoice_history][enabled]", "true")
            .param("features[payment_method_update][enabled]", "true")
            .param("features[subscription_cancel][enabled]", if self.allow_cancel { "true" } else { "false" })
            .param("features[subscription_cancel][mode]", "at_period_end")
    }
}

/// Why a member cannot open the billing portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortalRefusal {
    /// The owner turned the portal off.
    #[error("this site does not offer the billing portal")]
    Disabled,
    /// The member never bought anything: Stripe has no customer of theirs.
    #[error("this member has no billing account yet")]
    NoCustomer,
}

/// The customer whose portal a member opens: only their own, only while the owner offers the portal.
pub fn portal_customer<'a>(settings: &PortalSettings, customer: Option<&'a str>) -> Result<&'a str, PortalRefusal> {
    if !settings.enabled {
        return Err(PortalRefusal::Disabled);
    }
    customer.ok_or(PortalRefusal::NoCustomer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(privacy: Option<&str>, terms: Option<&str>) -> PortalSettings {
        PortalSettings {
            enabled: true,
            privacy_policy_url: privacy.map(str::to_owned),
            terms_of_service_url: terms.map(str::to_owned),
            allow_cancel: false,
        }
    }

    fn get<'a>(req: &'a StripeRequest, key: &str) -> Option<&'a str> {
        req.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn links_must_be_https_or_loopback() {
        let ok = settings(Some(" https://site.com/privacy "), Some("http://127.0.0.1:8787/terms")).validated().unwrap();
        assert_eq!(ok.privacy_policy_url.as_deref(), Some("https://site.com/privacy"));
        assert_eq!(ok.terms_of_service_url.as_deref(), Some("http://127.0.0.1:8787/terms"));
        assert_eq!(settings(Some("  "), None).validated().unwrap().privacy_policy_url, None);
        for bad in ["http://site.com/privacy", "javascript:alert(1)", "site.com/privacy", "https://a@b.com/"] {
            let err = settings(None, Some(bad)).validated().unwrap_err();
            assert_eq!(err.field(), "terms_of_service_url", "{bad}");
        }
        let long = format!("https://site.com/{}", "a".repeat(2100));
        assert_eq!(settings(Some(&long), None).validated().unwrap_err().field(), "privacy_policy_url");
    }

    #[test]
    fn configuration_carries_the_choices() {
        let s = settings(Some("https://site.com/privacy"), None);
        let create = s.create_configuration("site_1");
        assert_eq!(create.path, "/v1/billing_portal/configurations");
        assert_eq!(get(&create, "features[subscription_cancel][enabled]"), Some("false"));
        assert_eq!(get(&create, "business_profile[privacy_policy_url]"), Some("https://site.com/privacy"));
        assert_eq!(get(&create, "business_profile[terms_of_service_url]"), None, "nothing to unset on create");
        assert_eq!(get(&create, "metadata[latch_site]"), Some("site_1"));
        let update = PortalSettings { allow_cancel: true, ..s }.update_configuration("bpc_1");
        assert_eq!(update.path, "/v1/billing_portal/configurations/bpc_1");
        assert_eq!(get(&update, "features[subscription_cancel][enabled]"), Some("true"));
        assert_eq!(get(&update, "business_profile[terms_of_service_url]"), Some(""), "a removed link is cleared");
    }

    #[test]
    fn a_member_opens_only_their_own_portal_while_it_is_offered() {
        let on = PortalSettings::default();
        assert_eq!(portal_customer(&on, Some("cus_1")), Ok("cus_1"));
        assert_eq!(portal_customer(&on, None), Err(PortalRefusal::NoCustomer));
        let off = PortalSettings { enabled: false, ..PortalSettings::default() };
        assert_eq!(portal_customer(&off, Some("cus_1")), Err(PortalRefusal::Disabled));
    }

    #[test]
    fn defaults_are_stripes_portal() {
        let d = PortalSettings::default();
        assert!(d.enabled && d.allow_cancel);
        assert_eq!(d.validated().unwrap(), d);
    }
}
