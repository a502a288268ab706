//! Test helpers: spawn the emulator binary, a tiny blocking HTTP client, and a webhook receiver.
#![allow(dead_code, unreachable_pub)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "sk_test_emulator_tests";

/// A running `stripe-emulator` process, killed on drop.
pub struct Emulator {
    pub url: String,
    child: Child,
}

impl Emulator {
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-emulator"))
            .args(["--port", "0", "--api-key", KEY])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stripe-emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read ready line");
        let url = line
            .trim()
            .strip_prefix("stripe-emulator listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line: {line:?}"))
            .to_string();
        Self { url, child }
    }

    pub fn get(&self, path: &str) -> Resp {
        request("GET", &format!("{}{path}", self.url), &[("authorization", &format!("Bearer {KEY}"))], "")
    }

    pub fn post(&self, path: &str, form: &str) -> Resp {
        self.post_with(path, form, &[])
    }

    pub fn post_with(&self, path: &str, form: &str, headers: &[(&str, &str)]) -> Resp {
        let auth = format!("Bearer {KEY}");
        let mut h: Vec<(&str, &str)> =
            vec![("authorization", &auth), ("content-type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        request("POST", &format!("{}{path}", self.url), &h, form)
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let auth = format!("Bearer {KEY}");
        let mut h: Vec<(&str, &str)> = vec![("authorization", &auth)];
        h.extend_from_slice(headers);
        request("GET", &format!("{}{path}", self.url), &h, "")
    }

    pub fn delete(&self, path: &str) -> Resp {
        request("DELETE", &format!("{}{path}", self.url), &[("authorization", &format!("Bearer {KEY}"))], "")
    }

    /// POST to the control API with a JSON body.
    pub fn control(&self, path: &str, body: &str) -> Resp {
        request("POST", &format!("{}{path}", self.url), &[("content-type", "application/json")], body)
    }

    /// Connects a standard account to the platform (as an approved OAuth would) and returns its id.
    pub fn connect(&self, id: &str) -> String {
        self.control("/_emulator/accounts", &format!("{{\"id\": \"{id}\"}}")).ok()["id"].as_str().unwrap().to_string()
    }

    /// POST a browser form (no auth) to a hosted page.
    pub fn page_post(&self, url: &str, form: &str) -> Resp {
        request("POST", url, &[("content-type", "application/x-www-form-urlencoded")], form)
    }

    pub fn advance(&self, seconds: i64) -> Value {
        self.control("/_emulator/clock/advance", &format!("{{\"seconds\": {seconds}}}")).ok()
    }

    /// Every delivery attempt so far (`GET /_emulator/deliveries`).
    pub fn get_deliveries(&self) -> Vec<Value> {
        let r = request("GET", &format!("{}/_emulator/deliveries", self.url), &[], "");
        r.json().as_array().cloned().unwrap_or_default()
    }

    pub fn wait_deliveries(&self) {
        let r = self.control("/_emulator/deliveries/wait", "{\"timeout_ms\": 20000}");
        assert_eq!(r.status, 200, "deliveries still pending: {}", r.body);
    }

    /// Event types of the account, oldest first.
    pub fn event_types(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = after.as_ref().map(|a| format!("&starting_after={a}")).unwrap_or_default();
            let page = self.get(&format!("/v1/events?limit=100{q}")).ok();
            let data = page["data"].as_array().cloned().unwrap_or_default();
            out.extend(data.iter().map(|e| e["type"].as_str().unwrap_or_default().to_string()));
            if page["has_more"] != true {
                break;
            }
            after = data.last().and_then(|e| e["id"].as_str().map(str::to_string));
        }
        out.reverse();
        out
    }

    /// Creates a product and a price; returns the price id.
    pub fn price(&self, name: &str, amount: i64, recurring: Option<&str>) -> String {
        let prod = self.post("/v1/products", &format!("name={}", enc(name))).ok();
        let mut form = format!("product={}&currency=usd&unit_amount={amount}", prod["id"].as_str().unwrap());
        if let Some(i) = recurring {
            form.push_str(&format!("&recurring[interval]={i}"));
        }
        self.post("/v1/prices", &form).ok()["id"].as_str().unwrap().to_string()
    }

    /// Creates a checkout session; returns it.
    pub fn session(&self, form: &str) -> Value {
        self.post("/v1/checkout/sessions", form).ok()
    }

    /// Pays a session on the hosted page with a card; returns the page response.
    pub fn pay(&self, session: &Value, card: &str, email: &str) -> Resp {
        let url = session["url"].as_str().expect("session url");
        self.page_post(url, &format!("email={}&cardNumber={}", enc(email), enc(card)))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The JSON body, asserting a 200.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {}: {}", self.status, self.body);
        self.json()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A blocking HTTP/1.1 request (Connection: close).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let rest = url.strip_prefix("http://").expect("http url");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(hostport).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))).collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Resp { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status_sent: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook receiver on 127.0.0.1 that answers 500 to its first `fail_first` requests, then 200.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve(stream, sink, fail_first));
            }
        });
        Self { url, got }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for what was received (10 s).
    pub fn wait_for(&self, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.all();
            if pred(&all) {
                return all;
            }
            assert!(Instant::now() < deadline, "receiver timed out; got {} requests", all.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, sink: Arc<Mutex<Vec<Received>>>, fail_first: usize) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = {
            let mut got = sink.lock().unwrap();
            let status = if got.len() < fail_first { 500 } else { 200 };
            got.push(Received { headers, body: String::from_utf8_lossy(&body).to_string(), status_sent: status });
            status
        };
        let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
