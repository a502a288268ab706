//! Subscription billing on the emulated clock: creation from checkout, invoices and their collection,
//! trial ends, renewals, cancellations at period end or `cancel_at`, failed payments and retries.

use crate::clock::add_interval;
use crate::ids::new_id;
use crate::objects::{self, template};
use crate::store::{AfterRetries, Kind, Store};
use serde_json::{Value, json};

/// Delays between payment retries of a failed invoice (Stripe-like smart retries: 4 attempts in 15 days).
pub const RETRY_DELAYS: [i64; 3] = [3 * 86_400, 5 * 86_400, 7 * 86_400];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    // Order matters on ties: a cancellation due at the period end wins over the renewal.
    ExpireSession,
    Cancel,
    TrialEnd,
    Renew,
    Finalize(String),
    Retry(String),
    TrialWillEnd,
    Upcoming(i64),
    Settle,
    FailRefund,
}

/// How long after it is made a refund to [`crate::checkout::REFUND_FAILS_CARD`] fails.
pub const REFUND_FAILS_AFTER: i64 = 30;

/// How long before a trial ends Stripe sends `customer.subscription.trial_will_end`.
const TRIAL_WILL_END_BEFORE: i64 = 3 * 86_400;

/// How long before a renewal Stripe sends `invoice.upcoming` (the Dashboard's "Upcoming renewal events").
const UPCOMING_BEFORE: i64 = 3 * 86_400;

/// How long a renewal invoice stays `draft` before Stripe finalizes and collects it.
pub const DRAFT_FOR: i64 = 3600;

/// One subscription line: a recurring price object and a quantity.
#[derive(Debug, Clone)]
pub struct Line {
    /// The full price object.
    pub price: Value,
    /// Quantity.
    pub quantity: i64,
}

fn period_end(sub: &Value) -> Option<i64> {
    sub["items"]["data"][0]["current_period_end"].as_i64()
}

fn set_period(sub: &mut Value, start: i64, end: i64) {
    if let Some(items) = sub["items"]["data"].as_array_mut() {
        for it in items {
            it["current_period_start"] = json!(start);
            it["current_period_end"] = json!(end);
        }
    }
}

fn interval_of(sub: &Value) -> (String, i64) {
    let r = &sub["items"]["data"][0]["price"]["recurring"];
    (r["interval"].as_str().unwrap_or("month").to_string(), r["interval_count"].as_i64().unwrap_or(1))
}

impl Store {
    /// Creates an active (or trialing) subscription for `customer`, its first invoice, and collects it with
    /// `payment_method`. Emits customer.subscription.created and the invoice events. Returns (sub, invoice).
    pub fn start_subscription(
        &mut self,
        account: &str,
        customer: &str,
        lines: &[Line],
        trial_days: Option<i64>,
        metadata: Value,
        payment_method: Option<&str>,
    ) -> (String, String) {
        let now = self.now();
        let sub_id = new_id("sub");
        let invoice_id = new_id("in");
        let first = lines.first().map(|l| l.price.clone()).unwrap_or(Value::Null);
        let interval = first["recurring"]["interval"].as_str().unwrap_or("month").to_string();
        let count = first["recurring"]["interval_count"].as_i64().unwrap_or(1);
        let trial_end = trial_days.filter(|d| *d > 0).map(|d| now + d * 86_400);
        let end = trial_end.unwrap_or_else(|| add_interval(now, &interval, count));
        let mut sub = template("subscription");
        let items: Vec<Value> = lines
            .iter()
            .map(|l| {
                let mut si = template("subscription_item");
                si["id"] = json!(new_id("si"));
                si["created"] = json!(now);
                si["price"] = l.price.clone();
                si["plan"] = objects::plan_from_price(&l.price);
                si["quantity"] = json!(l.quantity);
                si["subscription"] = json!(sub_id);
                si["current_period_start"] = json!(now);
                si["current_period_end"] = json!(end);
                si
            })
            .collect();
        objects::merge(
            &mut sub,
            json!({
                "id": sub_id, "customer": customer, "created": now, "start_date": now,
                "billing_cycle_anchor": end, "currency": first["currency"], "metadata": metadata,
                "status": if trial_end.is_some() { "trialing" } else { "active" },
                "trial_start": trial_end.map(|_| now), "trial_end": trial_end,
                "default_payment_method": payment_method, "latest_invoice": invoice_id,
                "items": objects::list(&format!("/v1/subscription_items?subscription={sub_id}"), items, false),
            }),
        );
        let acct = self.account_mut(account);
        acct.put(Kind::Subscription, sub.clone());
        self.emit(account, "customer.subscription.created", &sub, None);
        let reason = "subscription_create";
        self.invoice_for(account, &sub_id, &invoice_id, reason, now, end, trial_end.is_some());
        self.collect_invoice(account, &invoice_id);
        (sub_id, invoice_id)
    }

