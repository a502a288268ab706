//! Latch's Cloudflare Worker: the route table. Handlers parse, call latch-core, and carry out its effects;
//! every error becomes `{"error": {"code", "message"}}` with CORS headers for the site concerned.

mod auth;
mod clock;
mod codes;
mod config;
mod context;
mod dashboard;
mod error;
mod fetches;
mod grants;
mod http;
mod imports;
mod manage;
mod outbox;
mod owners;
mod ratelimit;
mod routes;
mod saved_card;
mod store;
mod stripe;

use worker::{Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent, event};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::routes::{
    access, admin, catalog, checkout, claim, connect, identify, owner, portal, portal_settings, products, signin,
    webhook,
};

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, worker_ctx: Context) -> worker::Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    if req.method() == Method::Options {
        return http::preflight(origin.as_deref());
    }
    let ctx = match Ctx::new(env, origin).await {
        Ok(ctx) => ctx.with_worker(worker_ctx),
        Err(err) => return http::error_response(&err),
    };
    let mut response = match route(&ctx, &mut req).await {
        Ok(response) => response,
        Err(err) => http::error_response(&err)?,
    };
    http::cors_headers(response.headers_mut(), ctx.origin.as_deref(), &ctx.cors_origins.borrow())?;
    // What the request cost in D1 round trips, for the operator only (tests and the bench send its token): to
    // anyone else the count would tell what a request read, for example whether an email is a member's.
    if auth::is_operator(&ctx, &req) {
        response.headers_mut().set("X-Latch-D1-Round-Trips", &ctx.db.round_trips().to_string())?;
    }
    let (fetch, mail) = (ctx.fetch_pending.get(), ctx.mail_pending.get());
    if (fetch || mail)
        && let Some(worker) = &ctx.worker
    {
        let env = ctx.env.clone();
        worker.wait_until(async move {
            // Fetched answers may queue emails too: fetch first, then deliver.
            if fetch && let Err(e) = fetches::run(&env).await {
                worker::console_error!("pending fetches failed: {}", e.message);
            }
            let now = match env.d1("DB") {
                Ok(db) => clock::now(&store::Store::new(db)).await,
                Err(_) => clock::real_now(),
            };
            if let Err(e) = outbox::deliver(&env, now).await {
                worker::console_error!("outbox delivery failed: {e}");
            }
        });
    }
    Ok(response)
}

/// The cron trigger (every minute): performs re-fetches left pending, retries the outbox, prunes old rate-limit
/// windows and sign-in codes, and held emails nobody was linked to within 30 days.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = fetches::run(&env).await {
        worker::console_error!("pending fetches failed: {}", e.message);
    }
    let db = env.d1("DB").map(store::Store::new);
    let now = match &db {
        Ok(db) => clock::now(db).await,
        Err(_) => clock::real_now(),
    };
    if let Err(e) = outbox::deliver(&env, now).await {
        worker::console_error!("outbox delivery failed: {e}");
    }
    if let Ok(db) = db {
        if let Err(e) = ratelimit::prune(&db, now).await {
            worker::console_error!("pruning rate limits and old sign-in codes failed: {e}");
        }
        if let Err(e) = outbox::prune_held(&db, now).await {
            worker::console_error!("pruning old held emails failed: {e}");
        }
    }
}

