//! Core stays pure: latch-core's dependency tree (as the wasm builds see it) has no platform crate, and neither the
//! widget's nor the Worker's wasm imports anything from `env` (where an unresolved C or platform symbol would come
//! from). Run by `cargo xtask test` after the builds.

use latch_e2e::repo_root;

use crate::{Step, cargo, imports};

/// Crates that tie code to a platform: none may be under latch-core.
const PLATFORM_CRATES: [&str; 5] = ["worker", "web-sys", "js-sys", "wasm-bindgen", "wasm-bindgen-futures"];

/// The wasm each build leaves, before wasm-bindgen renames the imports.
const BUILT_WASM: [&str; 2] = [
    "target/wasm32-unknown-unknown/release/latch_widget.wasm",
    "target/wasm32-unknown-unknown/release/latch_edge.wasm",
];

/// Fails when latch-core reaches a platform crate or a built wasm imports from `env`.
pub(crate) fn check() -> Step {
    let tree = cargo()
        .args(["tree", "-p", "latch-core", "-e", "normal", "--target", "wasm32-unknown-unknown", "--prefix", "none"])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !tree.status.success() {
        return Err(format!("cargo tree failed: {}", String::from_utf8_lossy(&tree.stderr)));
    }
    let tree = String::from_utf8_lossy(&tree.stdout);
    let platform = platform_crates(&tree);
    if !platform.is_empty() {
        return Err(format!("latch-core must stay pure, but it depends on {}", platform.join(", ")));
    }
    for wasm in BUILT_WASM {
        let bytes = std::fs::read(repo_root().join(wasm)).map_err(|e| format!("{wasm}: {e} (build it first)"))?;
        if imports::modules(&bytes)?.iter().any(|m| m == "env") {
            return Err(format!("{wasm} imports from `env`: an unresolved platform symbol slipped in"));
        }
    }
    println!("purity: latch-core has no platform crate; the widget's and the Worker's wasm import nothing from env");
    Ok(())
}

/// The platform crates named in `cargo tree --prefix none` output.
fn platform_crates(tree: &str) -> Vec<&str> {
    let mut found: Vec<&str> =
        tree.lines().filter_map(|line| line.split(' ').next()).filter(|name| PLATFORM_CRATES.contains(name)).collect();
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_crates_are_found_by_name_only() {
        let tree = "latch-core v0.1.0 (/x)\nserde v1.0.0\nworker v0.8.7\nworker-macros v0.8.7\njs-sys v0.3.0\nworker v0.8.7 (*)\n";
        assert_eq!(platform_crates(tree), vec!["js-sys", "worker"]);
        assert!(platform_crates("latch-core v0.1.0\nserde v1\n").is_empty());
    }
}
