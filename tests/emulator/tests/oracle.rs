//! Official-client oracles: Stripe's own libraries drive the emulator binary through catalog -> checkout ->
//! hosted payment -> verified webhook.
//! - Node (npm `stripe`, pinned in the repo's package.json): required; fails (does not skip) when node or
//!   node_modules/stripe is missing.
//! - Python (PyPI `stripe` 16.1.0, installed by `cargo xtask setup`): required as well.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "sk_test_oracle_key";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts the emulator, runs `program script` against it, and asserts it exits 0.
fn run_oracle(program: &str, script: &Path) {
    let mut emu = Command::new(env!("CARGO_BIN_EXE_stripe-emulator"))
        .args(["--port", "0", "--api-key", KEY])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn emulator");
    let mut line = String::new();
    BufReader::new(emu.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let url = line.trim().strip_prefix("stripe-emulator listening on ").expect("ready line format").to_string();

    let mut child = Command::new(program)
        .arg(script)
        .current_dir(root())
        .env("EMULATOR_URL", &url)
        .env("STRIPE_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait oracle") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("oracle output");
    let _ = emu.kill();
    let _ = emu.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    let status = status.unwrap_or_else(|| panic!("{program} oracle timed out after 120 s"));
    assert!(status.success(), "{program} official client oracle failed ({status}):\n{stdout}\n{stderr}");
    assert!(stdout.contains("checks passed"));
}

#[test]
fn official_node_client_drives_the_emulator() {
    let stripe_pkg = root().join("node_modules/stripe/package.json");
    assert!(
        stripe_pkg.exists(),
        "npm package `stripe` is missing ({} not found): run `npm install` at the repository root",
        stripe_pkg.display()
    );
    let node_ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(node_ok, "`node` is not on PATH: the official-client oracle needs Node.js");
    run_oracle("node", &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracle/official_client.mjs"));
}

#[test]
fn official_python_client_drives_the_emulator() {
    let has_stripe =
        Command::new("python3").args(["-c", "import stripe"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(has_stripe, "PyPI `stripe` is not installed: run `cargo xtask setup` (it installs stripe==16.1.0)");
    run_oracle("python3", &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracle/official_client.py"));
}