    /// Builds and stores an invoice for a subscription's period (emits invoice.created), and finalizes it
    /// (invoice.finalized) unless it is a renewal, which stays `draft` for [`DRAFT_FOR`] first. `trial` makes
    /// every line free.
    #[allow(clippy::too_many_arguments)]
    fn invoice_for(
        &mut self,
        account: &str,
        sub_id: &str,
        invoice_id: &str,
        reason: &str,
        start: i64,
        end: i64,
        trial: bool,
    ) {
        let now = self.now();
        let Some(sub) = self.accounts.get(account).and_then(|a| a.col(Kind::Subscription).get(sub_id)).cloned() else {
            return;
        };
        let Some(mut inv) = self.build_invoice(account, &sub, invoice_id, reason, start, end, trial) else {
            return;
        };
        let renewal = reason == "subscription_cycle";
        if renewal {
            inv["automatically_finalizes_at"] = json!(now + DRAFT_FOR);
        }
        self.account_mut(account).put(Kind::Invoice, inv.clone());
        self.emit(account, "invoice.created", &inv, None);
        if !renewal {
            self.finalize(account, invoice_id);
        }
    }

    /// A draft invoice (not stored) for `sub`'s period from `start` to `end`.
    #[allow(clippy::too_many_arguments)]
    fn build_invoice(
        &self,
        account: &str,
        sub: &Value,
        invoice_id: &str,
        reason: &str,
        start: i64,
        end: i64,
        trial: bool,
    ) -> Option<Value> {
        let now = self.now();
        let acct = self.accounts.get(account)?;
        let sub_id = sub["id"].as_str().unwrap_or_default();
        let customer_id = sub["customer"].as_str().unwrap_or_default().to_string();
        let customer = acct.col(Kind::Customer).get(&customer_id).cloned().unwrap_or(Value::Null);
        let currency = sub["currency"].as_str().unwrap_or("usd").to_string();
        let mut total = 0;
        let mut lines = Vec::new();
        for it in sub["items"]["data"].as_array().cloned().unwrap_or_default() {
            let price = &it["price"];
            let qty = it["quantity"].as_i64().unwrap_or(1);
            let unit = price["unit_amount"].as_i64().unwrap_or(0);
            let amount = if trial { 0 } else { unit * qty };
            total += amount;
            let product_name = acct
                .col(Kind::Product)
                .get(price["product"].as_str().unwrap_or_default())
                .and_then(|p| p["name"].as_str().map(str::to_string))
                .unwrap_or_default();
            let mut li = template("line_item");
            objects::merge(
                &mut li,
                json!({
                    "id": new_id("il"), "invoice": invoice_id, "amount": amount, "subtotal": amount,
                    "currency": currency, "quantity": qty, "subscription": sub_id, "metadata": sub["metadata"],
                    "description": if trial { format!("Trial period for {product_name}") } else {
                        format!("{qty} × {product_name} (at {} / {})", objects::format_amount(unit, &currency),
                            price["recurring"]["interval"].as_str().unwrap_or("month")) },
                    "period": {"start": start, "end": end},
                }),
            );
            li["parent"]["subscription_item_details"]["subscription"] = json!(sub_id);
            li["parent"]["subscription_item_details"]["subscription_item"] = it["id"].clone();
            li["pricing"]["price_details"] = json!({"price": price["id"], "product": price["product"]});
            li["pricing"]["unit_amount_decimal"] = price["unit_amount_decimal"].clone();
            lines.push(li);
        }
        let mut inv = template("invoice");
        objects::merge(
            &mut inv,
            json!({
                "id": invoice_id, "customer": customer_id, "customer_email": customer["email"],
                "customer_name": customer["name"], "created": now, "currency": currency,
                "amount_due": total, "amount_paid": 0, "amount_remaining": total, "subtotal": total,
                "subtotal_excluding_tax": total, "total": total, "total_excluding_tax": total,
                "billing_reason": reason, "period_start": if reason == "subscription_create" { now } else { start },
                "period_end": if reason == "subscription_create" { now } else { start },
                "status": "draft", "attempt_count": 0, "attempted": false,
                "default_payment_method": null,
                "lines": objects::list(&format!("/v1/invoices/{invoice_id}/lines"), lines, false),
            }),
        );
        inv["parent"]["subscription_details"] = json!({"metadata": sub["metadata"], "subscription": sub_id});
        Some(inv)
    }

