//! The emulator's clock: trial ends, renewals, cancellations, failed payments and retries, refunds.

mod common;
use common::{Emulator, enc};
use serde_json::Value;

const DAY: i64 = 86_400;

fn subscribe(emu: &Emulator, trial_days: Option<i64>) -> (String, String) {
    let price = emu.price("Pro", 900, Some("month"));
    let trial = trial_days.map(|d| format!("&subscription_data[trial_period_days]={d}")).unwrap_or_default();
    let cs = emu.session(&format!(
        "mode=subscription&line_items[0][price]={price}&success_url={}{trial}",
        enc("http://site.test/ok")
    ));
    assert_eq!(emu.pay(&cs, "4242424242424242", "m@x.test").status, 303);
    let s = emu.get(&format!("/v1/checkout/sessions/{}", cs["id"].as_str().unwrap())).ok();
    (s["customer"].as_str().unwrap().to_string(), s["subscription"].as_str().unwrap().to_string())
}

fn sub(emu: &Emulator, id: &str) -> Value {
    emu.get(&format!("/v1/subscriptions/{id}")).ok()
}

fn period_end(s: &Value) -> i64 {
    s["items"]["data"][0]["current_period_end"].as_i64().unwrap()
}

#[test]
fn clock_reads_and_only_moves_forward() {
    let emu = Emulator::start(&[]);
    let now = common::request("GET", &format!("{}/_emulator/clock", emu.url), &[], "").ok()["now"].as_i64().unwrap();
    let after = emu.advance(3600)["now"].as_i64().unwrap();
    assert!((after - now - 3600).abs() <= 2);
    assert_eq!(emu.control("/_emulator/clock/advance", r#"{"seconds": -5}"#).status, 400);
    assert_eq!(emu.control("/_emulator/clock/advance", "not json").status, 400);
    let p = emu.post("/v1/products", "name=x").ok();
    assert!((p["created"].as_i64().unwrap() - after).abs() <= 2, "objects use the emulated clock");
}

#[test]
fn trial_end_activates_and_charges() {
    let emu = Emulator::start(&[]);
    let (_, sid) = subscribe(&emu, Some(7));
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "trialing");
    let trial_end = s["trial_end"].as_i64().unwrap();
    let before = emu.event_types().len();
    // Three days before the trial ends: trial_will_end, and the upcoming invoice (a preview, never stored).
    emu.advance(4 * DAY + 60);
    assert_eq!(emu.event_types()[before..], ["customer.subscription.trial_will_end", "invoice.upcoming"]);
    let upcoming = emu.get("/v1/events?type=invoice.upcoming").ok()["data"][0]["data"]["object"].clone();
    assert!(upcoming["id"].as_str().unwrap().starts_with("upcoming_in_"), "{upcoming}");
    assert_eq!(upcoming["amount_due"], 900);
    assert_eq!(emu.get(&format!("/v1/invoices/{}", upcoming["id"].as_str().unwrap())).status, 404);
    let before = emu.event_types().len();
    // At the trial's end the renewal invoice is a draft for an hour, then finalized and paid.
    emu.advance(3 * DAY);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "active");
    assert_eq!(s["items"]["data"][0]["current_period_start"], trial_end);
    assert!(period_end(&s) >= trial_end + 28 * DAY);
    let draft = emu.get(&format!("/v1/invoices/{}", s["latest_invoice"].as_str().unwrap())).ok();
    assert_eq!(
        (draft["status"].as_str(), draft["automatically_finalizes_at"].as_i64()),
        (Some("draft"), Some(trial_end + 3600))
    );
    assert_eq!(draft["number"], Value::Null);
    emu.advance(3600);
    let types = emu.event_types()[before..].to_vec();
    assert_eq!(
        types,
        [
            "customer.subscription.updated",
            "invoice.created",
            "invoice.finalized",
            "payment_intent.succeeded",
            "charge.succeeded",
            "invoice.paid",
            "invoice.payment_succeeded",
        ]
    );
    let updated = emu.get("/v1/events?type=customer.subscription.updated&limit=1").ok();
    assert_eq!(updated["data"][0]["data"]["previous_attributes"]["status"], "trialing");
    assert_eq!(updated["data"][0]["created"], trial_end);
    let inv = emu.get(&format!("/v1/invoices/{}", s["latest_invoice"].as_str().unwrap())).ok();
    assert_eq!(inv["amount_paid"], 900);
    assert_eq!(inv["billing_reason"], "subscription_cycle");
}

