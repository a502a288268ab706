//! Checkout Sessions: creation from Stripe's parameters, and completion when the hosted page is paid
//! (customer, payment / subscription / setup intent, events in Stripe's order).

use crate::billing::Line;
use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::ids::new_id;
use crate::objects::{self, template};
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

const SESSION_PARAMS: &[&str] = &[
    "mode",
    "line_items",
    "customer",
    "customer_email",
    "client_reference_id",
    "metadata",
    "subscription_data",
    "payment_intent_data",
    "setup_intent_data",
    "allow_promotion_codes",
    "billing_address_collection",
    "success_url",
    "cancel_url",
    "expires_at",
    "currency",
    "locale",
    "payment_method_types",
    "customer_creation",
    "ui_mode",
    "submit_type",
    "consent_collection",
    "custom_text",
    "phone_number_collection",
    "tax_id_collection",
    "automatic_tax",
    "invoice_creation",
    "discounts",
    "payment_method_collection",
    "saved_payment_method_options",
    "shipping_address_collection",
    "shipping_options",
    "return_url",
    "redirect_on_completion",
    "after_expiration",
    "customer_update",
    "custom_fields",
    "payment_method_options",
    "payment_method_configuration",
    "adaptive_pricing",
    "optional_items",
    "origin_context",
    "wallet_options",
    "permissions",
    "branding_settings",
    "name_collection",
    "managed_payments",
    "payment_method_data",
    "customer_account",
    "excluded_payment_method_types",
];

const SUBSCRIPTION_DATA_PARAMS: &[&str] = &[
    "trial_period_days",
    "trial_end",
    "trial_settings",
    "metadata",
    "description",
    "default_tax_rates",
    "application_fee_percent",
    "billing_cycle_anchor",
    "proration_behavior",
    "on_behalf_of",
    "transfer_data",
    "invoice_settings",
    "billing_mode",
    "pending_invoice_item_interval",
];

/// Why a payment on the hosted page did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayError {
    /// The card was declined (message as Stripe shows it).
    Declined(String),
    /// The card number or a field is invalid.
    Invalid(String),
    /// The session is not open (`complete` or `expired`).
    NotOpen(String),
    /// No such session.
    Missing,
}

impl PayError {
    /// The message shown on the page.
    pub fn message(&self) -> String {
        match self {
            Self::Declined(m) | Self::Invalid(m) => m.clone(),
            Self::NotOpen(s) if s == "complete" => "This Checkout Session has already been paid.".into(),
            Self::NotOpen(_) => "This Checkout Session has expired.".into(),
            Self::Missing => "No such Checkout Session.".into(),
        }
    }

    /// As an API error (control API).
    pub fn api_error(&self) -> ApiError {
        match self {
            Self::Declined(m) if m.contains("insufficient") => {
                ApiError::card("card_declined", Some("insufficient_funds"), m.clone())
            }
            Self::Declined(m) => ApiError::card("card_declined", Some("generic_decline"), m.clone()),
            Self::Invalid(m) => ApiError::card("incorrect_number", None, m.clone()),
            Self::NotOpen(_) => ApiError::bad(self.message(), None),
            Self::Missing => ApiError { status: 404, ..ApiError::bad(self.message(), None) },
        }
    }
}

/// The outcome of a test card number.
/// Stripe's test card whose payments succeed and whose refunds fail afterwards (`pm_card_refundFail`).
pub const REFUND_FAILS_CARD: &str = "4000000000005126";

pub fn check_card(number: &str) -> Result<String, PayError> {
    let digits: String = number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    match digits.as_str() {
        "4242424242424242" | "4000056655665556" | "5555555555554444" | "378282246310005" | REFUND_FAILS_CARD => {
            Ok(digits[digits.len() - 4..].to_string())
        }
        "4000000000000002" => Err(PayError::Declined("Your card was declined.".into())),
        "4000000000009995" => Err(PayError::Declined("Your card has insufficient funds.".into())),
        "" => Err(PayError::Invalid("Your card number is incomplete.".into())),
        _ => Err(PayError::Invalid("Your card number is invalid.".into())),
    }
}

