//! Builds the artifacts the stack serves: the Stripe emulator, the widget bundle in www/pkg and the Worker in
//! edge/build.

use latch_e2e::repo_root;

use crate::{Step, cargo, cmd, exec};

/// Emulator, widget and Worker.
pub(crate) fn all() -> Step {
    exec(cargo().args(["build", "-p", "latch-stripe-emulator"]))?;
    widget()?;
    edge()
}

/// The widget: release wasm, wasm-bindgen glue for `--target web` (minified with esbuild), then `wasm-opt -Oz`.
pub(crate) fn widget() -> Step {
    exec(cargo().args(["build", "-p", "latch-widget", "--target", "wasm32-unknown-unknown", "--release"]))?;
    exec(
        cmd("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-dir", "www/pkg", "--out-name", "latch_widget"])
            .arg("target/wasm32-unknown-unknown/release/latch_widget.wasm"),
    )?;
    let root = repo_root();
    exec(
        cmd(&root.join("node_modules/@esbuild/linux-x64/bin/esbuild").display().to_string())
            .args(["www/pkg/latch_widget.js", "--minify", "--format=esm", "--target=es2020"])
            .args(["--outfile=www/pkg/latch_widget.js", "--allow-overwrite", "--log-level=warning"]),
    )?;
    let wasm = "www/pkg/latch_widget_bg.wasm";
    exec(
        cmd(&repo_root().join("node_modules/.bin/wasm-opt").display().to_string())
            // Twice: the second -Oz pass finds a little more (about 200 B gzip).
            .args(["-Oz", "-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext"])
            .args(["--enable-mutable-globals", "--enable-reference-types", "-o", wasm, wasm])
            // The name, producers and target-features sections are for tools only: about 1.2 KB gzip.
            .args(["--strip-debug", "--strip-producers", "--strip-target-features"]),
    )
}

/// The Worker: `worker-build --release` in edge/ (output in edge/build, which wrangler.toml points at).
pub(crate) fn edge() -> Step {
    exec(cmd("worker-build").arg("--release").current_dir(repo_root().join("edge")))
}