#[test]
fn renewals_repeat_for_each_period_passed() {
    let emu = Emulator::start(&[]);
    let (cid, sid) = subscribe(&emu, None);
    let first_end = period_end(&sub(&emu, &sid));
    emu.advance(95 * DAY);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "active");
    assert!(period_end(&s) > first_end + 85 * DAY);
    let invoices = emu.get(&format!("/v1/invoices?customer={cid}&status=paid")).ok();
    assert_eq!(invoices["data"].as_array().unwrap().len(), 4, "first invoice + 3 renewals");
    let paid = emu.get("/v1/events?type=invoice.paid&limit=100").ok();
    let mut times: Vec<i64> = paid["data"].as_array().unwrap().iter().map(|e| e["created"].as_i64().unwrap()).collect();
    times.reverse();
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 28 * DAY), "each renewal at its own time: {times:?}");
}

#[test]
fn cancel_at_period_end_ends_at_the_period_end() {
    let emu = Emulator::start(&[]);
    let (_, sid) = subscribe(&emu, None);
    let s = emu.post(&format!("/v1/subscriptions/{sid}"), "cancel_at_period_end=true&metadata[why]=test").ok();
    let end = period_end(&s);
    assert_eq!(s["cancel_at"], end);
    assert!(s["canceled_at"].is_i64());
    assert_eq!(s["metadata"]["why"], "test");
    emu.advance(end - emu.advance(0)["now"].as_i64().unwrap() - 60);
    assert_eq!(sub(&emu, &sid)["status"], "active", "still active just before the end");
    emu.advance(120);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "canceled");
    assert_eq!(s["ended_at"], end);
    assert_eq!(emu.event_types().last().unwrap(), "customer.subscription.deleted");
    // Listing: canceled ones only with status=all / canceled.
    assert!(emu.get("/v1/subscriptions").ok()["data"].as_array().unwrap().is_empty());
    assert_eq!(emu.get("/v1/subscriptions?status=all").ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(emu.get("/v1/subscriptions?status=canceled").ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(emu.post(&format!("/v1/subscriptions/{sid}"), "cancel_at_period_end=false").status, 400);
}

#[test]
fn cancel_at_and_cancel_now() {
    let emu = Emulator::start(&[]);
    let (cid, sid) = subscribe(&emu, Some(14));
    let now = emu.advance(0)["now"].as_i64().unwrap();
    let s = emu.post(&format!("/v1/subscriptions/{sid}"), &format!("cancel_at={}", now + 3 * DAY)).ok();
    assert_eq!(s["cancel_at"], now + 3 * DAY);
    assert_eq!(s["cancel_at_period_end"], false);
    emu.advance(3 * DAY + 1);
    assert_eq!(sub(&emu, &sid)["status"], "canceled");
    let price = emu.get(&format!("/v1/subscriptions/{sid}")).ok()["items"]["data"][0]["price"]["id"].clone();
    let listed =
        emu.get(&format!("/v1/subscriptions?customer={cid}&price={}&status=all", price.as_str().unwrap())).ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let (_, sid2) = subscribe(&emu, None);
    let c = emu.delete(&format!("/v1/subscriptions/{sid2}")).ok();
    assert_eq!(c["status"], "canceled");
    assert_eq!(c["cancellation_details"]["reason"], "cancellation_requested");
    assert_eq!(emu.delete(&format!("/v1/subscriptions/{sid2}")).status, 404);
    assert_eq!(emu.delete("/v1/subscriptions/sub_nope").status, 404);
}

#[test]
fn failed_payments_go_past_due_then_cancel_after_retries() {
    let emu = Emulator::start(&[]);
    let (cid, sid) = subscribe(&emu, None);
    let r = emu.control(&format!("/_emulator/customers/{cid}/fail_payments"), r#"{"fail": true}"#);
    assert_eq!(r.ok()["fail"], true);
    assert_eq!(emu.control("/_emulator/customers/cus_nope/fail_payments", r#"{"fail": true}"#).status, 404);
    let end = period_end(&sub(&emu, &sid));
    let now = emu.advance(0)["now"].as_i64().unwrap();
    emu.advance(end - now + 60);
    assert_eq!(sub(&emu, &sid)["status"], "active", "the renewal invoice is still a draft");
    emu.advance(3600);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "past_due");
    let inv = emu.get(&format!("/v1/invoices/{}", s["latest_invoice"].as_str().unwrap())).ok();
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["attempt_count"], 1);
    assert!(inv["next_payment_attempt"].as_i64().unwrap() > end);
    assert!(emu.event_types().contains(&"invoice.payment_failed".to_string()));
    emu.advance(16 * DAY);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "canceled");
    assert_eq!(s["cancellation_details"]["reason"], "payment_failed");
    let failed = emu.get("/v1/events?type=invoice.payment_failed").ok();
    assert_eq!(failed["data"].as_array().unwrap().len(), 4, "first attempt + 3 retries");
}

#[test]
fn a_retry_that_succeeds_makes_it_active_again() {
    let emu = Emulator::start(&[]);
    let (cid, sid) = subscribe(&emu, None);
    emu.control(&format!("/_emulator/customers/{cid}/fail_payments"), r#"{"fail": true}"#);
    let end = period_end(&sub(&emu, &sid));
    let now = emu.advance(0)["now"].as_i64().unwrap();
    emu.advance(end - now + 3600 + 60);
    assert_eq!(sub(&emu, &sid)["status"], "past_due");
    emu.control(&format!("/_emulator/customers/{cid}/fail_payments"), r#"{"fail": false}"#);
    emu.advance(3 * DAY + 60);
    let s = sub(&emu, &sid);
    assert_eq!(s["status"], "active");
    let inv = emu.get(&format!("/v1/invoices/{}", s["latest_invoice"].as_str().unwrap())).ok();
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["attempt_count"], 2);
}

#[test]
fn unpaid_after_retries_when_configured() {
    let emu = Emulator::start(&["--after-retries", "unpaid"]);
    let (cid, sid) = subscribe(&emu, None);
    emu.control(&format!("/_emulator/customers/{cid}/fail_payments"), "{}");
    emu.advance(50 * DAY);
    assert_eq!(sub(&emu, &sid)["status"], "unpaid");
}

#[test]
fn refunds_full_and_partial() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    let cs = emu.session(&format!("mode=payment&line_items[0][price]={price}"));
    emu.pay(&cs, "4242424242424242", "r@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap())).ok();
    let ch = s["payment_intent"]["latest_charge"].as_str().unwrap().to_string();
    let r1 = emu.post("/v1/refunds", &format!("charge={ch}&amount=1000&reason=requested_by_customer")).ok();
    assert_eq!(r1["object"], "refund");
    assert_eq!(r1["amount"], 1000);
    let too_much = emu.post("/v1/refunds", &format!("charge={ch}&amount=2000"));
    assert_eq!(too_much.status, 400);
    assert_eq!(too_much.json()["error"]["param"], "amount");
    let pi = s["payment_intent"]["id"].as_str().unwrap();
    let r2 = emu.post("/v1/refunds", &format!("payment_intent={pi}")).ok();
    assert_eq!(r2["amount"], 1500);
    let charge = emu.get(&format!("/v1/charges/{ch}")).ok();
    assert_eq!(charge["amount_refunded"], 2500);
    assert_eq!(charge["refunded"], true);
    let again = emu.post("/v1/refunds", &format!("charge={ch}"));
    assert_eq!(again.json()["error"]["code"], "charge_already_refunded");
    let ev = emu.get("/v1/events?type=charge.refunded").ok();
    assert_eq!(ev["data"].as_array().unwrap().len(), 2);
    assert_eq!(ev["data"][0]["data"]["previous_attributes"]["amount_refunded"], 1000);
    assert_eq!(emu.get(&format!("/v1/refunds?charge={ch}")).ok()["data"].as_array().unwrap().len(), 2);
    assert_eq!(emu.post("/v1/refunds", "charge=ch_nope").status, 400, "a missing charge named in a parameter");
}

#[test]
fn disputes_open_and_resolve() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    let cs = emu.session(&format!("mode=payment&line_items[0][price]={price}"));
    emu.pay(&cs, "4242424242424242", "d@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap())).ok();
    let ch = s["payment_intent"]["latest_charge"].as_str().unwrap().to_string();
    let dp = emu.control(&format!("/_emulator/charges/{ch}/dispute"), "{}").ok();
    assert_eq!(dp["object"], "dispute");
    assert_eq!(dp["status"], "needs_response");
    assert_eq!(dp["payment_intent"], s["payment_intent"]["id"]);
    assert_eq!(emu.control(&format!("/_emulator/charges/{ch}/dispute"), "{}").status, 400);
    assert_eq!(emu.get(&format!("/v1/charges/{ch}")).ok()["disputed"], true);
    let id = dp["id"].as_str().unwrap();
    let lost = emu.control(&format!("/_emulator/disputes/{id}/resolve"), r#"{"outcome": "lost"}"#).ok();
    assert_eq!(lost["status"], "lost");
    let types = emu.event_types();
    assert_eq!(
        types[types.len() - 3..],
        ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"]
    );
    assert_eq!(emu.get("/v1/disputes").ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(emu.post(&format!("/v1/disputes/{id}/close"), "").status, 400, "already closed");
}

#[test]
fn a_refund_to_the_refund_fail_card_fails_later() {
    let emu = Emulator::start(&[]);
    let price = emu.price("Book", 2500, None);
    let cs = emu.session(&format!("mode=payment&line_items[0][price]={price}"));
    emu.pay(&cs, "4000 0000 0000 5126", "r@x.test");
    let s = emu.get(&format!("/v1/checkout/sessions/{}?expand[]=payment_intent", cs["id"].as_str().unwrap())).ok();
    let ch = s["payment_intent"]["latest_charge"].as_str().unwrap().to_string();
    let re = emu.post("/v1/refunds", &format!("charge={ch}")).ok();
    assert_eq!(re["status"], "succeeded", "the refund first looks done");
    assert_eq!(emu.get(&format!("/v1/charges/{ch}")).ok()["refunded"], true);
    let before = emu.event_types().len();
    emu.advance(60);
    assert_eq!(emu.event_types()[before..], ["charge.refund.updated", "refund.updated", "refund.failed"]);
    let updated = emu.get("/v1/events?type=charge.refund.updated").ok()["data"][0].clone();
    assert_eq!(updated["data"]["object"]["object"], "refund");
    assert_eq!(updated["data"]["object"]["status"], "failed");
    assert_eq!(updated["data"]["object"]["failure_reason"], "expired_or_canceled_card");
    let charge = emu.get(&format!("/v1/charges/{ch}")).ok();
    assert_eq!((charge["refunded"].as_bool(), charge["amount_refunded"].as_i64()), (Some(false), Some(0)));
}

#[test]
fn a_price_deleted_in_the_dashboard_sends_price_deleted() {
    let emu = Emulator::start(&[]);
    let unused = emu.price("Draft", 900, None);
    let deleted = emu.control(&format!("/_emulator/prices/{unused}/delete"), "").ok();
    assert_eq!(deleted["deleted"], true);
    let ev = emu.get("/v1/events?type=price.deleted").ok()["data"][0].clone();
    assert_eq!(ev["data"]["object"]["id"], unused.as_str());
    assert_eq!(ev["data"]["object"]["unit_amount"], 900);
    assert!(emu.get("/v1/prices").ok()["data"].as_array().unwrap().iter().all(|p| p["id"] != unused.as_str()));
    let used = emu.price("Sold", 900, None);
    emu.session(&format!("mode=payment&line_items[0][price]={used}"));
    assert_eq!(
        emu.control(&format!("/_emulator/prices/{used}/delete"), "").status,
        400,
        "a used price is only archived"
    );
}

#[test]
fn a_renewal_draft_of_a_subscription_canceled_meanwhile_is_not_collected() {
    let emu = Emulator::start(&[]);
    let (_, sid) = subscribe(&emu, None);
    let end = period_end(&sub(&emu, &sid));
    let now = emu.advance(0)["now"].as_i64().unwrap();
    emu.advance(end - now + 60);
    let draft = sub(&emu, &sid)["latest_invoice"].as_str().unwrap().to_string();
    assert_eq!(emu.get(&format!("/v1/invoices/{draft}")).ok()["status"], "draft");
    emu.delete(&format!("/v1/subscriptions/{sid}")).ok();
    let before = emu.event_types().len();
    emu.advance(2 * 3600);
    assert!(!emu.event_types()[before..].iter().any(|t| t.starts_with("invoice.")), "nothing collected");
    let inv = emu.get(&format!("/v1/invoices/{draft}")).ok();
    assert_eq!((inv["status"].as_str(), inv["auto_advance"].as_bool()), (Some("draft"), Some(false)));
}