/// A SEPA Direct Debit test IBAN: whether the debit will succeed, and after how many seconds it settles
/// (Stripe's test IBANs: `…3000` succeeds, `…3001` fails, `…3003` / `…3004` do the same after three minutes).
pub fn test_iban(number: &str) -> Option<(bool, i64)> {
    let compact: String = number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    match compact.as_str() {
        "DE89370400440532013000" => Some((true, 3)),
        "DE62370400440532013001" => Some((false, 3)),
        "DE08370400440532013003" => Some((true, 180)),
        "DE78370400440532013004" => Some((false, 180)),
        _ => None,
    }
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > 8 && !u.contains(char::is_whitespace)
}

/// Resolves one `line_items[i]` entry to (price object, quantity), creating an inline price for `price_data`.
fn line_item(store: &mut Store, account: &str, li: &Params) -> ApiResult<(Value, i64)> {
    li.allow(&[
        "price",
        "price_data",
        "quantity",
        "adjustable_quantity",
        "dynamic_tax_rates",
        "tax_rates",
        "metadata",
    ])?;
    let quantity = li.int("quantity")?.unwrap_or(1);
    if !(1..=999_999).contains(&quantity) {
        return Err(ApiError::bad("Quantity must be between 1 and 999999.", Some(&li.name("quantity"))));
    }
    if let Some(pid) = li.nonempty("price")? {
        let acct = store.account_mut(account);
        let price = acct.get(Kind::Price, &pid, &li.name("price"))?.clone();
        if price["active"] != true {
            return Err(ApiError::bad(
                "The price specified is inactive. This field only accepts active prices.",
                Some(&li.name("price")),
            ));
        }
        return Ok((price, quantity));
    }
    let Some(pd) = li.sub("price_data")? else {
        return Err(ApiError::param_missing(&li.name("price")));
    };
    pd.allow(&[
        "currency",
        "unit_amount",
        "unit_amount_decimal",
        "product",
        "product_data",
        "recurring",
        "tax_behavior",
    ])?;
    let currency = crate::currency::check(&pd.req_str("currency")?, &pd.name("currency"))?;
    let amount = pd.amount("unit_amount")?.ok_or_else(|| ApiError::param_missing(&pd.name("unit_amount")))?;
    let now = store.now();
    let product = if let Some(p) = pd.nonempty("product")? {
        store.account_mut(account).get(Kind::Product, &p, &pd.name("product"))?;
        p
    } else {
        let data = pd.sub("product_data")?.ok_or_else(|| ApiError::param_missing(&pd.name("product")))?;
        let mut prod = objects::product(None, &data.req_str("name")?, now);
        prod["description"] = json!(data.nonempty("description")?);
        data.apply_metadata(&mut prod)?;
        let id = prod["id"].as_str().unwrap_or_default().to_string();
        store.account_mut(account).put(Kind::Product, prod);
        id
    };
    let recurring = match pd.sub("recurring")? {
        Some(r) => Some((
            r.one_of("interval", &["day", "week", "month", "year"])?
                .ok_or_else(|| ApiError::param_missing(&r.name("interval")))?,
            r.int("interval_count")?.unwrap_or(1),
            None,
        )),
        None => None,
    };
    let mut price = objects::price(&product, &currency, amount, recurring, now);
    price["active"] = json!(false);
    store.account_mut(account).put(Kind::Price, price.clone());
    Ok((price, quantity))
}

/// `payment_intent_data` / `setup_intent_data`: only in their mode; keeps `metadata` and `description`.
fn intent_data(p: &Params, key: &str, mode: &str, allowed_mode: &str) -> ApiResult<Value> {
    let Some(d) = p.sub(key)? else {
        return Ok(json!({"metadata": {}, "description": null}));
    };
    if mode != allowed_mode {
        return Err(ApiError::bad(format!("You can not pass `{key}` in `{mode}` mode."), Some(key)));
    }
    d.allow(&[
        "metadata",
        "description",
        "capture_method",
        "receipt_email",
        "setup_future_usage",
        "shipping",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_data",
        "transfer_group",
        "on_behalf_of",
        "application_fee_amount",
    ])?;
    let mut holder = json!({"metadata": {}});
    d.apply_metadata(&mut holder)?;
    Ok(json!({"metadata": holder["metadata"], "description": d.nonempty("description")?}))
}

