//! Webhook delivery: Stripe-Signature signing, one ordered queue per endpoint, retries with exponential
//! backoff, a log of every attempt for the control API, and (when switched on) Stripe's disorder: see
//! [`crate::chaos`].

use crate::chaos::{Chaos, Faults, Rng};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// Where an event goes: an endpoint URL and its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `we_…` for API-created endpoints, `cli_N` for `--webhook` ones.
    pub id: String,
    /// The endpoint URL.
    pub url: String,
    /// The `whsec_…` secret.
    pub secret: String,
    /// The API version its events are rendered in.
    pub api_version: String,
}

/// The `Stripe-Signature` value for a body sent at unix time `t`: `t={t},v1={hex hmac}`.
pub fn signature_header(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// Lowercase hex HMAC-SHA256 of `"{t}.{body}"` keyed with the whole `whsec_…` string.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
struct Job {
    clock_ahead: i64,
    event_id: String,
    event_type: String,
    body: Arc<String>,
    target: Target,
}

#[derive(Debug)]
struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    retry_base_ms: u64,
    max_attempts: u32,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    log: Mutex<Vec<Value>>,
    pending: AtomicUsize,
    idle: Notify,
    /// Chaos by endpoint id (`*`: every endpoint without its own), with its generator.
    chaos: Mutex<HashMap<String, (Chaos, Rng)>>,
}

/// How the next batch of deliveries to one endpoint goes: the order to send them in (indexes into the batch) and,
/// for each, its faults and whether it is sent twice.
struct BatchPlan {
    chaos: Chaos,
    order: Vec<usize>,
    faults: Vec<(Faults, bool)>,
}

impl Inner {
    /// The plan of the next `n` deliveries to endpoint `id`; `None` when deliveries to it are calm.
    fn plan(&self, id: &str, n: usize) -> Option<BatchPlan> {
        let mut all = self.chaos.lock().unwrap_or_else(|e| e.into_inner());
        let key = if all.contains_key(id) { id.to_string() } else { "*".to_string() };
        let (chaos, rng) = all.get_mut(&key)?;
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let faults = (0..n).map(|_| (chaos.draw(rng), rng.chance(chaos.duplicate))).collect();
        Some(BatchPlan { chaos: chaos.clone(), order, faults })
    }

    fn chaos_for(&self, id: &str) -> Option<Chaos> {
        let all = self.chaos.lock().unwrap_or_else(|e| e.into_inner());
        all.get(id).or_else(|| all.get("*")).map(|(c, _)| c.clone())
    }
}

/// Hands events to per-endpoint delivery tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl Dispatcher {
    /// A dispatcher retrying failed attempts after `retry_base_ms`, doubling, `max_attempts` in all.
    pub fn new(retry_base_ms: u64, max_attempts: u32) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            inner: Arc::new(Inner {
                client,
                retry_base_ms,
                max_attempts: max_attempts.max(1),
                queues: Mutex::new(HashMap::new()),
                log: Mutex::new(Vec::new()),
                pending: AtomicUsize::new(0),
                idle: Notify::new(),
                chaos: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Queues one event body for each target, after everything already queued for that target.
    /// Must be called from inside the tokio runtime; outside it (plain unit tests) deliveries are dropped.
    ///
    /// `clock_ahead` is how far the emulator's clock runs ahead of real time (0 when it does not): signatures are
    /// timed `real time + clock_ahead`, so a clock moved forward signs in its own time (an endpoint whose clock moved
    /// with it accepts them) while a clock started in the past still signs in real time.
    pub fn enqueue(&self, event_id: &str, event_type: &str, body: Arc<String>, targets: &[Target], clock_ahead: i64) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let mut queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        for target in targets {
            let key = format!("{}\u{0}{}\u{0}{}", target.id, target.url, target.secret);
            let sender = queues.entry(key).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(worker(self.inner.clone(), rx));
                tx
            });
            self.inner.pending.fetch_add(1, Ordering::SeqCst);
            let job = Job {
                clock_ahead: clock_ahead.max(0),
                event_id: event_id.to_string(),
                event_type: event_type.to_string(),
                body: body.clone(),
                target: target.clone(),
            };
            if sender.send(job).is_err() {
                self.inner.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Switches chaos on (`Some`) or off for endpoint `id` (`*`: every endpoint without its own setting).
    pub fn set_chaos(&self, id: &str, chaos: Option<Chaos>) {
        let mut all = self.inner.chaos.lock().unwrap_or_else(|e| e.into_inner());
        match chaos {
            Some(c) => {
                let rng = Rng::new(c.seed);
                all.insert(id.to_string(), (c, rng));
            }
            None => {
                all.remove(id);
            }
        }
    }

    /// The chaos settings by endpoint id.
    pub fn chaos(&self) -> Value {
        let all = self.inner.chaos.lock().unwrap_or_else(|e| e.into_inner());
        Value::Object(all.iter().map(|(id, (c, _))| (id.clone(), c.to_json())).collect())
    }

    /// Deliveries queued or being retried.
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Every attempt so far, oldest first.
    pub fn log(&self) -> Vec<Value> {
        self.inner.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until nothing is pending; `false` on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.idle.notified();
            if self.pending() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.pending() == 0;
            }
        }
    }
}