    /// Finalizes a draft invoice: a number, `open`, invoice.finalized.
    fn finalize(&mut self, account: &str, invoice_id: &str) {
        let now = self.now();
        let base = self.base_url.clone();
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        let customer_id = acct.col(Kind::Invoice).get(invoice_id).map(|i| i["customer"].clone()).unwrap_or_default();
        // Numbers are given at finalization, in the customer's sequence.
        let number = match acct.col_mut(Kind::Customer).get_mut(customer_id.as_str().unwrap_or_default()) {
            Some(customer) => {
                let seq = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
                customer["next_invoice_sequence"] = json!(seq + 1);
                format!("{}-{seq:04}", customer["invoice_prefix"].as_str().unwrap_or("INV"))
            }
            None => format!("INV-{}", crate::ids::random_chars(8)),
        };
        let Some(inv) = acct.col_mut(Kind::Invoice).get_mut(invoice_id) else {
            return;
        };
        inv["status"] = json!("open");
        inv["automatically_finalizes_at"] = Value::Null;
        inv["number"] = json!(number);
        inv["effective_at"] = json!(now);
        inv["status_transitions"]["finalized_at"] = json!(now);
        inv["hosted_invoice_url"] = json!(format!("{base}/invoices/{invoice_id}"));
        let inv = inv.clone();
        self.emit(account, "invoice.finalized", &inv, None);
    }

    /// Tries to pay an open invoice: free invoices are paid at once; customers marked to fail get a declined
    /// charge, invoice.payment_failed and a retry date. Returns whether it is paid.
    pub fn collect_invoice(&mut self, account: &str, invoice_id: &str) -> bool {
        let now = self.now();
        let Some(acct) = self.accounts.get(account) else {
            return false;
        };
        let Some(inv) = acct.col(Kind::Invoice).get(invoice_id).cloned() else {
            return false;
        };
        let amount = inv["amount_due"].as_i64().unwrap_or(0);
        let currency = inv["currency"].as_str().unwrap_or("usd").to_string();
        let customer = inv["customer"].as_str().unwrap_or_default().to_string();
        let sub = acct.col(Kind::Subscription).get(subscription_of(&inv)).cloned();
        let pm_id = sub.as_ref().and_then(|s| s["default_payment_method"].as_str().map(str::to_string));
        let failing = acct.failing_customers.contains(&customer);
        let email = inv["customer_email"].as_str().map(str::to_string);
        let attempts = inv["attempt_count"].as_i64().unwrap_or(0) + 1;
        if amount > 0 && failing {
            let (pi, ch) = objects::failed_payment(amount, &currency, Some(&customer), pm_id.as_deref(), now);
            let acct = self.account_mut(account);
            acct.put(Kind::PaymentIntent, pi.clone());
            acct.put(Kind::Charge, ch.clone());
            self.emit(account, "payment_intent.payment_failed", &pi, None);
            self.emit(account, "charge.failed", &ch, None);
            let next = RETRY_DELAYS.get(attempts as usize - 1).map(|d| now + d);
            let acct = self.account_mut(account);
            let Ok(inv) = acct.get_mut(Kind::Invoice, invoice_id, "id") else {
                return false;
            };
            inv["attempt_count"] = json!(attempts);
            inv["attempted"] = json!(true);
            inv["next_payment_attempt"] = json!(next);
            let inv = inv.clone();
            self.emit(account, "invoice.payment_failed", &inv, None);
            return false;
        }
        if amount > 0 {
            let pm = pm_id
                .as_deref()
                .and_then(|id| acct.col(Kind::PaymentMethod).get(id).cloned())
                .unwrap_or_else(|| objects::payment_method("4242", email.as_deref(), Some(&customer), now));
            let description = if inv["billing_reason"] == "subscription_create" {
                "Subscription creation"
            } else {
                "Subscription update"
            };
            let (pi, ch) =
                objects::payment(amount, &currency, Some(&customer), &pm, email.as_deref(), Some(description), now);
            let acct = self.account_mut(account);
            acct.put(Kind::PaymentIntent, pi.clone());
            acct.put(Kind::Charge, ch.clone());
            self.emit(account, "payment_intent.succeeded", &pi, None);
            self.emit(account, "charge.succeeded", &ch, None);
        }
        let acct = self.account_mut(account);
        let Ok(inv) = acct.get_mut(Kind::Invoice, invoice_id, "id") else {
            return false;
        };
        inv["status"] = json!("paid");
        inv["amount_paid"] = json!(amount);
        inv["amount_remaining"] = json!(0);
        inv["attempt_count"] = json!(if amount > 0 { attempts } else { 0 });
        inv["attempted"] = json!(true);
        inv["next_payment_attempt"] = Value::Null;
        inv["status_transitions"]["paid_at"] = json!(now);
        inv["webhooks_delivered_at"] = json!(now);
        let inv = inv.clone();
        self.emit(account, "invoice.paid", &inv, None);
        self.emit(account, "invoice.payment_succeeded", &inv, None);
        true
    }

