//! Official-client oracle: Stripe's own Node library (npm `stripe`, pinned in the repo's package.json) drives
//! the emulator binary through catalog -> checkout -> hosted payment -> verified webhook.
//! Fails (does not skip) when node or node_modules/stripe is missing.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn official_node_client_drives_the_emulator() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let stripe_pkg = root.join("node_modules/stripe/package.json");
    assert!(
        stripe_pkg.exists(),
        "npm package `stripe` is missing ({} not found): run `npm install` at the repository root",
        stripe_pkg.display()
    );
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "`node` is not on PATH: the official-client oracle needs Node.js"
    );

    let key = "sk_test_oracle_key";
    let mut emu = Command::new(env!("CARGO_BIN_EXE_stripe-emulator"))
        .args(["--port", "0", "--api-key", key])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn emulator");
    let mut line = String::new();
    BufReader::new(emu.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let url = line
        .trim()
        .strip_prefix("stripe-emulator listening on ")
        .expect("ready line format")
        .to_string();

    let mut node = Command::new("node")
        .arg(manifest.join("oracle/official_client.mjs"))
        .current_dir(&root)
        .env("EMULATOR_URL", &url)
        .env("STRIPE_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = node.try_wait().expect("wait node") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = node.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = node.wait_with_output().expect("node output");
    let _ = emu.kill();
    let _ = emu.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    let status = status.expect("node oracle timed out after 120 s");
    assert!(
        status.success(),
        "official client oracle failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"));
}
