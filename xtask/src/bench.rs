//! `cargo xtask bench`: the numbers the budgets are about. Budgets live here, not in timed tests.

use latch_e2e::repo_root;

use crate::Step;

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(bytes);
    enc.finish().map(|v| v.len()).unwrap_or(0)
}

fn size_line(label: &str, path: &str) -> Result<usize, String> {
    let bytes = std::fs::read(repo_root().join(path)).map_err(|e| format!("{path}: {e}"))?;
    let gz = gzip_len(&bytes);
    println!(
        "  {label:<28} {:>8} B raw  {:>8} B gzip   ({path})",
        bytes.len(),
        gz
    );
    Ok(gz)
}

/// Prints sizes (widget and Worker) against their budgets.
pub(crate) fn run() -> Step {
    println!("\nsizes");
    let loader = size_line("widget loader (latch.js)", "www/latch.js")?;
    let wasm = size_line("widget wasm", "www/pkg/latch_widget_bg.wasm")?;
    let glue = size_line("widget glue JS", "www/pkg/latch_widget.js")?;
    size_line("worker wasm", "edge/build/index_bg.wasm")?;
    println!(
        "  budget: loader {loader} B gzip (< 2048); wasm + glue {} B gzip (< 35840)",
        wasm + glue
    );
    let mut over = Vec::new();
    if loader >= 2048 {
        over.push("widget loader over 2 KB gzip");
    }
    if wasm + glue >= 35 * 1024 {
        over.push("widget wasm + glue over 35 KB gzip");
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("over budget: {}", over.join(", ")))
    }
}
