//! Headless Chromium over WebDriver (chromedriver + fantoccini) for the end-to-end tests and `cargo xtask bench`:
//! start the driver, open a browser, wait for JavaScript conditions, click, fill, take screenshots, read the
//! console.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::{free_port, repo_root};

/// chromedriver in its own process group, stopped with the Chromium it started (same group) on drop, so a test
/// that panics before closing its session leaves no browser behind.
pub struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        // `-s SIG -- -PGID`: procps' kill can misread a bare `-PGID` after the signal.
        let _ = Command::new("kill").args(["-s", "TERM", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free port and waits until it listens.
pub fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (cargo xtask setup)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver(child, port)
}

/// A headless Chromium session with a fresh profile.
pub async fn browser(driver: &Driver) -> Client {
    let profile = repo_root().join("target/e2e-chromium").join(free_port().to_string());
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1200,900",
                     format!("--user-data-dir={}", profile.display())]
        },
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let Value::Object(caps) = caps else { unreachable!() };
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("WebDriver session")
}

/// Whether a JavaScript condition holds now.
pub async fn holds(client: &Client, condition: &str) -> bool {
    let script = format!("return !!({condition});");
    let answer = tokio::time::timeout(Duration::from_secs(5), client.execute(&script, vec![])).await;
    answer.ok().and_then(Result::ok).and_then(|v| v.as_bool()) == Some(true)
}

/// The value of a JavaScript expression (JSON-serialisable), panicking on script errors.
pub async fn eval(client: &Client, expression: &str) -> Value {
    let script = format!("return ({expression});");
    client.execute(&script, vec![]).await.unwrap_or_else(|e| panic!("evaluating `{expression}`: {e}"))
}

/// Polls a JavaScript condition until true.
pub async fn wait_js(client: &Client, condition: &str, timeout: Duration) {
    eprintln!("[e2e] wait for {}", &condition[..condition.len().min(90)]);
    let deadline = Instant::now() + timeout;
    loop {
        if holds(client, condition).await {
            return;
        }
        if Instant::now() > deadline {
            let html = client.source().await.unwrap_or_default();
            let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("timed out after {timeout:?} waiting for `{condition}` at {url}\n{}", &html[..html.len().min(3000)]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a PNG of the viewport with `css` scrolled into view, as target/e2e-screenshots/`name`.png.
pub async fn screenshot(client: &Client, name: &str, css: &str) {
    let scroll = format!("document.querySelector('{css}').scrollIntoView({{block: 'center'}})");
    let _ = client.execute(&scroll, vec![]).await;
    let dir = repo_root().join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

/// Clicks the element matching `css`, finding it again if the page replaced it (stale element) meanwhile.
pub async fn click(client: &Client, css: &str) {
    eprintln!("[e2e] click {css}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        match found {
            Ok(el) => match el.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("[e2e] retrying click on {css}: {e}")
                }
                Err(e) => panic!("click {css}: {e}"),
            },
            Err(e) => panic!("find {css}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replaces the text of the field matching `css`.
pub async fn fill(client: &Client, css: &str, text: &str) {
    let el = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.expect(css);
    el.clear().await.expect(css);
    el.send_keys(text).await.expect(css);
}

/// Runs axe-core (node_modules/axe-core, read from disk and injected) on the current page and returns the
/// WCAG 2 A/AA violations as `id: target...` lines (empty when there are none).
pub async fn axe_violations(client: &Client) -> Vec<String> {
    let axe = std::fs::read_to_string(repo_root().join("node_modules/axe-core/axe.min.js"))
        .expect("axe-core is installed (npm devDependency)");
    client.execute(&format!("{axe}\n;return typeof axe;"), vec![]).await.expect("inject axe-core");
    let run = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
          .then(r => done({ passes: r.passes.length,
                            violations: r.violations.map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")) }))
          .catch(e => done({ passes: 0, violations: ["axe failed: " + e] }));
    "#;
    let answer = client.execute_async(run, vec![]).await.expect("run axe-core");
    let violations = answer["violations"].as_array().expect("axe-core answered").iter();
    let violations: Vec<String> = violations.map(|v| v.as_str().unwrap_or_default().to_owned()).collect();
    let passes = answer["passes"].as_u64().unwrap_or(0);
    assert!(passes > 0 || !violations.is_empty(), "axe-core checked nothing: {answer}");
    violations
}

/// chromedriver's log command (`POST /session/{id}/se/log`, type `browser`): the console messages since the last
/// call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The page's console messages (`LEVEL message` lines) logged since the previous call, as Chromium reports them.
pub async fn console_messages(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.expect("read the browser log");
    let entries = log.as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|e| format!("{} {}", e["level"].as_str().unwrap_or_default(), e["message"].as_str().unwrap_or_default()))
        .collect()
}
