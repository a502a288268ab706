//! `cargo xtask`: the project's own commands. CI runs `cargo xtask test`, nothing more.
//!
//! - `setup`: installs every missing tool (idempotent; fast when all is there).
//! - `build`: the Stripe emulator, the widget bundle (www/pkg) and the Worker (edge/build).
//! - `dev`: setup + build, then the local stack (emulator, wrangler dev with local D1/KV, demo site); Ctrl-C stops it.
//! - `test`: setup, fmt, clippy, native tests, wasm browser tests, build, end-to-end tests.
//! - `bench`: benchmarks and size budgets.
//! - `soak [CASES]`: the end-to-end chaos property test (tests/e2e/tests/chaos.rs) for CASES random seeds (default
//!   50), 8 deliveries at once; prints the cases run and failed, and each failing seed with its history.

mod bench;
mod build;
mod imports;
mod load;
mod purity;
mod setup;

use std::process::{Command, ExitCode};
use std::time::Instant;

use latch_e2e::{Stack, StackOptions, repo_root};

/// Result of a step: an error is a message for the person at the terminal.
type Step = Result<(), String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build") => setup::run().and_then(|()| build::all()),
        Some("dev") => dev(),
        Some("test") => test(),
        Some("bench") => setup::run().and_then(|()| build::all()).and_then(|()| bench::run()),
        Some("soak") => soak(args.get(1).map(String::as_str)),
        _ => {
            eprintln!("usage: cargo xtask <setup | build | dev | test | bench | soak [CASES]>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command from the repo root with the tool environment; fails with its name if it fails.
pub(crate) fn exec(cmd: &mut Command) -> Step {
    let started = Instant::now();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    let shown = format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "));
    println!("\n$ {shown}");
    let status = cmd.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    println!("  ({:.1}s)", started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
}

/// A command with the tool environment, run from the repo root. Unlike [`latch_e2e::command`] it stays in the
/// terminal's process group, so Ctrl-C reaches it.
pub(crate) fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    c.envs(latch_e2e::tool_env()).current_dir(repo_root());
    c
}

pub(crate) fn cargo() -> Command {
    cmd(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn dev() -> Step {
    setup::run()?;
    build::local()?;
    let stack = Stack::start(StackOptions {
        edge_port: 8787,
        emulator_port: 12111,
        state_dir: repo_root().join("target/dev-state"),
        verbose: true,
        retry_base_ms: 500,
        ..StackOptions::default()
    })?;
    stack.seed_demo()?;
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    println!("\n  Latch is running.");
    println!("  Demo site:       {}/demo/", stack.edge_url);
    println!(
        "  Owner dashboard: {}/dashboard (any email; the code is in {}/dev/outbox)",
        stack.edge_url, stack.edge_url
    );
    println!("  Edge API:        {}/v1/health", stack.edge_url);
    println!("  Stripe emulator: {}", stack.emulator_url);
    println!("  Pay with 4242 4242 4242 4242 (any other number declines). Ctrl-C stops everything.\n");
    let _ = rx.recv();
    println!("\nstopping...");
    drop(stack);
    Ok(())
}

fn soak(cases: Option<&str>) -> Step {
    let cases: u32 = cases.unwrap_or("50").parse().map_err(|_| "soak takes a number of cases".to_string())?;
    setup::run()?;
    build::local()?;
    exec(
        cargo()
            .args(["test", "-p", "latch-e2e", "--test", "chaos", "--", "--nocapture"])
            .env("LATCH_CHAOS_CASES", cases.to_string())
            .env("LATCH_CHAOS_CONCURRENCY", "8"),
    )
}

fn test() -> Step {
    let started = Instant::now();
    setup::run()?;
    exec(cargo().args(["fmt", "--all", "--", "--check"]))?;
    exec(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let wasm = ["--target", "wasm32-unknown-unknown"];
    exec(cargo().args(["clippy", "-p", "latch-edge", "-p", "latch-widget"]).args(wasm).args(["--", "-D", "warnings"]))?;
    exec(cargo().args(["clippy", "-p", "latch-edge", "--features", "dev"]).args(wasm).args(["--", "-D", "warnings"]))?;
    exec(cargo().args(["test", "--workspace", "--exclude", "latch-e2e"]))?;
    exec(cargo().args(["test", "-p", "latch-core", "--test", "webcrypto"]).args(wasm))?;
    exec(cargo().args(["test", "-p", "latch-widget"]).args(wasm))?;
    build::local()?;
    purity::check()?;
    exec(cargo().args(["test", "-p", "latch-e2e", "--", "--test-threads=1", "--nocapture"]))?;
    println!("\nall checks passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}