/// `POST /v1/checkout/sessions`.
pub fn create(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(SESSION_PARAMS)?;
    let mode =
        p.one_of("mode", &["payment", "subscription", "setup"])?.ok_or_else(|| ApiError::param_missing("mode"))?;
    let customer = p.nonempty("customer")?;
    let customer_email = p.nonempty("customer_email")?;
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::bad(
            "You may only specify one of these parameters: customer, customer_email.",
            Some("customer_email"),
        ));
    }
    if let Some(c) = &customer {
        let acct = store.account_mut(account);
        let cus = acct.get(Kind::Customer, c, "customer")?;
        if cus.get("deleted").is_some() {
            return Err(ApiError::missing("customer", c, "customer"));
        }
    }
    if let Some(e) = &customer_email
        && (!e.contains('@') || e.len() > 512)
    {
        return Err(ApiError::invalid("email_invalid", format!("Invalid email address: {e}"), Some("customer_email")));
    }
    for key in ["success_url", "cancel_url"] {
        if let Some(u) = p.nonempty(key)?
            && !valid_url(&u)
        {
            return Err(ApiError::invalid("url_invalid", "Not a valid URL", Some(key)));
        }
    }
    if let Some(c) = p.nonempty("client_reference_id")?
        && c.len() > 200
    {
        return Err(ApiError::bad("client_reference_id must be at most 200 characters.", Some("client_reference_id")));
    }
    let customer_creation = p.one_of("customer_creation", &["always", "if_required"])?;
    if customer_creation.is_some() {
        if mode != "payment" {
            return Err(ApiError::bad("`customer_creation` can only be used in `payment` mode.", None));
        }
        if customer.is_some() {
            return Err(ApiError::bad(
                "You may only specify one of these parameters: customer, customer_creation.",
                Some("customer_creation"),
            ));
        }
    }
    let billing_address = p.one_of("billing_address_collection", &["auto", "required"])?;
    let allow_promo = p.bool("allow_promotion_codes")?;
    let sub_data = p.sub("subscription_data")?;
    if sub_data.is_some() && mode != "subscription" {
        return Err(ApiError::bad(
            format!("You can not pass `subscription_data` in `{mode}` mode."),
            Some("subscription_data"),
        ));
    }
    let mut trial_days = None;
    let mut sub_metadata = json!({});
    let mut sub_description = None;
    if let Some(sd) = &sub_data {
        sd.allow(SUBSCRIPTION_DATA_PARAMS)?;
        trial_days = sd.int("trial_period_days")?;
        if let Some(d) = trial_days
            && !(1..=730).contains(&d)
        {
            return Err(ApiError::bad(
                "The trial period must be between 1 and 730 days.",
                Some("subscription_data[trial_period_days]"),
            ));
        }
        let mut holder = json!({"metadata": {}});
        sd.apply_metadata(&mut holder)?;
        sub_metadata = holder["metadata"].clone();
        sub_description = sd.nonempty("description")?;
    }
    let payment_intent_data = intent_data(p, "payment_intent_data", &mode, "payment")?;
    let setup_intent_data = intent_data(p, "setup_intent_data", &mode, "setup")?;
    let items = p.hash_list("line_items")?;
    if mode == "setup" && !items.is_empty() {
        return Err(ApiError::bad("You cannot pass `line_items` in `setup` mode.", Some("line_items")));
    }
    if mode != "setup" && items.is_empty() {
        return Err(ApiError::param_missing("line_items"));
    }
    let mut resolved = Vec::new();
    for li in &items {
        resolved.push((line_item(store, account, li)?, li.name("price")));
    }
    let mut currency = p.nonempty("currency")?.map(|c| crate::currency::check(&c, "currency")).transpose()?;
    let mut subtotal = 0;
    let mut any_recurring = false;
    for ((price, qty), param) in &resolved {
        let recurring = price["type"] == "recurring";
        any_recurring |= recurring;
        if mode == "payment" && recurring {
            return Err(ApiError::bad(
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
                Some(param),
            ));
        }
        let c = price["currency"].as_str().unwrap_or("usd").to_string();
        if let Some(existing) = &currency
            && *existing != c
        {
            return Err(ApiError::bad("All line items must have the same currency.", Some(param)));
        }
        currency = Some(c);
        subtotal += price["unit_amount"].as_i64().unwrap_or(0) * qty;
    }
    if mode == "subscription" && !any_recurring {
        return Err(ApiError::bad(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
            Some("line_items"),
        ));
    }
    let now = store.now();
    let expires_at = p.int("expires_at")?.unwrap_or(now + 24 * 3600);
    if expires_at < now + 30 * 60 - 5 || expires_at > now + 24 * 3600 + 5 {
        return Err(ApiError::bad(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            Some("expires_at"),
        ));
    }
    let id = new_id("cs_test");
    let url = format!("{}/checkout/pay/{id}", store.base_url);
    let line_items: Vec<Value> = resolved
        .iter()
        .map(|((price, qty), _)| {
            let amount = price["unit_amount"].as_i64().unwrap_or(0) * qty;
            let description = store
                .account(account)
                .and_then(|a| a.col(Kind::Product).get(price["product"].as_str().unwrap_or_default()))
                .and_then(|pr| pr["name"].as_str().map(str::to_string))
                .unwrap_or_default();
            let mut it = template("item");
            objects::merge(
                &mut it,
                json!({
                    "id": new_id("li"), "amount_subtotal": amount, "amount_total": amount,
                    "currency": price["currency"], "description": description, "price": price["id"], "quantity": qty,
                }),
            );
            it
        })
        .collect();
    let total = if mode == "subscription" && trial_days.is_some() { 0 } else { subtotal };
    let currency_code = currency.clone().unwrap_or_default();
    if let Some(min) = crate::currency::minimum(&currency_code)
        && (mode == "payment" || total > 0)
        && total < min
    {
        return Err(ApiError::invalid(
            "amount_too_small",
            format!(
                "The Checkout Session's total amount due must add up to at least {}",
                crate::currency::display(min, &currency_code)
            ),
            None,
        ));
    }
    let mut cs = template("checkout.session");
    objects::merge(
        &mut cs,
        json!({
            "id": id, "created": now, "expires_at": expires_at, "mode": mode, "url": url,
            "status": "open", "payment_status": if mode == "setup" { "no_payment_required" } else { "unpaid" },
            "amount_subtotal": if mode == "setup" { Value::Null } else { json!(subtotal) },
            "amount_total": if mode == "setup" { Value::Null } else { json!(total) },
            "currency": currency, "customer": customer, "customer_email": customer_email,
            "client_reference_id": p.nonempty("client_reference_id")?, "allow_promotion_codes": allow_promo,
            "billing_address_collection": billing_address, "success_url": p.nonempty("success_url")?,
            "cancel_url": p.nonempty("cancel_url")?, "locale": p.nonempty("locale")?,
            "submit_type": p.nonempty("submit_type")?,
            "customer_creation": if mode == "payment" { json!(customer_creation.as_deref().unwrap_or("if_required")) } else { Value::Null },
            "payment_method_collection": if mode == "subscription" { json!("always") } else { Value::Null },
            "ui_mode": p.nonempty("ui_mode")?.unwrap_or_else(|| "hosted".into()),
            "_line_items": line_items,
            "_subscription_data": {"trial_period_days": trial_days, "metadata": sub_metadata, "description": sub_description},
            "_payment_intent_data": payment_intent_data, "_setup_intent_data": setup_intent_data,
        }),
    );
    if mode != "payment" {
        cs["invoice_creation"] = Value::Null;
    }
    if mode == "setup" {
        cs["payment_method_options"] = json!({});
    }
    p.apply_metadata(&mut cs)?;
    store.account_mut(account).put(Kind::CheckoutSession, cs.clone());
    Ok(public(&cs))
}