async fn worker(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let Some(chaos) = inner.chaos_for(&first.target.id) else {
            deliver(inner.clone(), first, Faults::default()).await;
            continue;
        };
        // Gather what is queued (up to the shuffle window), then send it in a shuffled order, several at once.
        let mut batch = vec![first];
        tokio::time::sleep(Duration::from_millis(20)).await;
        while batch.len() < chaos.shuffle {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(BatchPlan { chaos, order, faults }) = inner.plan(&batch[0].target.id, batch.len()) else {
            for job in batch {
                deliver(inner.clone(), job, Faults::default()).await;
            }
            continue;
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(chaos.concurrency));
        let mut running = Vec::new();
        for (i, (faults, twice)) in order.into_iter().zip(faults) {
            if twice {
                inner.pending.fetch_add(1, Ordering::SeqCst);
            }
            let (inner, job, permits) = (inner.clone(), batch[i].clone(), permits.clone());
            // A duplicate's two copies race each other, within the one slot of `concurrency` they take.
            running.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                if twice {
                    tokio::join!(deliver(inner.clone(), job.clone(), faults), deliver(inner, job, faults));
                } else {
                    deliver(inner, job, faults).await;
                }
            }));
        }
        for task in running {
            let _ = task.await;
        }
    }
}

/// Delivers one job, retrying with backoff, with `faults` applied; logs every attempt.
async fn deliver(inner: Arc<Inner>, job: Job, faults: Faults) {
    for attempt in 1..=inner.max_attempts {
        if faults.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
        }
        let (status, error) = if attempt == 1 && faults.drop_first {
            (None, Some("connection lost (chaos)".to_string()))
        } else {
            let (status, error) = attempt_once(&inner, &job).await;
            if attempt == 1 && faults.timeout_first {
                (None, Some(format!("timed out (chaos; the endpoint answered {status:?})")))
            } else {
                (status, error)
            }
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let mut entry = json!({
            "event_id": job.event_id,
            "type": job.event_type,
            "endpoint": job.target.url,
            "endpoint_id": job.target.id,
            "attempt": attempt,
            "status": status,
            "ok": ok,
            "at_ms": crate::clock::real_now_ms(),
        });
        if let Some(e) = error {
            entry["error"] = json!(e);
        }
        inner.log.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        if ok || attempt == inner.max_attempts {
            break;
        }
        let delay = inner.retry_base_ms.saturating_mul(1u64 << (attempt - 1).min(20));
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    inner.pending.fetch_sub(1, Ordering::SeqCst);
    inner.idle.notify_waiters();
}

async fn attempt_once(inner: &Inner, job: &Job) -> (Option<u16>, Option<String>) {
    if !job.target.url.starts_with("http://") {
        return (None, Some("only http:// endpoints are reachable from the emulator".into()));
    }
    let t = crate::clock::real_now() + job.clock_ahead;
    let request = hyper::Request::builder()
        .method("POST")
        .uri(job.target.url.as_str())
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .header("cache-control", "no-cache")
        .header("accept", "*/*; q=0.5, application/xml")
        .header("stripe-signature", signature_header(&job.target.secret, t, &job.body))
        .body(Full::new(Bytes::from(job.body.as_bytes().to_vec())));
    let request = match request {
        Ok(r) => r,
        Err(e) => return (None, Some(format!("invalid endpoint URL: {e}"))),
    };
    let send = inner.client.request(request);
    match tokio::time::timeout(Duration::from_secs(15), send).await {
        Err(_) => (None, Some("timed out".into())),
        Ok(Err(e)) => (None, Some(format!("connection error: {e}"))),
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            // Drain the body so the connection can be reused.
            let _ = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect()).await;
            (Some(status), None)
        }
    }
}
