//! Builds the artifacts the stack serves: the Stripe emulator, the widget bundle in www/pkg and the Worker in
//! edge/build.

use latch_e2e::repo_root;

use crate::{Step, cargo, cmd, exec};

/// Emulator, widget and the deployable Worker (`cargo xtask build`, then `wrangler deploy`).
pub(crate) fn all() -> Step {
    exec(cargo().args(["build", "-p", "latch-stripe-emulator"]))?;
    widget()?;
    edge(Worker::Deployable)
}

/// Emulator, widget and the local stack's Worker, with its movable clock (`cargo xtask dev` and `cargo xtask test`).
pub(crate) fn local() -> Step {
    exec(cargo().args(["build", "-p", "latch-stripe-emulator"]))?;
    widget()?;
    edge(Worker::Local)
}

/// Which Worker to build.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Worker {
    /// For Cloudflare: no development features.
    Deployable,
    /// For the local stack: with `dev` (`POST /dev/clock`, edge/src/clock.rs).
    Local,
}

/// The widget: release wasm, wasm-bindgen glue for `--target web` (minified with esbuild), then `wasm-opt -Oz`
/// and short import names in both;
/// then content-hashed names (`pkg/latch_widget.<hash>.js`, `pkg/latch_widget_bg.<hash>.wasm`, cacheable for a
/// year) and the stable loader `www/latch.js`, generated from `widget/loader/latch.js` with those names and the
/// wasm's SRI hash. Prints the loader's SRI hash for sites that pin it with `integrity="sha384-..."`.
pub(crate) fn widget() -> Step {
    exec(cargo().args(["build", "-p", "latch-widget", "--target", "wasm32-unknown-unknown", "--release"]))?;
    let root = repo_root();
    let pkg = root.join("www/pkg");
    // Old hashed files would pile up (and be deployed) otherwise.
    let _ = std::fs::remove_dir_all(&pkg);
    exec(
        cmd("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-dir", "www/pkg", "--out-name", "latch_widget"])
            .arg("target/wasm32-unknown-unknown/release/latch_widget.wasm"),
    )?;
    let esbuild = root.join("node_modules/@esbuild/linux-x64/bin/esbuild").display().to_string();
    exec(cmd(&esbuild).args(["www/pkg/latch_widget.js", "--minify", "--format=esm", "--target=es2020"]).args([
        "--outfile=www/pkg/latch_widget.js",
        "--allow-overwrite",
        "--log-level=warning",
    ]))?;
    let wasm = "www/pkg/latch_widget_bg.wasm";
    exec(
        cmd(&repo_root().join("node_modules/.bin/wasm-opt").display().to_string())
            // Twice: the second -Oz pass finds a little more (about 200 B gzip).
            .args(["-Oz", "-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext"])
            .args(["--enable-mutable-globals", "--enable-reference-types", "-o", wasm, wasm])
            // The name, producers and target-features sections are for tools only: about 1.2 KB gzip.
            .args(["--strip-debug", "--strip-producers", "--strip-target-features"]),
    )?;
    shorten_imports(&pkg)?;
    let glue = hashed(&pkg, "latch_widget", "js")?;
    let (wasm, wasm_sri) = {
        let name = hashed(&pkg, "latch_widget_bg", "wasm")?;
        let sri = sri(&std::fs::read(pkg.join(&name)).map_err(|e| format!("{name}: {e}"))?);
        (name, sri)
    };
    let template_path = root.join("widget/loader/latch.js");
    let template = std::fs::read_to_string(&template_path).map_err(|e| format!("{}: {e}", template_path.display()))?;
    let mut loader = template;
    for (placeholder, value) in [("@GLUE@", glue.as_str()), ("@WASM@", wasm.as_str()), ("@WASM_SRI@", &wasm_sri)] {
        if loader.matches(placeholder).count() != 1 {
            return Err(format!("widget/loader/latch.js must contain {placeholder} exactly once"));
        }
        loader = loader.replace(placeholder, value);
    }
    let unminified = root.join("target/latch.js");
    std::fs::write(&unminified, loader).map_err(|e| format!("{}: {e}", unminified.display()))?;
    exec(cmd(&esbuild).arg(&unminified).args([
        "--minify",
        "--target=es2020",
        "--outfile=www/latch.js",
        "--log-level=warning",
    ]))?;
    let loader = std::fs::read(root.join("www/latch.js")).map_err(|e| format!("www/latch.js: {e}"))?;
    println!(
        "
widget: www/latch.js -> pkg/{glue}, pkg/{wasm}"
    );
    println!("  <script src=\"https://EDGE/latch.js\" integrity=\"{}\" crossorigin=\"anonymous\" ...>", sri(&loader));
    Ok(())
}

/// Gives the wasm's imports short names in `pkg/latch_widget_bg.wasm` and `pkg/latch_widget.js` (see
/// [`crate::imports`]).
fn shorten_imports(pkg: &std::path::Path) -> Step {
    let (wasm_path, glue_path) = (pkg.join("latch_widget_bg.wasm"), pkg.join("latch_widget.js"));
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
    let glue = std::fs::read_to_string(&glue_path).map_err(|e| format!("{}: {e}", glue_path.display()))?;
    let (wasm, glue) = crate::imports::shorten(&wasm, &glue)?;
    std::fs::write(&wasm_path, wasm).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
    std::fs::write(&glue_path, glue).map_err(|e| format!("{}: {e}", glue_path.display()))
}

/// Renames `pkg/<stem>.<ext>` to `pkg/<stem>.<first 16 hex digits of its SHA-256>.<ext>`; returns the new name.
fn hashed(pkg: &std::path::Path, stem: &str, ext: &str) -> Result<String, String> {
    use sha2::Digest;
    let from = pkg.join(format!("{stem}.{ext}"));
    let bytes = std::fs::read(&from).map_err(|e| format!("{}: {e}", from.display()))?;
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let name = format!("{stem}.{hex}.{ext}");
    std::fs::rename(&from, pkg.join(&name)).map_err(|e| format!("{}: {e}", from.display()))?;
    Ok(name)
}

/// The Subresource Integrity value (`sha384-<base64>`) of `bytes`.
pub(crate) fn sri(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(bytes)))
}

/// The Worker: `worker-build --release` in edge/ (output in edge/build, which wrangler.toml points at).
/// worker-build keeps the wasm's `name` section (function names for stack traces, about 65 KB gzip); the local
/// Worker keeps it, the deployable one drops it (`wasm-opt --strip-debug`, no other pass), so what is deployed is
/// smaller and starts faster while local panics still name their functions.
pub(crate) fn edge(worker: Worker) -> Step {
    let mut build = cmd("worker-build");
    build.arg("--release").current_dir(repo_root().join("edge"));
    if worker == Worker::Local {
        build.args([".", "--features", "dev"]);
    }
    exec(&mut build)?;
    if worker == Worker::Deployable {
        let wasm = "edge/build/index_bg.wasm";
        exec(cmd(&repo_root().join("node_modules/.bin/wasm-opt").display().to_string()).args([
            "--all-features",
            "--strip-debug",
            "-o",
            wasm,
            wasm,
        ]))?;
    }
    Ok(())
}