async fn route(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (Method::Get, ["v1", "health"]) => http::json(200, &serde_json::json!({ "ok": true })),
        (Method::Get, ["v1", "sites", site, "catalog"]) => catalog::get(ctx, site).await,
        (Method::Post, ["v1", "checkout"]) => checkout::post(ctx, req).await,
        (Method::Post, ["v1", "claim"]) => claim::post(ctx, req).await,
        (Method::Get, ["v1", "access"]) => access::get(ctx, req).await,
        (Method::Post, ["v1", "portal"]) => portal::post(ctx, req).await,
        (Method::Post, ["v1", "signin"]) => signin::post(ctx, req).await,
        (Method::Post, ["v1", "signin", "verify"]) => signin::verify(ctx, req).await,
        (Method::Post, ["v1", "token", "refresh"]) => signin::refresh(ctx, req).await,
        (Method::Post, ["v1", "signout"]) => signin::signout(ctx, req).await,
        (Method::Post, ["v1", "identify"]) => identify::post(ctx, req).await,
        (Method::Get, ["dev", "outbox"]) => outbox::dev_get(ctx, req).await,
        #[cfg(feature = "dev")]
        (Method::Post, ["dev", "clock"]) => clock::post(ctx, req).await,
        (Method::Post, ["v1", "webhooks", "stripe"]) => webhook::post(ctx, req).await,
        (Method::Post, ["admin", "v1", "sites"]) => admin::create_site(ctx, req).await,
        (Method::Post, ["owner", "v1", "sites", site, "products"]) => products::create(ctx, req, site).await,
        (Method::Post, ["owner", "v1", "sites", site, "products", "link"]) => products::link(ctx, req, site).await,
        (Method::Post, ["owner", "v1", "sites", site, "products", slug, "prices"]) => {
            products::add_price(ctx, req, site, slug).await
        }
        (Method::Patch, ["owner", "v1", "sites", site, "products", slug]) => {
            products::patch(ctx, req, site, slug).await
        }
        (Method::Get, ["owner", "v1", "sites", site, "portal"]) => portal_settings::get(ctx, req, site).await,
        (Method::Put, ["owner", "v1", "sites", site, "portal"]) => portal_settings::put(ctx, req, site).await,
        (Method::Get, ["owner", "v1", "sites", site, "imports"]) => products::list_imports(ctx, req, site).await,
        (Method::Post, ["owner", "v1", "sites", site, "imports", id, "resume"]) => {
            products::resume_import(ctx, req, site, id).await
        }
        (Method::Post, ["owner", "v1", "sites", site, "connect"]) => connect::start(ctx, req, site).await,
        (Method::Post, ["owner", "v1", "sites", site, "disconnect"]) => connect::disconnect(ctx, req, site).await,
        (Method::Post, ["internal", "v1", "imports", id, "step"]) => imports::step_route(ctx, req, id).await,
        (Method::Get, ["connect", "callback"]) => connect::callback(ctx, req).await,
        (Method::Post, ["owner", "v1", "signin"]) => owner::signin(ctx, req).await,
        (Method::Post, ["owner", "v1", "signin", "verify"]) => owner::verify(ctx, req).await,
        (Method::Post, ["owner", "v1", "signout"]) => owner::signout(ctx, req).await,
        (Method::Post, ["owner", "v1", "confirm"]) => owner::confirm(ctx, req).await,
        (Method::Post, ["owner", "v1", "confirm", "verify"]) => owner::confirm_verify(ctx, req).await,
        (Method::Get, ["owner", "v1", "sites"]) => owner::list_sites(ctx, req).await,
        (Method::Post, ["owner", "v1", "sites"]) => owner::create_site(ctx, req).await,
        (Method::Get, ["owner", "v1", "sites", site]) => owner::get_site(ctx, req, site).await,
        (Method::Patch, ["owner", "v1", "sites", site]) => owner::patch_site(ctx, req, site).await,
        (Method::Get, ["owner", "v1", "sites", site, "secret"]) => owner::get_secret(ctx, req, site).await,
        (Method::Post, ["owner", "v1", "sites", site, "secret", "rotate"]) => {
            owner::rotate_secret(ctx, req, site).await
        }
        // The owner API's old prefix: each site-scoped path moved to /owner/v1 (308 keeps the method and body).
        (_, ["admin", "v1", "sites", site, rest @ ..]) if !rest.is_empty() => {
            http::moved_permanently(&format!("/owner/v1/sites/{site}/{}", rest.join("/")), req)
        }
        (_, ["dashboard", rest @ ..]) => {
            let rest: Vec<&str> = rest.iter().copied().filter(|s| !s.is_empty()).collect();
            dashboard::route(ctx, req, &rest).await
        }
        _ => Err(ApiError::not_found(&format!("{} {path}", req.method()))),
    }
}
