//! Settings > Products: the site's products and prices, creating a product with its first price, adding a price,
//! linking an existing Stripe product (picked from the account's products), the import of its subscribers, and how
//! each product is sold. Every change goes through `manage::products`, the operations behind the JSON API too.

use latch_core::catalog::{self, PriceError};
use latch_core::engine::{MAX_GRACE_DAYS, OneTimeAccess, ProductPolicy};
use latch_core::money;
use maud::{Markup, html};
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::form::Form;
use crate::dashboard::html::{self, Nav, csrf_field, field, field_named};
use crate::dashboard::{SitePage, form};
use crate::error::{ApiError, ApiResult};
use crate::http::edge_origin;
use crate::imports;
use crate::manage::products::{self as api, LinkBody, NewProduct, NewProductPrice, ProductSettings};
use crate::store;

/// A form that failed, shown again with its error next to the field (or at the top when `field` is `None`).
struct Failed<'a> {
    /// Which form: `create`, `link`, `price:{slug}`, `settings:{slug}`.
    form: String,
    /// The field in error.
    field: Option<&'static str>,
    /// The message.
    message: String,
    /// What was typed.
    posted: Option<&'a Form>,
}

/// `GET /dashboard/sites/{site}/products`.
pub(crate) async fn show(ctx: &Ctx, page: &SitePage) -> ApiResult<Response> {
    show_with(ctx, page, 200, None).await
}

fn interval_select(id: &str, selected: &str) -> Markup {
    html! {
        select id=(id) name="interval" {
            option value="" selected[selected.is_empty()] { "One-time payment" }
            option value="month" selected[selected == "month"] { "Monthly" }
            option value="year" selected[selected == "year"] { "Yearly" }
        }
    }
}

/// The price fields shared by "create product" and "add price"; `prefix` keeps ids unique on the page.
fn price_fields(prefix: &str, failed: Option<&Failed<'_>>, this_form: &str) -> Markup {
    let mine = failed.filter(|f| f.form == this_form);
    let value = |name: &str, default: &str| -> String {
        mine.and_then(|f| f.posted).map_or_else(|| default.to_owned(), |p| p.get(name).to_owned())
    };
    let error = |name: &str| mine.filter(|f| f.field == Some(name)).map(|f| f.message.as_str());
    let id = |name: &str| format!("{prefix}-{name}");
    html! {
        (field_named("Price", &id("amount"), "amount", "text", &value("amount", ""), Some("In the currency's main unit, e.g. 9.99"), error("amount")))
        (field_named("Currency", &id("currency"), "currency", "text", &value("currency", "usd"), None, error("currency")))
        div.field {
            label for=(id("interval")) { "Billing" }
            (interval_select(&id("interval"), &value("interval", "month")))
        }
        (field_named("Trial days", &id("trial_days"), "trial_days", "number", &value("trial_days", "0"), Some("Monthly and yearly prices only"), error("trial_days")))
    }
}

fn interval_label(price: &store::Price) -> String {
    match price.interval.as_deref() {
        Some("month") => "per month".into(),
        Some("year") => "per year".into(),
        Some(other) => format!("per {other}"),
        None => "one-time".into(),
    }
}