    /// Cancels a subscription now: status canceled, ended_at, customer.subscription.deleted.
    pub fn end_subscription(&mut self, account: &str, sub_id: &str, reason: &str) -> Option<Value> {
        let now = self.now();
        let acct = self.accounts.get_mut(account)?;
        let sub = acct.col_mut(Kind::Subscription).get_mut(sub_id)?;
        sub["status"] = json!("canceled");
        sub["ended_at"] = json!(now);
        if sub["canceled_at"].is_null() {
            sub["canceled_at"] = json!(now);
        }
        if sub["cancellation_details"]["reason"].is_null() {
            sub["cancellation_details"]["reason"] = json!(reason);
        }
        let sub = sub.clone();
        self.emit(account, "customer.subscription.deleted", &sub, None);
        Some(sub)
    }

    /// Runs everything due up to `until` on the emulated clock, oldest first, each at its own moment.
    /// Returns how many actions ran.
    pub fn run_billing(&mut self, until: i64) -> usize {
        let mut done = 0;
        while done < 100_000 {
            let Some((at, account, id, action)) = self.next_due(until) else {
                break;
            };
            self.clock.pin(Some(at));
            self.run_action(&account, &id, action);
            self.clock.pin(None);
            done += 1;
        }
        done
    }

    fn next_due(&self, until: i64) -> Option<(i64, String, String, Action)> {
        let mut best: Option<(i64, Action, String, String)> = None;
        let mut consider = |at: i64, action: Action, account: &str, id: &str| {
            if at > until {
                return;
            }
            let better = match &best {
                None => true,
                Some((t, a, _, _)) => (at, &action) < (*t, a),
            };
            if better {
                best = Some((at, action, account.to_string(), id.to_string()));
            }
        };
        for acct in self.accounts.values() {
            for cs in acct.col(Kind::CheckoutSession).oldest_first() {
                if cs["status"] == "open"
                    && let Some(t) = cs["expires_at"].as_i64()
                {
                    consider(t, Action::ExpireSession, &acct.id, cs["id"].as_str().unwrap_or_default());
                }
            }
            for sub in acct.col(Kind::Subscription).oldest_first() {
                let id = sub["id"].as_str().unwrap_or_default();
                let status = sub["status"].as_str().unwrap_or_default();
                if matches!(status, "canceled" | "incomplete_expired" | "incomplete") {
                    continue;
                }
                if let Some(t) = sub["cancel_at"].as_i64() {
                    consider(t, Action::Cancel, &acct.id, id);
                }
                let renews_at = match status {
                    "trialing" => sub["trial_end"].as_i64(),
                    "active" | "past_due" => period_end(sub),
                    _ => None,
                };
                if let Some(t) = renews_at {
                    consider(t, if status == "trialing" { Action::TrialEnd } else { Action::Renew }, &acct.id, id);
                    let ending =
                        sub["cancel_at_period_end"] == true || sub["cancel_at"].as_i64().is_some_and(|c| c <= t);
                    if !ending && sub["_upcoming_for"].as_i64() != Some(t) {
                        let from = sub["items"]["data"][0]["current_period_start"].as_i64().unwrap_or(t);
                        if t - UPCOMING_BEFORE > from {
                            consider(t - UPCOMING_BEFORE, Action::Upcoming(t), &acct.id, id);
                        }
                    }
                }
                if status == "trialing"
                    && sub["_trial_will_end_sent"] != true
                    && let Some(t) = sub["trial_end"].as_i64()
                {
                    let created = sub["created"].as_i64().unwrap_or(t);
                    consider((t - TRIAL_WILL_END_BEFORE).max(created), Action::TrialWillEnd, &acct.id, id);
                }
                if status == "past_due"
                    && let Some(inv_id) = sub["latest_invoice"].as_str()
                    && let Some(inv) = acct.col(Kind::Invoice).get(inv_id)
                    && inv["status"] == "open"
                    && let Some(t) = inv["next_payment_attempt"].as_i64()
                {
                    consider(t, Action::Retry(inv_id.to_string()), &acct.id, id);
                }
            }
            for pi in acct.col(Kind::PaymentIntent).oldest_first() {
                if pi["status"] == "processing"
                    && let Some(t) = pi["_settles_at"].as_i64()
                {
                    consider(t, Action::Settle, &acct.id, pi["id"].as_str().unwrap_or_default());
                }
            }
            for re in acct.col(Kind::Refund).oldest_first() {
                if re["status"] == "succeeded"
                    && let Some(t) = re["_fails_at"].as_i64()
                {
                    consider(t, Action::FailRefund, &acct.id, re["id"].as_str().unwrap_or_default());
                }
            }
            for inv in acct.col(Kind::Invoice).oldest_first() {
                if inv["status"] == "draft"
                    && let Some(t) = inv["automatically_finalizes_at"].as_i64()
                {
                    let invoice_id = inv["id"].as_str().unwrap_or_default().to_string();
                    consider(t, Action::Finalize(invoice_id), &acct.id, subscription_of(inv));
                }
            }
        }
        best.map(|(t, a, acct, id)| (t, acct, id, a))
    }

