//! The hosted pages: Checkout (`/checkout/pay/{cs_id}`) and the Customer Portal (`/portal/{bps_id}`).
//! Plain HTML forms with stable element ids for browser tests; no script.

use crate::clock::date_string;
use crate::objects::format_amount;
use serde_json::Value;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,sans-serif;background:#f6f9fc;color:#30313d;margin:0}\
main{max-width:480px;margin:40px auto;background:#fff;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.08);padding:32px}\
h1{font-size:20px;margin:0 0 4px}.amount{font-size:32px;font-weight:600;margin:8px 0 4px}.muted{color:#6a7383;font-size:14px}\
label{display:block;font-size:14px;margin:16px 0 4px}input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #d5dbe1;border-radius:6px;font-size:16px}\
button{margin-top:20px;width:100%;padding:12px;border:0;border-radius:6px;background:#635bff;color:#fff;font-size:16px;cursor:pointer}\
button.secondary{background:#fff;color:#635bff;border:1px solid #635bff}\
#error{color:#df1b41;font-size:14px;margin-top:12px;min-height:1em}.test{background:#ffde92;color:#8a5a00;font-size:12px;padding:2px 6px;border-radius:4px}\
ul{list-style:none;padding:0}li.line{display:flex;justify-content:space-between;padding:6px 0;border-bottom:1px solid #eee}\
.sub{border:1px solid #e3e8ee;border-radius:8px;padding:16px;margin:12px 0}a{color:#635bff}";

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    )
}

/// One line of the order summary: name, quantity, unit amount, currency, recurring interval.
#[derive(Debug, Clone)]
pub struct SummaryLine {
    /// Product name.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit amount in minor units.
    pub unit_amount: i64,
    /// Currency code.
    pub currency: String,
    /// `month`, `year`, ... for recurring prices.
    pub interval: Option<String>,
    /// Interval count.
    pub interval_count: i64,
}

fn per(interval: &Option<String>, count: i64) -> String {
    match interval {
        None => String::new(),
        Some(i) if count <= 1 => format!(" / {i}"),
        Some(i) => format!(" every {count} {i}s"),
    }
}

/// The checkout page for an open session.
pub fn checkout(cs: &Value, lines: &[SummaryLine], email: Option<&str>, error: Option<&str>) -> String {
    let id = cs["id"].as_str().unwrap_or_default();
    let mode = cs["mode"].as_str().unwrap_or("payment");
    let currency = cs["currency"].as_str().unwrap_or("usd");
    let trial = cs["_subscription_data"]["trial_period_days"].as_i64();
    let mut summary = String::new();
    for l in lines {
        let qty = if l.quantity > 1 { format!(" × {}", l.quantity) } else { String::new() };
        summary.push_str(&format!(
            "<li class=\"line\"><span class=\"product-name\">{}{qty}</span><span>{}{}</span></li>",
            esc(&l.name),
            format_amount(l.unit_amount * l.quantity, &l.currency),
            per(&l.interval, l.interval_count)
        ));
    }
    let first = lines.first();
    let headline = match (mode, first) {
        ("setup", _) => "Save your card for future payments".to_string(),
        (_, Some(l)) if lines.len() == 1 => l.name.clone(),
        _ => "Your order".to_string(),
    };
    let amount_line = if mode == "setup" {
        String::new()
    } else {
        let total = cs["amount_subtotal"].as_i64().unwrap_or(0);
        let recurring = first.and_then(|l| l.interval.clone());
        let count = first.map_or(1, |l| l.interval_count);
        match trial {
            Some(days) if mode == "subscription" => format!(
                "<div class=\"amount\" id=\"amount\">{days} days free</div><div class=\"muted\">Then {}{} after the trial</div>",
                format_amount(total, currency),
                per(&recurring, count)
            ),
            _ => format!(
                "<div class=\"amount\" id=\"amount\">{}<span class=\"muted\">{}</span></div>",
                format_amount(total, currency),
                per(&recurring, count)
            ),
        }
    };
    let button = match (mode, trial) {
        ("setup", _) => "Save card",
        ("subscription", Some(_)) => "Start trial",
        ("subscription", None) => "Subscribe",
        _ => "Pay",
    };
    let email_value = email.or_else(|| cs["customer_email"].as_str()).unwrap_or_default();
    let locked = if cs["customer_email"].is_string() { " readonly" } else { "" };
    let cancel = cs["cancel_url"]
        .as_str()
        .map(|u| format!("<p class=\"muted\"><a id=\"cancel\" href=\"{}\">← Back</a></p>", esc(u)))
        .unwrap_or_default();
    let body = format!(
        "{cancel}<p><span class=\"test\">TEST MODE</span></p><h1 id=\"product-name\">{}</h1>{amount_line}\
<ul id=\"summary\">{summary}</ul>\
<form id=\"checkout-form\" method=\"post\" action=\"/checkout/pay/{id}\">\
<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" value=\"{}\"{locked}>\
<label for=\"cardNumber\">Card number</label><input id=\"cardNumber\" name=\"cardNumber\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"4242 4242 4242 4242\">\
<label for=\"cardExpiry\">Expiration</label><input id=\"cardExpiry\" name=\"cardExpiry\" placeholder=\"MM / YY\" value=\"12 / 34\">\
<label for=\"cardCvc\">CVC</label><input id=\"cardCvc\" name=\"cardCvc\" placeholder=\"CVC\" value=\"123\">\
<button id=\"submit\" type=\"submit\">{button}</button><div id=\"error\" role=\"alert\">{}</div></form>\
<p class=\"muted\">Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined.</p>",
        esc(&headline),
        esc(email_value),
        esc(error.unwrap_or_default())
    );
    shell(&format!("Checkout: {headline}"), &body)
}

/// The page for a session that can no longer be paid (completed or expired).
pub fn session_closed(cs: &Value) -> String {
    let status = cs["status"].as_str().unwrap_or_default();
    let (title, text) = if status == "complete" {
        ("Already paid", "This Checkout Session has already been paid. Nothing more to do here.")
    } else {
        ("Session expired", "This Checkout Session has expired. Go back to the site and start again.")
    };
    let link = match (status, cs["success_url"].as_str(), cs["cancel_url"].as_str()) {
        ("complete", Some(u), _) => format!(
            "<p><a id=\"return\" href=\"{}\">Return to the site</a></p>",
            esc(&u.replace("{CHECKOUT_SESSION_ID}", cs["id"].as_str().unwrap_or_default()))
        ),
        (_, _, Some(u)) => format!("<p><a id=\"return\" href=\"{}\">Return to the site</a></p>", esc(u)),
        _ => String::new(),
    };
    shell(title, &format!("<h1 id=\"status\" data-status=\"{}\">{title}</h1><p>{text}</p>{link}", esc(status)))
}

/// A simple message page (unknown session, payment complete without success_url).
pub fn message(title: &str, text: &str) -> String {
    shell(title, &format!("<h1 id=\"status\">{}</h1><p>{}</p>", esc(title), esc(text)))
}

/// One subscription as the portal shows it.
#[derive(Debug, Clone)]
pub struct PortalSub {
    /// `sub_…`
    pub id: String,
    /// Product names joined.
    pub name: String,
    /// Status.
    pub status: String,
    /// Price text ("$9.00 / month").
    pub price: String,
    /// Current period end.
    pub period_end: Option<i64>,
    /// When it will cancel (cancel_at), if scheduled.
    pub cancel_at: Option<i64>,
}

/// The Customer Portal page, as the session's configuration allows (`look`): no cancel button when cancelling is
/// off, the business headline and the privacy and terms links when set.
pub fn portal(
    session_id: &str,
    email: Option<&str>,
    subs: &[PortalSub],
    return_url: Option<&str>,
    look: &crate::routes::portal::PortalLook,
) -> String {
    let mut list = String::new();
    for s in subs {
        let active = !matches!(s.status.as_str(), "canceled" | "incomplete_expired");
        let when = match (s.cancel_at, s.period_end) {
            (Some(c), _) if active => format!("Cancels on {}", date_string(c)),
            (_, Some(e)) if active && s.status == "trialing" => {
                format!("Trial ends on {}", date_string(e))
            }
            (_, Some(e)) if active => format!("Renews on {}", date_string(e)),
            _ => "Canceled".to_string(),
        };
        let action = if !active {
            String::new()
        } else if s.cancel_at.is_some() {
            format!(
                "<form method=\"post\" action=\"/portal/{session_id}/subscriptions/{id}/renew\"><button id=\"renew-{id}\" type=\"submit\">Renew subscription</button></form>",
                id = esc(&s.id)
            )
        } else if !look.cancel {
            String::new()
        } else {
            format!(
                "<form method=\"post\" action=\"/portal/{session_id}/subscriptions/{id}/cancel\"><button id=\"cancel-{id}\" class=\"secondary\" type=\"submit\">Cancel subscription</button></form>",
                id = esc(&s.id)
            )
        };
        list.push_str(&format!(
            "<div class=\"sub\" id=\"sub-{id}\" data-status=\"{status}\"><strong>{name}</strong><div>{price}</div><div class=\"muted\" id=\"when-{id}\">{when} · {status}</div>{action}</div>",
            id = esc(&s.id),
            status = esc(&s.status),
            name = esc(&s.name),
            price = esc(&s.price),
        ));
    }
    if subs.is_empty() {
        list.push_str("<p class=\"muted\" id=\"no-subscriptions\">No subscriptions.</p>");
    }
    let back =
        return_url.map(|u| format!("<p><a id=\"return\" href=\"{}\">← Return</a></p>", esc(u))).unwrap_or_default();
    let headline = look.headline.as_deref().map(|h| format!("<p id=\"headline\">{}</p>", esc(h))).unwrap_or_default();
    let links: Vec<String> =
        [("terms", "Terms", &look.terms_of_service_url), ("privacy", "Privacy", &look.privacy_policy_url)]
            .into_iter()
            .filter_map(|(id, label, url)| {
                url.as_deref().map(|u| format!("<a id=\"{id}\" href=\"{}\">{label}</a>", esc(u)))
            })
            .collect();
    let footer = if links.is_empty() {
        String::new()
    } else {
        format!("<p class=\"muted\" id=\"policies\">{}</p>", links.join(" · "))
    };
    let body = format!(
        "{back}<p><span class=\"test\">TEST MODE</span></p>{headline}<h1>Manage your billing</h1><p class=\"muted\" id=\"customer-email\">{}</p><h2>Subscriptions</h2>{list}{footer}",
        esc(email.unwrap_or_default())
    );
    shell("Customer portal", &body)
}

/// The Connect OAuth authorize page: approve (connect a new account, or reconnect `#account`) or deny.
pub fn oauth_authorize(platform: &str, hidden: &[(&str, String)], email: Option<&str>) -> String {
    let fields: String = hidden
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    let body = format!(
        "<p><span class=\"test\">TEST MODE</span></p><h1>Connect your Stripe account</h1>\
<p class=\"muted\">{} wants to connect to your Stripe account to create products and prices, start Checkout and \
Customer Portal sessions, and receive webhooks for your payments.</p>\
<form id=\"oauth-form\" method=\"post\" action=\"/oauth/authorize\">{fields}\
<label for=\"email\">Account email</label><input id=\"email\" name=\"email\" type=\"email\" value=\"{}\">\
<label for=\"account\">Existing account id (leave empty to create a new test account)</label>\
<input id=\"account\" name=\"account\" placeholder=\"acct_...\">\
<button id=\"approve\" name=\"decision\" value=\"approve\" type=\"submit\">Connect my Stripe account</button>\
<button id=\"deny\" class=\"secondary\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></form>",
        esc(platform),
        esc(email.unwrap_or_default())
    );
    shell("Connect with Stripe", &body)
}
