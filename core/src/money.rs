//! Amounts as owners type and read them: `9.99` in a form becomes 999 minor units for Stripe, and back.
//! Zero-decimal currencies (JPY, KRW, ...) have no minor unit.
//!
//! The dashboard shows money with [`format`], written to read like the widget's, which formats with the browser's
//! `Intl.NumberFormat` (en-US): `$9.99`, `€5.00`, `¥1,200`, `CHF 12.50`.

/// Stripe's zero-decimal currencies.
const ZERO_DECIMAL: [&str; 16] =
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// Stripe's three-decimal currencies: amounts in thousandths.
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// Largest amount accepted (Stripe's limit is 99,999,999 minor units for most currencies).
const MAX_MINOR: u64 = 99_999_999;

/// Whether `currency` (lowercase ISO code) has no minor unit.
pub fn zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// Digits after the decimal point in `currency` (lowercase): 0 for zero-decimal currencies, 3 for three-decimal
/// ones, else 2. An amount in minor units divided by 10 to this power is what `Intl.NumberFormat` formats.
pub fn minor_digits(currency: &str) -> u32 {
    if zero_decimal(currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

/// A typed amount (`9`, `9.9`, `9.99`; `1000` for JPY) in minor units; refuses zero, negatives, too many
/// decimals and anything that is not a number.
pub fn parse_amount(typed: &str, currency: &str) -> Result<u64, String> {
    let typed = typed.trim();
    let decimals = minor_digits(currency) as usize;
    let (whole, frac) = typed.split_once('.').unwrap_or((typed, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (typed.contains('.') && !digits(frac)) || frac.len() > decimals {
        return Err(if decimals == 0 {
            format!("Type a whole amount, e.g. 1000 ({} has no decimals).", currency.to_ascii_uppercase())
        } else {
            "Type an amount such as 9 or 9.99.".to_owned()
        });
    }
    let whole: u64 = whole.parse().map_err(|_| "That amount is too large.".to_owned())?;
    let frac: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<decimals$}").parse().unwrap_or(0) };
    let minor = whole.checked_mul(10u64.pow(decimals as u32)).and_then(|w| w.checked_add(frac));
    match minor {
        Some(0) => Err("The amount must be more than zero.".to_owned()),
        Some(m) if m <= MAX_MINOR => Ok(m),
        _ => Err("That amount is too large.".to_owned()),
    }
}

/// The symbols `Intl.NumberFormat("en-US", {style: "currency"})` writes; other currencies show their code.
const SYMBOLS: [(&str, &str); 14] = [
    ("usd", "$"),
    ("eur", "€"),
    ("gbp", "£"),
    ("jpy", "¥"),
    ("inr", "₹"),
    ("cad", "CA$"),
    ("aud", "A$"),
    ("nzd", "NZ$"),
    ("krw", "₩"),
    ("cny", "CN¥"),
    ("hkd", "HK$"),
    ("mxn", "MX$"),
    ("brl", "R$"),
    ("ils", "₪"),
];

/// Minor units as people read them, like the widget's `Intl.NumberFormat` in English: `$9.99`, `€1,234.00`,
/// `¥1,200`, `-$0.05`, and the code before the number for other currencies (`CHF 12.50`, with a no-break space).
pub fn format(amount: i64, currency: &str) -> String {
    let code = currency.to_ascii_lowercase();
    let abs = amount.unsigned_abs();
    let digits = minor_digits(&code);
    let unit = 10u64.pow(digits);
    let (whole, cents) = if digits == 0 { (abs, None) } else { (abs / unit, Some(abs % unit)) };
    let whole = whole.to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(cents) = cents {
        grouped = format!("{grouped}.{cents:0width$}", width = digits as usize);
    }
    let sign = if amount < 0 { "-" } else { "" };
    match SYMBOLS.iter().find(|(c, _)| *c == code) {
        Some((_, symbol)) => format!("{sign}{symbol}{grouped}"),
        None => format!("{sign}{}\u{a0}{grouped}", code.to_ascii_uppercase()),
    }
}

/// A recurring price as stored: amount, currency and billing interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringPrice<'a> {
    /// Stripe price id.
    pub id: &'a str,
    /// Minor units per interval.
    pub unit_amount: i64,
    /// Lowercase currency code.
    pub currency: &'a str,
    /// `day`, `week`, `month` or `year`.
    pub interval: &'a str,
}

/// Monthly recurring revenue by currency (minor units, before discounts and taxes) of paying subscriptions:
/// every item on one of `prices`, times its quantity, brought to a month (a year is 12 months, a week 52/12).
/// Subscriptions listed twice (once per price) count once; trials and unpaid ones do not count.
pub fn monthly_recurring(
    subscriptions: &[crate::event::Subscription],
    prices: &[RecurringPrice<'_>],
) -> std::collections::BTreeMap<String, i64> {
    use crate::event::SubscriptionStatus;
    let mut yearly: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for sub in subscriptions.iter().filter(|s| s.status == SubscriptionStatus::Active) {
        if !seen.insert(sub.id.as_str()) {
            continue;
        }
        for item in &sub.items.data {
            let Some(price) =
                item.price.as_ref().and_then(|p| p.id.as_deref()).and_then(|id| prices.iter().find(|p| p.id == id))
            else {
                continue;
            };
            let per_year = match price.interval {
                "day" => 365,
                "week" => 52,
                "month" => 12,
                "year" => 1,
                _ => continue,
            };
            let quantity = i64::try_from(item.quantity.unwrap_or(1)).unwrap_or(i64::MAX);
            let amount = price.unit_amount.saturating_mul(quantity).saturating_mul(per_year);
            let total = yearly.entry(price.currency.to_owned()).or_default();
            *total = total.saturating_add(amount);
        }
    }
    yearly.into_iter().map(|(currency, y)| (currency, y / 12)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, status: &str, items: &[(&str, u64)]) -> crate::event::Subscription {
        let items: Vec<serde_json::Value> =
            items.iter().map(|(p, q)| serde_json::json!({ "price": { "id": p }, "quantity": q })).collect();
        serde_json::from_value(serde_json::json!({ "id": id, "status": status, "items": { "data": items } }))
            .expect("a subscription")
    }

    #[test]
    fn recurring_revenue_is_monthly_per_currency() {
        let prices = [
            RecurringPrice { id: "p_month", unit_amount: 900, currency: "usd", interval: "month" },
            RecurringPrice { id: "p_year", unit_amount: 12_000, currency: "usd", interval: "year" },
            RecurringPrice { id: "p_eur", unit_amount: 500, currency: "eur", interval: "month" },
        ];
        let subs = [
            sub("sub_1", "active", &[("p_month", 1)]),
            sub("sub_1", "active", &[("p_month", 1)]),
            sub("sub_2", "active", &[("p_year", 2), ("p_other", 1)]),
            sub("sub_3", "trialing", &[("p_month", 1)]),
            sub("sub_4", "past_due", &[("p_month", 1)]),
            sub("sub_5", "active", &[("p_eur", 3)]),
        ];
        let mrr = monthly_recurring(&subs, &prices);
        assert_eq!(mrr.get("usd"), Some(&(900 + 2000)), "{mrr:?}");
        assert_eq!(mrr.get("eur"), Some(&1500));
        assert_eq!(mrr.len(), 2);
    }

    #[test]
    fn typed_amounts_become_minor_units() {
        assert_eq!(parse_amount("9", "usd"), Ok(900));
        assert_eq!(parse_amount("9.9", "usd"), Ok(990));
        assert_eq!(parse_amount(" 9.99 ", "eur"), Ok(999));
        assert_eq!(parse_amount("0.50", "usd"), Ok(50));
        assert_eq!(parse_amount("1000", "jpy"), Ok(1000));
        assert_eq!(parse_amount("999999.99", "usd"), Ok(99_999_999));
        for bad in ["", "0", "0.00", "-1", "9.999", "9.", ".5", "1e3", "9,99", "abc", "1000000", "99999999999999999999"]
        {
            assert!(parse_amount(bad, "usd").is_err(), "{bad:?}");
        }
        assert!(parse_amount("10.5", "jpy").is_err());
    }

    #[test]
    fn minor_units_read_back() {
        assert_eq!(format(999, "usd"), "$9.99");
        assert_eq!(format(900, "eur"), "€9.00");
        assert_eq!(format(-5, "usd"), "-$0.05");
        assert_eq!(format(1000, "jpy"), "¥1,000");
        assert_eq!(format(123_456_789, "USD"), "$1,234,567.89");
        assert_eq!(format(1250, "chf"), "CHF\u{a0}12.50");
        assert_eq!(format(parse_amount("12.34", "gbp").map(|a| a as i64).unwrap_or(0), "gbp"), "£12.34");
        assert_eq!((minor_digits("usd"), minor_digits("jpy"), minor_digits("kwd")), (2, 0, 3));
        assert_eq!(format(1500, "kwd"), "KWD\u{a0}1.500");
        assert_eq!(parse_amount("1.5", "kwd"), Ok(1500));
        assert_eq!(parse_amount("1.505", "kwd"), Ok(1505));
    }
}