    fn run_action(&mut self, account: &str, id: &str, action: Action) {
        match action {
            Action::ExpireSession => {
                let Some(acct) = self.accounts.get_mut(account) else {
                    return;
                };
                let Some(cs) = acct.col_mut(Kind::CheckoutSession).get_mut(id) else {
                    return;
                };
                cs["status"] = json!("expired");
                cs["url"] = Value::Null;
                let cs = cs.clone();
                self.emit(account, "checkout.session.expired", &cs, None);
            }
            Action::Cancel => {
                self.end_subscription(account, id, "cancellation_requested");
            }
            Action::TrialEnd | Action::Renew => self.renew(account, id, action == Action::TrialEnd),
            Action::Finalize(invoice_id) => self.finalize_renewal(account, id, &invoice_id),
            Action::TrialWillEnd => self.trial_will_end(account, id),
            Action::Upcoming(renews_at) => self.upcoming(account, id, renews_at),
            Action::Settle => self.settle_debit(account, id),
            Action::FailRefund => self.fail_refund(account, id),
            Action::Retry(invoice_id) => {
                let paid = self.collect_invoice(account, &invoice_id);
                let Some(acct) = self.accounts.get(account) else {
                    return;
                };
                let Some(sub) = acct.col(Kind::Subscription).get(id).cloned() else {
                    return;
                };
                let exhausted = acct
                    .col(Kind::Invoice)
                    .get(&invoice_id)
                    .is_some_and(|i| i["status"] == "open" && i["next_payment_attempt"].is_null());
                if paid {
                    self.set_status(account, &sub, "active");
                } else if exhausted {
                    match self.after_retries {
                        AfterRetries::Cancel => {
                            self.end_subscription(account, id, "payment_failed");
                        }
                        AfterRetries::Unpaid => self.set_status(account, &sub, "unpaid"),
                    }
                }
            }
        }
    }

