//! Stripe Connect OAuth (standard accounts): an authorize page that approves or denies, `/oauth/token`
//! (authorization_code and refresh_token grants), `/oauth/deauthorize`, and the access tokens it issues.

use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, random_chars};
use crate::store::Store;
use serde_json::{Value, json};

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// The connected account it grants.
    pub account: String,
    /// `read_write` or `read_only`.
    pub scope: String,
    /// Whether it was exchanged already (codes are single-use).
    pub used: bool,
}

/// An OAuth error answered as Stripe's connect endpoints do: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// `invalid_grant`, `invalid_request`, `invalid_client`, `unsupported_grant_type`.
    pub error: &'static str,
    /// Human-readable description.
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

/// What the platform's OAuth settings look like (from the CLI).
#[derive(Debug, Clone, Default)]
pub struct OAuthConfig {
    /// The platform's `ca_…` client id; `None` accepts any `ca_…`.
    pub client_id: Option<String>,
    /// Redirect used when the authorize request names none.
    pub redirect_uri: Option<String>,
    /// The platform's name, shown on the authorize page and in its `application` objects (`--platform-name`).
    pub platform_name: Option<String>,
}

impl OAuthConfig {
    /// The name the platform goes by (`Your platform` unless named).
    pub fn name(&self) -> &str {
        self.platform_name.as_deref().unwrap_or("Your platform")
    }
}

impl Store {
    /// Checks an authorize request's `client_id`.
    pub fn check_client_id(&self, client_id: Option<&str>) -> Result<String, OAuthError> {
        let Some(id) = client_id.filter(|c| !c.is_empty()) else {
            return Err(OAuthError::new(400, "invalid_request", "No client_id provided."));
        };
        let ok = match &self.oauth.client_id {
            Some(expected) => expected == id,
            None => id.starts_with("ca_"),
        };
        if ok {
            Ok(id.to_string())
        } else {
            Err(OAuthError::new(400, "invalid_client", format!("No such application: '{id}'")))
        }
    }

    /// The user approved: connects `existing` (an account id to reconnect) or a new standard account,
    /// emits `account.application.authorized`, and returns a fresh authorization code.
    pub fn approve_oauth(
        &mut self,
        client_id: &str,
        existing: Option<&str>,
        email: Option<&str>,
        scope: &str,
    ) -> String {
        let id = self.connect_account(existing, email);
        let code = format!("ac_{}", random_chars(32));
        self.oauth_codes.insert(code.clone(), AuthCode { account: id.clone(), scope: scope.to_string(), used: false });
        let app = json!({"id": client_id, "name": self.oauth.name(), "object": "application"});
        self.emit(&id, "account.application.authorized", &app, None);
        code
    }

    /// Connects `existing` (an account id to reconnect) or a new standard account to the platform, without
    /// events: the part of an approval the control API (`POST /_emulator/accounts`) also uses.
    pub fn connect_account(&mut self, existing: Option<&str>, email: Option<&str>) -> String {
        let id = existing
            .filter(|a| a.starts_with("acct_") && *a != self.platform)
            .map(str::to_string)
            .unwrap_or_else(|| new_id("acct"));
        let acct = self.account_mut(&id);
        acct.connected = true;
        acct.deauthorized = false;
        if let Some(e) = email.filter(|e| !e.is_empty()) {
            acct.email = Some(e.to_string());
        }
        id
    }

