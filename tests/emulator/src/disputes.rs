//! Disputes (chargebacks): opened and resolved through the control API, accepted (closed) through the API.

use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::ids::new_id;
use crate::objects::{self, template};
use crate::store::{Kind, Store};
use serde_json::{Value, json};

impl Store {
    /// Opens a dispute on a succeeded charge: `needs_response`, charge.dispute.created and
    /// charge.dispute.funds_withdrawn.
    pub fn open_dispute(&mut self, account: &str, charge_id: &str, reason: Option<&str>) -> ApiResult<Value> {
        let now = self.now();
        let acct = self.account_mut(account);
        let ch = acct.get_mut(Kind::Charge, charge_id, "id")?;
        if ch["status"] != "succeeded" {
            return Err(ApiError::bad(
                format!("Charge {charge_id} did not succeed and cannot be disputed."),
                Some("charge"),
            ));
        }
        if ch["disputed"] == true {
            return Err(ApiError::bad(format!("Charge {charge_id} is already disputed."), Some("charge")));
        }
        ch["disputed"] = json!(true);
        let ch = ch.clone();
        let mut dp = template("dispute");
        objects::merge(
            &mut dp,
            json!({
                "id": new_id("dp"), "amount": ch["amount"], "charge": charge_id, "currency": ch["currency"],
                "created": now, "payment_intent": ch["payment_intent"], "status": "needs_response",
                "reason": reason.unwrap_or("fraudulent"), "is_charge_refundable": false,
            }),
        );
        dp["evidence_details"]["due_by"] = json!(now + 7 * 86_400);
        acct.put(Kind::Dispute, dp.clone());
        self.emit(account, "charge.dispute.created", &dp, None);
        self.emit(account, "charge.dispute.funds_withdrawn", &dp, None);
        Ok(public(&dp))
    }

    /// Resolves a dispute as `won` or `lost` (charge.dispute.funds_reinstated when won, then
    /// charge.dispute.closed).
    pub fn resolve_dispute(&mut self, account: &str, id: &str, outcome: &str) -> ApiResult<Value> {
        if !matches!(outcome, "won" | "lost") {
            return Err(ApiError::bad("outcome must be won or lost.", Some("outcome")));
        }
        let acct = self.account_mut(account);
        let dp = acct.get_mut(Kind::Dispute, id, "id")?;
        if matches!(dp["status"].as_str(), Some("won" | "lost")) {
            return Err(ApiError::bad(format!("Dispute {id} is already closed."), None));
        }
        let previous = json!({"status": dp["status"]});
        dp["status"] = json!(outcome);
        let dp = dp.clone();
        if outcome == "won" {
            self.emit(account, "charge.dispute.funds_reinstated", &dp, None);
        }
        self.emit(account, "charge.dispute.closed", &dp, Some(previous));
        Ok(public(&dp))
    }
}
