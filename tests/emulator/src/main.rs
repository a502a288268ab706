//! `stripe-emulator --port N [--api-key sk_test_...] [--webhook URL=whsec_SECRET]... [--retry-base-ms MS]`

use latch_stripe_emulator::chaos::Chaos;
use latch_stripe_emulator::events::CliEndpoint;
use latch_stripe_emulator::store::AfterRetries;
use latch_stripe_emulator::{Config, start};
use std::io::Write;

const USAGE: &str = "usage: stripe-emulator --port N [--api-key sk_test_...] [--webhook URL=whsec_SECRET]... \
[--retry-base-ms MS] [--max-attempts N] [--after-retries cancel|unpaid] [--client-id ca_...] \
[--oauth-redirect-uri URL] [--platform-name NAME] [--clock-offset SECONDS] [--api-version YYYY-MM-DD.name] \
[--chaos seed=N,shuffle=N,duplicate=P,concurrency=N,delay_ms=MIN-MAX,drop_first=P,timeout=P]";

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut config = Config::default();
    let mut port = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        if matches!(name, "-h" | "--help") {
            return Err(USAGE.to_string());
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i).cloned().ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?
            }
        };
        match name {
            "--port" => port = Some(value.parse::<u16>().map_err(|_| format!("invalid --port: {value}"))?),
            "--api-key" => config.api_key = Some(value),
            "--webhook" => {
                let (url, secret) = value
                    .rsplit_once('=')
                    .filter(|(u, s)| !u.is_empty() && s.starts_with("whsec_"))
                    .ok_or_else(|| format!("invalid --webhook {value}: expected URL=whsec_SECRET"))?;
                config.webhooks.push(CliEndpoint { url: url.to_string(), secret: secret.to_string() });
            }
            "--retry-base-ms" => {
                config.retry_base_ms = value.parse().map_err(|_| format!("invalid --retry-base-ms: {value}"))?;
            }
            "--max-attempts" => {
                config.max_attempts = value.parse().map_err(|_| format!("invalid --max-attempts: {value}"))?;
            }
            "--api-version" => {
                if value.len() < 10 || value.as_bytes().get(4) != Some(&b'-') {
                    return Err(format!("invalid --api-version: {value} (like 2024-06-20 or 2025-03-31.basil)"));
                }
                config.api_version = value;
            }
            "--chaos" => config.chaos = Some(Chaos::from_cli(&value).map_err(|e| format!("invalid --chaos: {e}"))?),
            "--client-id" => config.oauth.client_id = Some(value),
            "--platform-name" => config.oauth.platform_name = Some(value),
            "--oauth-redirect-uri" => config.oauth.redirect_uri = Some(value),
            "--clock-offset" => {
                config.clock_offset = value.parse().map_err(|_| format!("invalid --clock-offset: {value}"))?;
            }
            "--after-retries" => {
                config.after_retries = match value.as_str() {
                    "cancel" | "canceled" => AfterRetries::Cancel,
                    "unpaid" => AfterRetries::Unpaid,
                    _ => {
                        return Err(format!("invalid --after-retries: {value} (cancel or unpaid)"));
                    }
                };
            }
            _ => return Err(format!("unknown argument {name}\n{USAGE}")),
        }
        i += 1;
    }
    config.port = port.ok_or_else(|| format!("--port is required\n{USAGE}"))?;
    Ok(config)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let running = match start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stripe-emulator: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "stripe-emulator listening on {}", running.base_url);
    if let Some(chaos) = &running.state.config.chaos {
        eprintln!("stripe-emulator: delivery chaos on every endpoint: {}", chaos.to_json());
    }
    let _ = out.flush();
    let _ = running.task.await;
}
