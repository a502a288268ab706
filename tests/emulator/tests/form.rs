//! Stripe's form encoding: bracket nesting, arrays, metadata, and errors.

use latch_stripe_emulator::form::parse;
use latch_stripe_emulator::params::Params;
use serde_json::json;

#[test]
fn nested_hashes_and_arrays() {
    let v = parse(
        "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=2&line_items[1][price]=price_2\
         &metadata[site]=s1&subscription_data[trial_period_days]=7&subscription_data[metadata][k]=v\
         &expand[]=subscription&expand[]=line_items&lookup_keys[0]=a&lookup_keys[1]=b",
    )
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(v),
        json!({
            "mode": "subscription",
            "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
            "metadata": {"site": "s1"},
            "subscription_data": {"trial_period_days": "7", "metadata": {"k": "v"}},
            "expand": ["subscription", "line_items"],
            "lookup_keys": ["a", "b"],
        })
    );
}

#[test]
fn percent_encoding_plus_and_brackets_encoded() {
    let v = parse(
        "name=Pro+plan%21&metadata%5Bkey%5D=a%26b&success_url=https%3A%2F%2Fx.test%2F%3Fs%3D%7BCHECKOUT_SESSION_ID%7D",
    )
    .unwrap();
    assert_eq!(v["name"], "Pro plan!");
    assert_eq!(v["metadata"]["key"], "a&b");
    assert_eq!(v["success_url"], "https://x.test/?s={CHECKOUT_SESSION_ID}");
}

#[test]
fn numeric_metadata_keys_stay_a_hash() {
    let v = parse("metadata[0]=zero&metadata[1]=one").unwrap();
    assert_eq!(v["metadata"], json!({"0": "zero", "1": "one"}));
}

#[test]
fn array_indices_sort_numerically() {
    let v = parse("items[10]=k&items[2]=c&items[0]=a").unwrap();
    assert_eq!(v["items"], json!(["a", "c", "k"]));
}

#[test]
fn empty_values_and_clearing() {
    let v = parse("metadata=&description=&expand[]=").unwrap();
    assert_eq!(v["metadata"], "");
    assert_eq!(v["description"], "");
    assert_eq!(v["expand"], json!([]));
}

#[test]
fn push_arrays_of_hashes() {
    let v = parse("line_items[][price]=p1&line_items[][quantity]=1&line_items[][price]=p2").unwrap();
    assert_eq!(v["line_items"], json!([{"price": "p1", "quantity": "1"}, {"price": "p2"}]));
}

#[test]
fn conflicting_and_malformed_keys_are_errors_not_panics() {
    assert!(parse("a=1&a[b]=2").is_err());
    assert!(parse("a[b=1").is_err());
    assert!(parse("[x]=1").is_err());
    assert!(parse("a[]=1&a[x]=2").is_err());
    // Garbage never panics.
    for s in ["%", "%zz=1", "=", "&&&", "a[][][]=1", "a[0][]=1&a[0][x]=2", "a]=1", "a[b]]=1"] {
        let _ = parse(s);
    }
}

#[test]
fn params_typing_and_errors_name_the_parameter() {
    let p = Params::new(parse("unit_amount=abc&recurring[interval]=month&active=maybe&n=5").unwrap());
    let e = p.int("unit_amount").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("unit_amount"));
    assert_eq!(e.code, Some("parameter_invalid_integer"));
    assert_eq!(e.message, "Invalid integer: abc");
    let r = p.sub("recurring").unwrap().unwrap();
    assert_eq!(r.name("interval_count"), "recurring[interval_count]");
    assert_eq!(r.req_str("interval").unwrap(), "month");
    assert_eq!(r.req_str("nope").unwrap_err().message, "Missing required param: recurring[nope].");
    assert!(p.bool("active").is_err());
    assert_eq!(p.int("n").unwrap(), Some(5));
    let unknown = p.allow(&["unit_amount", "recurring", "n"]).unwrap_err();
    assert_eq!(unknown.code, Some("parameter_unknown"));
    assert_eq!(unknown.message, "Received unknown parameter: active");
}

#[test]
fn metadata_update_semantics() {
    let mut obj = json!({"metadata": {"a": "1", "b": "2"}});
    let p = Params::new(parse("metadata[a]=&metadata[c]=3").unwrap());
    let old = p.apply_metadata(&mut obj).unwrap();
    assert_eq!(old, Some(json!({"a": "1", "b": "2"})));
    assert_eq!(obj["metadata"], json!({"b": "2", "c": "3"}));
    let clear = Params::new(parse("metadata=").unwrap());
    clear.apply_metadata(&mut obj).unwrap();
    assert_eq!(obj["metadata"], json!({}));
}
