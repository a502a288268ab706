//! `cargo xtask bench`: the numbers the budgets are about. Budgets live here, not in timed tests.

use latch_e2e::repo_root;

use crate::{Step, cargo, cmd, exec};

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(bytes);
    enc.finish().map(|v| v.len()).unwrap_or(0)
}

fn size_line(label: &str, path: &str) -> Result<usize, String> {
    let bytes = std::fs::read(repo_root().join(path)).map_err(|e| format!("{path}: {e}"))?;
    let gz = gzip_len(&bytes);
    println!("  {label:<28} {:>8} B raw  {:>8} B gzip   ({path})", bytes.len(), gz);
    Ok(gz)
}

/// Nanoseconds per iteration of a criterion benchmark, from its saved estimates.
fn criterion_ns(group: &str, name: &str) -> Result<f64, String> {
    let path = repo_root().join(format!("target/criterion/{group}/{name}/new/estimates.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    json["mean"]["point_estimate"].as_f64().ok_or_else(|| format!("{}: no mean estimate", path.display()))
}

/// latch-core's webhook path against Stripe's official Node library on the same event.
fn webhook_speed() -> Result<f64, String> {
    exec(cargo().args(["bench", "-p", "latch-core", "--bench", "webhook"]))?;
    let ours = criterion_ns("webhook", "verify_parse_apply")?;
    let out = cmd("node")
        .arg("core/benches/official_construct_event.mjs")
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err(format!("the official-library benchmark failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let official: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("official-library benchmark output: {e}"))?;
    let theirs = official["ns_per_event"].as_f64().ok_or("official-library benchmark printed no ns_per_event")?;
    let ratio = theirs / ours;
    println!("\nwebhook verify + parse + apply (3 KB event)");
    println!("  latch-core:                        {ours:>10.0} ns/event");
    println!("  stripe-node constructEvent (Node):  {theirs:>10.0} ns/event (verify + JSON.parse only)");
    println!("  ratio: {ratio:.1}x faster (budget: at least 3x)");
    Ok(ratio)
}

/// Prints speed and sizes against their budgets.
pub(crate) fn run() -> Step {
    let ratio = webhook_speed()?;
    println!("\nsizes");
    let loader = size_line("widget loader (latch.js)", "www/latch.js")?;
    let wasm = size_line("widget wasm", "www/pkg/latch_widget_bg.wasm")?;
    let glue = size_line("widget glue JS", "www/pkg/latch_widget.js")?;
    size_line("worker wasm", "edge/build/index_bg.wasm")?;
    println!("  budget: loader {loader} B gzip (< 2048); wasm + glue {} B gzip (< 35840)", wasm + glue);
    let mut over = Vec::new();
    if ratio < 3.0 {
        over.push("webhook path less than 3x faster than Stripe's official library");
    }
    if loader >= 2048 {
        over.push("widget loader over 2 KB gzip");
    }
    if wasm + glue >= 35 * 1024 {
        over.push("widget wasm + glue over 35 KB gzip");
    }
    if over.is_empty() { Ok(()) } else { Err(format!("over budget: {}", over.join(", "))) }
}