    fn set_status(&mut self, account: &str, sub: &Value, status: &str) {
        if sub["status"] == status {
            return;
        }
        let id = sub["id"].as_str().unwrap_or_default().to_string();
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        let Some(s) = acct.col_mut(Kind::Subscription).get_mut(&id) else {
            return;
        };
        s["status"] = json!(status);
        let s = s.clone();
        self.emit(account, "customer.subscription.updated", &s, Some(json!({"status": sub["status"]})));
    }

    /// Trial end or period end: new period, invoice, collection; past_due when the payment fails.
    fn renew(&mut self, account: &str, id: &str, trial_end: bool) {
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        let Some(sub) = acct.col_mut(Kind::Subscription).get_mut(id) else {
            return;
        };
        let before = sub.clone();
        let start = if trial_end { sub["trial_end"].as_i64() } else { period_end(sub) }.unwrap_or(0);
        let (interval, count) = interval_of(sub);
        let end = add_interval(start, &interval, count);
        let invoice_id = new_id("in");
        set_period(sub, start, end);
        sub["latest_invoice"] = json!(invoice_id);
        let mut previous = json!({
            "items": before["items"], "latest_invoice": before["latest_invoice"],
        });
        if trial_end {
            sub["status"] = json!("active");
            previous["status"] = before["status"].clone();
        }
        let updated = sub.clone();
        self.emit(account, "customer.subscription.updated", &updated, Some(previous));
        self.invoice_for(account, id, &invoice_id, "subscription_cycle", start, end, false);
    }

    /// A renewal's draft invoice is due: finalize, collect; past_due when the payment fails.
    fn finalize_renewal(&mut self, account: &str, sub_id: &str, invoice_id: &str) {
        let canceled = self
            .accounts
            .get(account)
            .and_then(|a| a.col(Kind::Subscription).get(sub_id))
            .is_none_or(|s| s["status"] == "canceled");
        if canceled {
            // Canceling a subscription stops the automatic collection of its invoices: the draft stays a draft.
            if let Some(inv) = self.accounts.get_mut(account).and_then(|a| a.col_mut(Kind::Invoice).get_mut(invoice_id))
            {
                inv["auto_advance"] = json!(false);
                inv["automatically_finalizes_at"] = Value::Null;
            }
            return;
        }
        self.finalize(account, invoice_id);
        let paid = self.collect_invoice(account, invoice_id);
        let Some(sub) = self.accounts.get(account).and_then(|a| a.col(Kind::Subscription).get(sub_id)).cloned() else {
            return;
        };
        match (paid, sub["status"].as_str()) {
            (true, Some("past_due")) => self.set_status(account, &sub, "active"),
            (false, Some("active" | "past_due")) => self.set_status(account, &sub, "past_due"),
            _ => {}
        }
    }