/// `POST /v1/checkout/sessions/{id}/expire`.
pub fn expire(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let cs = acct.get_mut(Kind::CheckoutSession, id, "id")?;
    if cs["status"] != "open" {
        return Err(ApiError::bad(
            format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                cs["status"].as_str().unwrap_or_default()
            ),
            None,
        ));
    }
    cs["status"] = json!("expired");
    cs["url"] = Value::Null;
    let cs = cs.clone();
    store.emit(account, "checkout.session.expired", &cs, None);
    Ok(public(&cs))
}

/// Where the hosted page sends the payer after success (`{CHECKOUT_SESSION_ID}` filled in), if anywhere.
pub fn success_redirect(cs: &Value) -> Option<String> {
    let id = cs["id"].as_str().unwrap_or_default();
    cs["success_url"].as_str().map(|u| u.replace("{CHECKOUT_SESSION_ID}", id))
}

/// Completes an open session with a test card: creates or reuses the customer, then the payment,
/// subscription or setup intent, and emits the events in Stripe's order ending with
/// checkout.session.completed. Returns the completed session.
pub fn pay(store: &mut Store, account: &str, id: &str, email: Option<&str>, card: &str) -> Result<Value, PayError> {
    let cs =
        store.account(account).and_then(|a| a.col(Kind::CheckoutSession).get(id).cloned()).ok_or(PayError::Missing)?;
    if cs["status"] != "open" {
        return Err(PayError::NotOpen(cs["status"].as_str().unwrap_or_default().to_string()));
    }
    let existing_customer = cs["customer"].as_str().map(str::to_string);
    let email = email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .or_else(|| cs["customer_email"].as_str().map(str::to_string))
        .or_else(|| {
            existing_customer
                .as_ref()
                .and_then(|c| store.account(account)?.col(Kind::Customer).get(c)?["email"].as_str().map(str::to_string))
        });
    let Some(email) = email else {
        return Err(PayError::Invalid("Your email is incomplete.".into()));
    };
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(PayError::Invalid("Your email address is invalid.".into()));
    }
    let now = store.now();
    let mode = cs["mode"].as_str().unwrap_or("payment").to_string();
    let debit = test_iban(card);
    if debit.is_some() && mode != "payment" {
        return Err(PayError::Invalid("This emulator takes SEPA Direct Debit in payment mode only.".into()));
    }
    let last4 = match debit {
        Some(_) => card.trim().chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect(),
        None => check_card(card)?,
    };

    // Payment mode makes a Customer only when asked (`customer_creation=always`); the other modes need one.
    let makes_customer = mode != "payment" || cs["customer_creation"] == "always";
    let payer = match existing_customer {
        Some(c) => Some(c),
        None if makes_customer => {
            let c = objects::customer(Some(&email), None, now);
            let cid = c["id"].as_str().unwrap_or_default().to_string();
            store.account_mut(account).put(Kind::Customer, c.clone());
            store.emit(account, "customer.created", &c, None);
            Some(cid)
        }
        None => None,
    };
    let customer_name = payer
        .as_ref()
        .and_then(|id| store.account(account)?.col(Kind::Customer).get(id))
        .map(|c| c["name"].clone())
        .unwrap_or(Value::Null);
    let customer_id = payer.clone().unwrap_or_default();
    let attach = mode != "payment";
    let mut pm = objects::payment_method(&last4, Some(&email), attach.then_some(customer_id.as_str()), now);
    if !attach {
        // Used for one payment without being attached: Stripe refuses to attach it later.
        pm["_single_use"] = json!(true);
    }
    if card.chars().filter(char::is_ascii_digit).collect::<String>() == REFUND_FAILS_CARD {
        pm["_refund_fails"] = json!(true);
    }
    let pm_id = pm["id"].as_str().unwrap_or_default().to_string();
    store.account_mut(account).put(Kind::PaymentMethod, pm.clone());
    if attach {
        store.emit(account, "payment_method.attached", &pm, None);
    }
    let mut patch = json!({
        "status": "complete", "customer": payer, "url": null,
        "customer_details": {"email": email, "name": customer_name, "address": null, "phone": null,
            "tax_exempt": "none", "tax_ids": [], "business_name": null, "individual_name": null},
    });
    match mode.as_str() {
        "payment" => {
            let amount = cs["amount_total"].as_i64().unwrap_or(0);
            let currency = cs["currency"].as_str().unwrap_or("usd");
            let pid = &cs["_payment_intent_data"];
            let description = pid["description"].as_str();
            let (mut pi, mut ch) =
                objects::payment(amount, currency, payer.as_deref(), &pm, Some(&email), description, now);
            if pid["metadata"].is_object() {
                pi["metadata"] = pid["metadata"].clone();
                ch["metadata"] = pid["metadata"].clone();
            }
            patch["payment_intent"] = pi["id"].clone();
            if let Some((succeeds, after)) = debit {
                // A delayed method: the session completes unpaid; the debit settles later (see billing).
                objects::as_pending_debit(&mut pi, &mut ch, &last4);
                pi["_settles_at"] = json!(now + after);
                pi["_settles_ok"] = json!(succeeds);
                pi["_checkout_session"] = json!(id);
                patch["payment_status"] = json!("unpaid");
                let acct = store.account_mut(account);
                acct.put(Kind::PaymentIntent, pi.clone());
                acct.put(Kind::Charge, ch.clone());
                store.emit(account, "payment_intent.processing", &pi, None);
                store.emit(account, "charge.pending", &ch, None);
            } else {
                patch["payment_status"] = json!("paid");
                let acct = store.account_mut(account);
                acct.put(Kind::PaymentIntent, pi.clone());
                acct.put(Kind::Charge, ch.clone());
                store.emit(account, "payment_intent.succeeded", &pi, None);
                store.emit(account, "charge.succeeded", &ch, None);
            }
        }
        "subscription" => {
            let acct = store.account_mut(account);
            let lines: Vec<Line> = cs["_line_items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|it| {
                    let price = acct.col(Kind::Price).get(it["price"].as_str()?)?.clone();
                    Some(Line { price, quantity: it["quantity"].as_i64().unwrap_or(1) })
                })
                .collect();
            let sd = &cs["_subscription_data"];
            let trial = sd["trial_period_days"].as_i64();
            let mut metadata = sd["metadata"].clone();
            if !metadata.is_object() {
                metadata = json!({});
            }
            let (sub_id, invoice_id) =
                store.start_subscription(account, &customer_id, &lines, trial, metadata, Some(&pm_id));
            if let Some(desc) = sd["description"].as_str()
                && let Some(s) = store.account_mut(account).col_mut(Kind::Subscription).get_mut(&sub_id)
            {
                s["description"] = json!(desc);
            }
            let paid_amount = store
                .account(account)
                .and_then(|a| a.col(Kind::Invoice).get(&invoice_id))
                .and_then(|i| i["amount_paid"].as_i64())
                .unwrap_or(0);
            patch["subscription"] = json!(sub_id);
            patch["invoice"] = json!(invoice_id);
            patch["payment_status"] = json!(if paid_amount > 0 { "paid" } else { "no_payment_required" });
        }
        _ => {
            let seti_id = new_id("seti");
            let mut seti = template("setup_intent");
            objects::merge(
                &mut seti,
                json!({
                    "id": seti_id, "created": now, "customer": customer_id, "payment_method": pm_id,
                    "status": "succeeded", "client_secret": format!("{seti_id}_secret_{}", crate::ids::random_chars(32)),
                }),
            );
            if cs["_setup_intent_data"]["metadata"].is_object() {
                seti["metadata"] = cs["_setup_intent_data"]["metadata"].clone();
                seti["description"] = cs["_setup_intent_data"]["description"].clone();
            }
            store.account_mut(account).put(Kind::SetupIntent, seti.clone());
            store.emit(account, "setup_intent.created", &seti, None);
            store.emit(account, "setup_intent.succeeded", &seti, None);
            patch["setup_intent"] = json!(seti_id);
            patch["payment_status"] = json!("no_payment_required");
        }
    }
    let acct = store.account_mut(account);
    let Some(cs) = acct.col_mut(Kind::CheckoutSession).get_mut(id) else {
        return Err(PayError::Missing);
    };
    objects::merge(cs, patch);
    let cs = cs.clone();
    store.emit(account, "checkout.session.completed", &cs, None);
    Ok(public(&cs))
}