    /// `POST /oauth/token`.
    pub fn oauth_token(
        &mut self,
        grant_type: Option<&str>,
        code: Option<&str>,
        refresh: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let (account, scope) = match grant_type {
            Some("authorization_code") => {
                let code = code
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| OAuthError::new(400, "invalid_request", "No authorization code provided"))?;
                let Some(entry) = self.oauth_codes.get_mut(code) else {
                    return Err(OAuthError::new(
                        400,
                        "invalid_grant",
                        format!("Authorization code does not exist: {code}"),
                    ));
                };
                if entry.used {
                    return Err(OAuthError::new(
                        400,
                        "invalid_grant",
                        format!("Authorization code has already been used: {code}"),
                    ));
                }
                entry.used = true;
                (entry.account.clone(), entry.scope.clone())
            }
            Some("refresh_token") => {
                let token = refresh
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| OAuthError::new(400, "invalid_request", "No refresh_token provided"))?;
                let account =
                    self.refresh_tokens.get(token).cloned().ok_or_else(|| {
                        OAuthError::new(400, "invalid_grant", format!("Invalid refresh token: {token}"))
                    })?;
                (account, "read_write".to_string())
            }
            Some(other) => {
                return Err(OAuthError::new(400, "unsupported_grant_type", format!("Unsupported grant type: {other}")));
            }
            None => {
                return Err(OAuthError::new(400, "invalid_request", "No grant type specified"));
            }
        };
        if self.accounts.get(&account).is_none_or(|a| a.deauthorized) {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                format!("The account {account} is no longer connected to this application."),
            ));
        }
        let access = format!("sk_test_{}", random_chars(40));
        let refresh_token = format!("rt_{}", random_chars(40));
        self.access_tokens.insert(access.clone(), account.clone());
        self.refresh_tokens.insert(refresh_token.clone(), account.clone());
        Ok(json!({
            "access_token": access, "livemode": false, "refresh_token": refresh_token, "token_type": "bearer",
            "stripe_publishable_key": format!("pk_test_{}", random_chars(40)), "stripe_user_id": account, "scope": scope,
        }))
    }

    /// `POST /oauth/deauthorize`: disconnects the account, revokes its tokens, emits
    /// `account.application.deauthorized`.
    pub fn oauth_deauthorize(&mut self, client_id: Option<&str>, account: Option<&str>) -> Result<Value, OAuthError> {
        let client_id = self.check_client_id(client_id)?;
        let account = account
            .filter(|a| !a.is_empty())
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "No stripe_user_id provided"))?;
        let connected = self.accounts.get(account).is_some_and(|a| a.connected && !a.deauthorized);
        if !connected {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                format!(
                    "This application is not connected to stripe account {account}, or that account does not exist."
                ),
            ));
        }
        if let Some(a) = self.accounts.get_mut(account) {
            a.deauthorized = true;
        }
        let app = json!({"id": client_id, "name": self.oauth.name(), "object": "application"});
        self.emit(account, "account.application.deauthorized", &app, None);
        Ok(json!({ "stripe_user_id": account }))
    }

    /// The connected account an OAuth access token acts for (revoked ones included: the caller answers 401).
    pub fn account_for_token(&self, key: &str) -> Option<String> {
        self.access_tokens.get(key).cloned()
    }

    /// Rejects `Stripe-Account` naming an account the platform cannot act on: one that never connected,
    /// does not exist, or whose authorization was revoked (Stripe answers all three alike).
    pub fn check_account_access(&self, key: &str, account: &str) -> ApiResult<()> {
        let reachable =
            account == self.platform || self.accounts.get(account).is_some_and(|a| a.connected && !a.deauthorized);
        if reachable { Ok(()) } else { Err(no_access(key, account)) }
    }
}

/// Stripe's 403 for a `Stripe-Account` the key cannot act on; the key shows its prefix and last four characters.
fn no_access(key: &str, account: &str) -> ApiError {
    let chars: Vec<char> = key.chars().collect();
    let prefix_len = chars.iter().enumerate().filter(|(_, c)| **c == '_').nth(1).map_or(0, |(i, _)| i + 1);
    let tail_start = chars.len().saturating_sub(4).max(prefix_len);
    let masked: String = chars[..prefix_len]
        .iter()
        .chain(std::iter::repeat_n(&'*', tail_start - prefix_len))
        .chain(&chars[tail_start..])
        .collect();
    ApiError {
        status: 403,
        ..ApiError::invalid(
            "account_invalid",
            format!(
                "The provided key '{masked}' does not have access to account '{account}' (or that account does not exist). Application access may have been revoked."
            ),
            None,
        )
    }
}
