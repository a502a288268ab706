//! Stripe's currencies: the ones it accepts, how many minor units they count, and the smallest amount a
//! payment may charge in each.

use crate::error::{ApiError, ApiResult};

/// The three-letter codes Stripe accepts for prices and payments (lowercase, Stripe's list).
const SUPPORTED: &[&str] = &[
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt", "bgn", "bhd",
    "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf", "clp", "cny", "cop", "crc",
    "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf",
    "gtq", "gyd", "hkd", "hnl", "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr",
    "kmf", "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt",
    "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "omr", "pab", "pen",
    "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp",
    "sle", "sos", "srd", "std", "szl", "thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu",
    "uzs", "vnd", "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// Currencies counted in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] =
    &["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// Currencies counted in thousandths.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Stripe's published minimum charge per settlement currency, in minor units.
const MINIMUMS: &[(&str, i64)] = &[
    ("usd", 50),
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
];

/// `raw` lowercased if Stripe accepts it, else Stripe's `invalid currency` error naming `param`.
pub fn check(raw: &str, param: &str) -> ApiResult<String> {
    let currency = raw.to_ascii_lowercase();
    if SUPPORTED.contains(&currency.as_str()) {
        return Ok(currency);
    }
    Err(ApiError::bad(
        format!("Invalid currency: {raw}. Stripe currently supports these currencies: {}", SUPPORTED.join(", ")),
        Some(param),
    ))
}

/// The smallest amount (minor units) a payment in `currency` may charge, where Stripe publishes one.
pub fn minimum(currency: &str) -> Option<i64> {
    MINIMUMS.iter().find(|(c, _)| *c == currency).map(|(_, m)| *m)
}

/// An amount in minor units written as Stripe writes it in messages: `$0.50 usd`, `¥50 jpy`, `0.30 gbp`.
pub fn display(amount: i64, currency: &str) -> String {
    let digits = if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    };
    let symbol = match currency {
        "usd" | "aud" | "cad" | "nzd" | "sgd" | "hkd" | "mxn" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        _ => "",
    };
    let number = if digits == 0 {
        amount.to_string()
    } else {
        let scale = 10_i64.pow(digits);
        format!("{}.{:0width$}", amount / scale, amount % scale, width = digits as usize)
    };
    format!("{symbol}{number} {currency}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_checked_against_stripes_list() {
        assert_eq!(check("USD", "currency").unwrap(), "usd");
        let e = check("xyz", "currency").unwrap_err();
        assert!(e.message.starts_with("Invalid currency: xyz."), "{}", e.message);
        assert_eq!(e.param.as_deref(), Some("currency"));
    }

    #[test]
    fn minimums_read_like_stripes_messages() {
        assert_eq!(minimum("usd"), Some(50));
        assert_eq!(minimum("xof"), None);
        assert_eq!(display(50, "usd"), "$0.50 usd");
        assert_eq!(display(50, "jpy"), "¥50 jpy");
        assert_eq!(display(1500, "czk"), "15.00 czk");
    }
}