async fn show_with(ctx: &Ctx, page: &SitePage, status: u16, failed: Option<Failed<'_>>) -> ApiResult<Response> {
    let site = &page.site;
    let products = store::products(&ctx.db, &site.id).await?;
    let prices = store::all_prices(&ctx.db, &site.id).await?;
    let jobs = imports::list(ctx, &site.id).await?;
    let connected = page.db_site.stripe().is_ok();
    // The account's products not linked yet, to pick one; a Stripe hiccup only hides the picker.
    let linkable = if connected {
        match api::stripe_products(ctx, &page.db_site).await {
            Ok(list) => Ok(list.into_iter().filter(|p| !products.iter().any(|l| l.stripe_product == p.id)).collect()),
            Err(e) => Err(e.message),
        }
    } else {
        Ok(Vec::new())
    };
    let base = html::site_path(&site.id, Nav::Products);
    let csrf = page.session.csrf.as_str();
    let failed = failed.as_ref();
    let top_error = failed.filter(|f| f.field.is_none()).map(|f| f.message.as_str());
    let create_error =
        |name: &str| failed.filter(|f| f.form == "create" && f.field == Some(name)).map(|f| f.message.as_str());
    let create_value = |name: &str| {
        failed.filter(|f| f.form == "create").and_then(|f| f.posted).map_or("", |p| p.get(name)).to_owned()
    };
    let body = html! {
        @if let Some(error) = top_error { p.error role="alert" #products-error { (error) } }
        @if !connected {
            p.warning #connect-first {
                "Products and prices live in your Stripe account: "
                a href=(html::site_path(&site.id, Nav::Payments)) { "connect Stripe on Payments" }
                " first, then create or link them here."
            }
        }
        @if connected || !products.is_empty() {
            section aria-labelledby="list-heading" {
                h2 #list-heading { "Your products" }
                @if products.is_empty() && connected {
                    p #no-products {
                        "No products yet: " a href="#create-heading" { "create one" } ", or "
                        a href="#link-heading" { "link a product you already sell in Stripe" } "."
                    }
                }
                @for product in &products {
                    article.product id={ "product-" (product.slug) } aria-labelledby={ "name-" (product.slug) } {
                        h3 id={ "name-" (product.slug) } { (product.name) " " code { (product.slug) } }
                        p.hint { "Stripe product " code { (product.stripe_product) }
                            @if product.active == 0 { " (archived in Stripe)" } }
                        table {
                            caption.visually-hidden { "Prices of " (product.name) }
                            thead { tr { th scope="col" { "Price" } th scope="col" { "Billing" } th scope="col" { "Trial" }
                                        th scope="col" { "Lookup key" } th scope="col" { "Stripe id" } th scope="col" { "State" } } }
                            tbody {
                                @for price in prices.iter().filter(|p| p.product_slug == product.slug) {
                                    tr {
                                        td { (money::format(price.unit_amount, &price.currency)) }
                                        td { (interval_label(price)) }
                                        td { @if price.trial_days > 0 { (price.trial_days) " days" } @else { "—" } }
                                        td { (price.lookup_key.as_deref().unwrap_or("—")) }
                                        td { code { (price.id) } }
                                        td { @if price.active != 0 { "Active" } @else { "Archived" } }
                                    }
                                }
                            }
                        }
                        @let settings_form = format!("settings:{}", product.slug);
                        @let settings_failed = failed.filter(|f| f.form == settings_form);
                        form.inline method="post" action={ (base) "/" (product.slug) "/settings" } {
                            (csrf_field(csrf))
                            fieldset {
                                legend { "How " (product.name) " is sold" }
                                div.check {
                                    input type="checkbox" id={ "checkout-" (product.slug) } name="checkout_enabled" value="yes"
                                        checked[product.checkout_enabled != 0];
                                    label for={ "checkout-" (product.slug) } { "Checkout open" }
                                }
                                div.check {
                                    input type="checkbox" id={ "locked-card-" (product.slug) } name="show_locked_card" value="yes"
                                        aria-describedby={ "locked-card-" (product.slug) "-hint" }
                                        checked[product.show_locked_card != 0];
                                    label for={ "locked-card-" (product.slug) } { "Show the locked card" }
                                    p.hint id={ "locked-card-" (product.slug) "-hint" } {
                                        "Visitors who are not members see a card with a buy button over your "
                                        code { "data-latch-locked" } " content. Off: that content is simply hidden from them."
                                    }
                                }
                                div.check {
                                    input type="checkbox" id={ "billing-address-" (product.slug) } name="billing_address_required"
                                        value="yes" aria-describedby={ "billing-address-" (product.slug) "-hint" }
                                        checked[product.billing_address_required != 0];
                                    label for={ "billing-address-" (product.slug) } { "Ask for a billing address" }
                                    p.hint id={ "billing-address-" (product.slug) "-hint" } {
                                        "Stripe Checkout asks buyers for their full billing address (for invoices or tax). "
                                        "Off: Stripe asks only for what the payment method needs."
                                    }
                                }
                                div.field {
                                    label for={ "method-" (product.slug) } { "Buy buttons go to" }
                                    select id={ "method-" (product.slug) } name="purchase_method" {
                                        option value="stripe_checkout" selected[product.purchase_method == "stripe_checkout"] { "Stripe Checkout" }
                                        option value="sales_page" selected[product.purchase_method == "sales_page"] { "My sales page" }
                                        option value="external" selected[product.purchase_method == "external"] { "An external shop" }
                                    }
                                }
                                @let error_on = |field: &str| settings_failed.filter(|f| f.field == Some(field)).map(|f| f.message.as_str());
                                (field_named("Sales page or shop URL", &format!("url-{}", product.slug), "purchase_url", "url",
                                    product.purchase_url.as_deref().unwrap_or(""), Some("Needed for a sales page or an external shop"),
                                    error_on("purchase_url")))
                                @let (access_days, grace_days) = policy_values(product);
                                @let typed = |name: &str, saved: String| settings_failed.and_then(|f| f.posted)
                                    .map_or(saved, |posted| posted.get(name).to_owned());
                                (field_named("Days of access from a one-time payment", &format!("access-days-{}", product.slug),
                                    "access_days", "number", &typed("access_days", access_days), Some("Empty: for good"),
                                    error_on("access_days")))
                                (field_named("Days of access after a failed renewal", &format!("grace-days-{}", product.slug),
                                    "grace_days", "number", &typed("grace_days", grace_days),
                                    Some("While Stripe retries the card, counted from the end of the last paid period (0 to 60)"),
                                    error_on("grace_days")))
                                button type="submit" { "Save" }
                            }
                        }
                        @if connected {
                            @let price_form = format!("price:{}", product.slug);
                            form.inline method="post" action={ (base) "/" (product.slug) "/prices" } {
                                (csrf_field(csrf))
                                fieldset {
                                    legend { "Add a price to " (product.name) }
                                    (price_fields(&format!("add-{}", product.slug), failed, &price_form))
                                    button type="submit" { "Add price" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if connected {
            section aria-labelledby="create-heading" {
                h2 #create-heading { "Create a product" }
                form method="post" action=(base) {
                    (csrf_field(csrf))
                    (field("Name", "name", "text", &create_value("name"), None, create_error("name")))
                    (field("Slug", "slug", "text", &create_value("slug"),
                        Some("Used in your pages' data-latch attributes: lowercase letters, digits, - and _. \
                              Left empty, it is made from the name."), create_error("slug")))
                    (price_fields("create", failed, "create"))
                    button type="submit" #create-product { "Create product" }
                }
            }
            section aria-labelledby="link-heading" {
                h2 #link-heading { "Link a product you already sell in Stripe" }
                p { "Latch copies its prices and gives access to its current subscribers." }
                @match &linkable {
                    Err(message) => p.error { "Stripe's products could not be listed: " (message) }
                    Ok(list) if list.is_empty() => p { "Every product of your Stripe account is linked already." }
                    Ok(list) => {
                        @let link_error = |name: &str| failed.filter(|f| f.form == "link" && f.field == Some(name)).map(|f| f.message.as_str());
                        form method="post" action={ (base) "/link" } {
                            (csrf_field(csrf))
                            div.field {
                                label for="stripe_product" { "Stripe product" }
                                @if let Some(e) = link_error("stripe_product") { p.error #stripe_product-error { (e) } }
                                select #stripe_product name="stripe_product"
                                    aria-describedby=[link_error("stripe_product").map(|_| "stripe_product-error")] {
                                    @for p in list { option value=(p.id) { (p.name) " (" (p.id) ")" } }
                                }
                            }
                            (field_named("Slug", "link-slug", "slug", "text", "", Some("How your pages will name it"), link_error("slug")))
                            button type="submit" #link-product { "Link product" }
                        }
                    }
                }
            }
        }
        @if connected || !jobs.is_empty() {
            section aria-labelledby="imports-heading" {
                h2 #imports-heading { "Imports of existing subscribers" }
                @if jobs.is_empty() { p { "No imports yet." } } @else {
                    table #imports {
                        thead { tr { th scope="col" { "Product" } th scope="col" { "Imported" } th scope="col" { "Skipped" }
                                    th scope="col" { "State" } th scope="col" { "Updated" } } }
                        tbody {
                            @for job in &jobs {
                                tr data-import=(job.id) data-done=(job.done) {
                                    td { (job.product) }
                                    td.imported { (job.imported) }
                                    td { (job.skipped) }
                                    td {
                                        @if job.done != 0 { "Done" }
                                        @else if let Some(error) = &job.error {
                                            "Stopped: " (error)
                                            form.inline method="post" action={ (html::site_path(&site.id, Nav::Overview)) "/imports/" (job.id) "/resume" } {
                                                (csrf_field(csrf))
                                                button type="submit" { "Resume" }
                                            }
                                        } @else { "Importing… reload to see progress" }
                                    }
                                    td { (html::time(job.updated_at)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.render(ctx, status, Nav::Products, "Products", &body)
}

/// Reads the price fields of a form, naming the field in error.
/// The rules are `latch_core::catalog::new_price`'s, the owner API's too; the form's amount field is `amount`.
fn read_price(form: &Form) -> Result<NewProductPrice, (&'static str, String)> {
    let named = |e: PriceError| (if e == PriceError::Amount { "amount" } else { e.field() }, e.to_string());
    let currency = catalog::currency(form.get("currency")).map_err(named)?;
    let unit_amount = money::parse_amount(form.get("amount"), &currency).map_err(|e| ("amount", e))?;
    let trial = form.get("trial_days");
    let trial_days: u32 = if trial.is_empty() {
        0
    } else {
        trial.parse().map_err(|_| ("trial_days", "Type a number of days.".to_owned()))?
    };
    let checked =
        catalog::new_price(unit_amount, &currency, Some(form.get("interval")), trial_days, None).map_err(named)?;
    Ok(NewProductPrice {
        unit_amount: checked.unit_amount,
        currency: checked.currency,
        interval: checked.interval.map(str::to_owned),
        lookup_key: None,
        trial_days: checked.trial_days,
    })
}

fn failed<'a>(form: &str, field: Option<&'static str>, message: String, posted: &'a Form) -> Option<Failed<'a>> {
    Some(Failed { form: form.to_owned(), field, message, posted: Some(posted) })
}

/// An error from the shared functions, tied to a field when its code says which.
fn api_failed<'a>(form: &str, e: &ApiError, slug_field: bool, posted: &'a Form) -> Option<Failed<'a>> {
    let field = (slug_field && e.message.contains("slug")).then_some("slug");
    failed(form, field, e.message.clone(), posted)
}

/// `POST …/products` `name, slug, amount, currency, interval, trial_days`.
pub(crate) async fn create(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let name = form.get("name").trim();
    if name.is_empty() || name.len() > 200 {
        return show_with(ctx, page, 400, failed("create", Some("name"), "Give the product a name.".into(), &form))
            .await;
    }
    // Left empty, the slug is made from the name.
    let typed = form.get("slug").trim();
    let slug =
        if typed.is_empty() { latch_core::validate::slug_from(name).unwrap_or_default() } else { typed.to_owned() };
    if let Err(e) = latch_core::validate::slug(&slug) {
        let message = if typed.is_empty() {
            "Type a slug: the name has no letters or digits to make one from.".to_owned()
        } else {
            e.to_string()
        };
        return show_with(ctx, page, 400, failed("create", Some("slug"), message, &form)).await;
    }
    let price = match read_price(&form) {
        Ok(price) => price,
        Err((field, message)) => return show_with(ctx, page, 400, failed("create", Some(field), message, &form)).await,
    };
    let body = NewProduct { slug, name: name.to_owned(), prices: vec![price] };
    match api::create_product(ctx, &page.db_site, &body).await {
        Ok(_) => page.done(ctx, Nav::Products, "product_created"),
        Err(e) => show_with(ctx, page, e.status, api_failed("create", &e, true, &form)).await,
    }
}

/// `POST …/products/{slug}/prices` `amount, currency, interval, trial_days`.
pub(crate) async fn add_price(ctx: &Ctx, req: &mut Request, page: &SitePage, slug: &str) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let which = format!("price:{slug}");
    let price = match read_price(&form) {
        Ok(price) => price,
        Err((field, message)) => return show_with(ctx, page, 400, failed(&which, Some(field), message, &form)).await,
    };
    match api::add_price_to(ctx, &page.db_site, slug, &price).await {
        Ok(_) => page.done(ctx, Nav::Products, "price_added"),
        Err(e) => show_with(ctx, page, e.status, api_failed(&which, &e, false, &form)).await,
    }
}

/// The access-policy fields as shown: one-time days (empty for good) and past-due grace days.
fn policy_values(product: &store::Product) -> (String, String) {
    let overrides = catalog::policy_overrides(&product.policy);
    let policy = ProductPolicy::with_overrides(&product.slug, &product.stripe_product, &overrides)
        .unwrap_or_else(|_| ProductPolicy::new(&product.slug, &product.stripe_product));
    let days = match policy.one_time {
        OneTimeAccess::Lifetime => String::new(),
        OneTimeAccess::Days(days) => days.to_string(),
    };
    (days, policy.past_due_grace_days.to_string())
}

/// The access-policy change a settings form asks for, or the field in error and why. A value equal to the default
/// (an empty field included) is no override, so the product follows the defaults.
fn read_policy(form: &Form) -> Result<serde_json::Map<String, serde_json::Value>, (&'static str, String)> {
    let defaults = ProductPolicy::new("", "");
    let whole_days = |field: &'static str, text: &str| {
        text.trim().parse::<u32>().map_err(|_| (field, "Enter a whole number of days.".to_owned()))
    };
    let one_time = match form.get("access_days").trim() {
        "" => serde_json::Value::Null,
        days => serde_json::json!({ "days": whole_days("access_days", days)? }),
    };
    let grace = match form.get("grace_days").trim() {
        "" => serde_json::Value::Null,
        days => Some(whole_days("grace_days", days)?)
            .filter(|days| *days != defaults.past_due_grace_days)
            .map_or(serde_json::Value::Null, Into::into),
    };
    let mut policy = serde_json::Map::new();
    policy.insert("one_time".to_owned(), one_time);
    policy.insert("past_due_grace_days".to_owned(), grace);
    Ok(policy)
}

/// `POST …/products/{slug}/settings` `checkout_enabled, show_locked_card, billing_address_required,
/// purchase_method, purchase_url, access_days, grace_days`.
pub(crate) async fn settings(ctx: &Ctx, req: &mut Request, page: &SitePage, slug: &str) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let which = format!("settings:{slug}");
    let policy = match read_policy(&form) {
        Ok(policy) => policy,
        Err((field, message)) => return show_with(ctx, page, 400, failed(&which, Some(field), message, &form)).await,
    };
    let url = Some(form.get("purchase_url")).filter(|u| !u.is_empty()).map(str::to_owned);
    let body = ProductSettings {
        checkout_enabled: Some(form.checked("checkout_enabled")),
        purchase_method: Some(form.get("purchase_method").to_owned()),
        purchase_url: url,
        billing_address_required: Some(form.checked("billing_address_required")),
        show_locked_card: Some(form.checked("show_locked_card")),
        policy: Some(policy),
    };
    match api::update_settings(ctx, &page.db_site, slug, &body).await {
        Ok(_) => page.done(ctx, Nav::Products, "settings_saved"),
        Err(e) if e.status == 400 => {
            let (field, message) = match e.code {
                "invalid_policy" if e.message.contains("past_due_grace_days") => {
                    ("grace_days", format!("Enter at most {MAX_GRACE_DAYS} days."))
                }
                "invalid_policy" => ("access_days", "Enter at least 1 day, or leave it empty for good.".to_owned()),
                _ => ("purchase_url", e.message),
            };
            show_with(ctx, page, 400, failed(&which, Some(field), message, &form)).await
        }
        Err(e) => Err(e),
    }
}

/// `POST …/products/link` `stripe_product, slug`.
pub(crate) async fn link(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let body = LinkBody {
        stripe_product: form.get("stripe_product").to_owned(),
        slug: form.get("slug").to_owned(),
        name: None,
    };
    if let Err(e) = latch_core::validate::slug(&body.slug) {
        return show_with(ctx, page, 400, failed("link", Some("slug"), e.to_string(), &form)).await;
    }
    match api::link_product(ctx, &page.db_site, body, &edge_origin(req)?).await {
        Ok(_) => page.done(ctx, Nav::Products, "product_linked"),
        Err(e) => show_with(ctx, page, e.status, failed("link", None, e.message, &form)).await,
    }
}

/// `POST …/imports/{id}/resume`.
pub(crate) async fn resume(ctx: &Ctx, req: &mut Request, page: &SitePage, id: &str) -> ApiResult<Response> {
    form::read(ctx, req, &page.session.binding).await?;
    let job = imports::get(ctx, &page.site.id, id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    if job.done == 0 {
        imports::schedule(ctx, &edge_origin(req)?, &job.id)?;
    }
    page.done(ctx, Nav::Products, "import_resumed")
}