    /// A delayed debit settles: the intent and charge succeed or fail, and the checkout session that started it
    /// gets `checkout.session.async_payment_succeeded` (now `paid`) or `…_failed`.
    fn settle_debit(&mut self, account: &str, pi_id: &str) {
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        let Some(pi) = acct.col_mut(Kind::PaymentIntent).get_mut(pi_id) else {
            return;
        };
        let ok = pi["_settles_ok"] == true;
        pi["status"] = json!(if ok { "succeeded" } else { "requires_payment_method" });
        if ok {
            pi["amount_received"] = pi["amount"].clone();
        } else {
            pi["last_payment_error"] = json!({"type": "invalid_request_error", "code": "payment_method_provider_decline",
                "message": "The customer's bank account could not be debited."});
        }
        let pi = pi.clone();
        let ch_id = pi["latest_charge"].as_str().unwrap_or_default().to_string();
        let Some(ch) = acct.col_mut(Kind::Charge).get_mut(&ch_id) else {
            return;
        };
        ch["status"] = json!(if ok { "succeeded" } else { "failed" });
        ch["paid"] = json!(ok);
        if !ok {
            ch["failure_code"] = json!("generic_decline");
            ch["failure_message"] = json!("The customer's bank account could not be debited.");
        }
        let ch = ch.clone();
        let cs_id = pi["_checkout_session"].as_str().unwrap_or_default().to_string();
        let session = acct.col_mut(Kind::CheckoutSession).get_mut(&cs_id).map(|cs| {
            if ok {
                cs["payment_status"] = json!("paid");
            }
            cs.clone()
        });
        let (charge_event, intent_event, session_event) = if ok {
            ("charge.succeeded", "payment_intent.succeeded", "checkout.session.async_payment_succeeded")
        } else {
            ("charge.failed", "payment_intent.payment_failed", "checkout.session.async_payment_failed")
        };
        self.emit(account, charge_event, &ch, None);
        self.emit(account, intent_event, &pi, None);
        if let Some(cs) = session {
            self.emit(account, session_event, &cs, None);
        }
    }

    /// A refund the card could not take fails: the charge gets the amount back as not refunded, and
    /// `charge.refund.updated`, `refund.updated` and `refund.failed` carry the refund.
    fn fail_refund(&mut self, account: &str, re_id: &str) {
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        let Some(re) = acct.col_mut(Kind::Refund).get_mut(re_id) else {
            return;
        };
        re["status"] = json!("failed");
        re["failure_reason"] = json!("expired_or_canceled_card");
        let re = re.clone();
        let amount = re["amount"].as_i64().unwrap_or(0);
        if let Some(ch) = acct.col_mut(Kind::Charge).get_mut(re["charge"].as_str().unwrap_or_default()) {
            let refunded = (ch["amount_refunded"].as_i64().unwrap_or(0) - amount).max(0);
            ch["amount_refunded"] = json!(refunded);
            ch["refunded"] = json!(false);
            if let Some(list) = ch["refunds"]["data"].as_array_mut() {
                for r in list.iter_mut().filter(|r| r["id"] == re_id) {
                    *r = re.clone();
                }
            }
        }
        let previous = json!({"status": "succeeded", "failure_reason": null});
        self.emit(account, "charge.refund.updated", &re, Some(previous.clone()));
        self.emit(account, "refund.updated", &re, Some(previous));
        self.emit(account, "refund.failed", &re, None);
    }

    /// Three days before a trial ends (at once for a shorter trial): customer.subscription.trial_will_end.
    fn trial_will_end(&mut self, account: &str, sub_id: &str) {
        let Some(sub) = self.accounts.get_mut(account).and_then(|a| a.col_mut(Kind::Subscription).get_mut(sub_id))
        else {
            return;
        };
        sub["_trial_will_end_sent"] = json!(true);
        let sub = sub.clone();
        self.emit(account, "customer.subscription.trial_will_end", &sub, None);
    }

    /// A few days before a renewal due at `renews_at`: invoice.upcoming with a preview of the next invoice (no
    /// stored invoice; its id is a preview's `upcoming_in_…`).
    fn upcoming(&mut self, account: &str, sub_id: &str, renews_at: i64) {
        let Some(sub) = self.accounts.get_mut(account).and_then(|a| a.col_mut(Kind::Subscription).get_mut(sub_id))
        else {
            return;
        };
        sub["_upcoming_for"] = json!(renews_at);
        let sub = sub.clone();
        let (interval, count) = interval_of(&sub);
        let preview = self.build_invoice(
            account,
            &sub,
            &new_id("upcoming_in"),
            "subscription_cycle",
            renews_at,
            add_interval(renews_at, &interval, count),
            false,
        );
        if let Some(preview) = preview {
            self.emit(account, "invoice.upcoming", &preview, None);
        }
    }
}

/// The subscription an invoice bills (`parent.subscription_details.subscription`), or "".
pub fn subscription_of(invoice: &Value) -> &str {
    invoice["parent"]["subscription_details"]["subscription"].as_str().unwrap_or_default()
}
