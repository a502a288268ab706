//! Delivery chaos: webhooks delivered the way Stripe may deliver them, late, twice, out of order and several at
//! once. Off by default; switched on per endpoint (or for all) through `POST /_emulator/chaos` or `--chaos`.
//! Every choice comes from a seeded generator, and the seed is reported, so a failing run can be replayed.

use serde_json::{Value, json};

/// How deliveries to an endpoint misbehave.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    /// Seed of the generator behind every choice below.
    pub seed: u64,
    /// Deliveries queued together are shuffled in windows of this many (1: in order).
    pub shuffle: usize,
    /// Probability that a delivery is also sent a second time, as a separate delivery.
    pub duplicate: f64,
    /// Deliveries in flight at once (1: one after the other).
    pub concurrency: usize,
    /// Each attempt waits a random delay in this range (milliseconds) first.
    pub delay_ms: (u64, u64),
    /// Probability that a delivery's first attempt never reaches the endpoint (it is retried).
    pub drop_first: f64,
    /// Probability that a delivery's first attempt reaches the endpoint but its answer is treated as a timeout (so
    /// the endpoint sees it again on the retry).
    pub timeout: f64,
}

impl Chaos {
    /// Reads a control-API body (`{"seed", "shuffle", "duplicate", "concurrency", "delay_ms": [min, max],
    /// "drop_first", "timeout"}`); missing fields are calm, a missing seed is drawn at random.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let probability = |key: &str| -> Result<f64, String> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(0.0),
                Some(p) => {
                    p.as_f64().filter(|p| (0.0..=1.0).contains(p)).ok_or(format!("{key} must be between 0 and 1"))
                }
            }
        };
        let count = |key: &str| -> Result<usize, String> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(1),
                Some(n) => n
                    .as_u64()
                    .filter(|n| (1..=64).contains(n))
                    .map(|n| n as usize)
                    .ok_or(format!("{key} must be a whole number from 1 to 64")),
            }
        };
        let delay_ms = match v.get("delay_ms") {
            None | Some(Value::Null) => (0, 0),
            Some(d) => match (d[0].as_u64(), d[1].as_u64()) {
                (Some(lo), Some(hi)) if lo <= hi && hi <= 10_000 => (lo, hi),
                _ => return Err("delay_ms must be [min, max] milliseconds, max at most 10000".into()),
            },
        };
        let seed = match v.get("seed") {
            None | Some(Value::Null) => fresh_seed(),
            Some(s) => s.as_u64().ok_or("seed must be a whole number")?,
        };
        Ok(Self {
            seed,
            shuffle: count("shuffle")?,
            duplicate: probability("duplicate")?,
            concurrency: count("concurrency")?,
            delay_ms,
            drop_first: probability("drop_first")?,
            timeout: probability("timeout")?,
        })
    }

    /// Reads the CLI form, `seed=7,shuffle=8,duplicate=0.2,concurrency=4,delay_ms=0-50,drop_first=0.1,timeout=0.1`.
    pub fn from_cli(text: &str) -> Result<Self, String> {
        let mut v = serde_json::Map::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or(format!("expected key=value, got {part}"))?;
            let parsed = if key == "delay_ms" {
                let (lo, hi) = value.split_once('-').unwrap_or((value, value));
                json!([lo.parse::<u64>().map_err(|_| "bad delay_ms")?, hi.parse::<u64>().map_err(|_| "bad delay_ms")?])
            } else {
                serde_json::from_str(value).map_err(|_| format!("bad value for {key}: {value}"))?
            };
            v.insert(key.to_string(), parsed);
        }
        Self::from_json(&Value::Object(v))
    }

    /// The settings as the control API reports them.
    pub fn to_json(&self) -> Value {
        json!({
            "seed": self.seed, "shuffle": self.shuffle, "duplicate": self.duplicate, "concurrency": self.concurrency,
            "delay_ms": [self.delay_ms.0, self.delay_ms.1], "drop_first": self.drop_first, "timeout": self.timeout,
        })
    }

    /// The faults of one delivery, drawn from `rng`.
    pub fn draw(&self, rng: &mut Rng) -> Faults {
        Faults {
            delay_ms: rng.between(self.delay_ms.0, self.delay_ms.1),
            drop_first: rng.chance(self.drop_first),
            timeout_first: rng.chance(self.timeout),
        }
    }
}

/// What happens to one delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Wait before each attempt.
    pub delay_ms: u64,
    /// The first attempt never reaches the endpoint.
    pub drop_first: bool,
    /// The first attempt's answer is treated as a timeout.
    pub timeout_first: bool,
}

/// A small seeded generator (SplitMix64): the same seed gives the same choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.next_u64() % (hi - lo + 1) }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Rng::new(nanos as u64).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_choices() {
        let chaos = Chaos::from_cli("seed=7,shuffle=8,duplicate=0.5,delay_ms=0-50,drop_first=0.5").unwrap();
        let draws = |c: &Chaos| {
            let mut rng = Rng::new(c.seed);
            (0..20).map(|_| c.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draws(&chaos), draws(&chaos));
        assert!(draws(&chaos).iter().any(|f| f.drop_first) && draws(&chaos).iter().any(|f| !f.drop_first));
        let mut items: Vec<u32> = (0..10).collect();
        Rng::new(1).shuffle(&mut items);
        assert_ne!(items, (0..10).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn settings_are_checked() {
        assert!(Chaos::from_json(&json!({"duplicate": 2})).is_err());
        assert!(Chaos::from_json(&json!({"concurrency": 0})).is_err());
        assert!(Chaos::from_json(&json!({"delay_ms": [5, 1]})).is_err());
        assert!(Chaos::from_cli("shuffle").is_err());
        let calm = Chaos::from_json(&json!({"seed": 3})).unwrap();
        assert_eq!((calm.shuffle, calm.concurrency, calm.duplicate), (1, 1, 0.0));
        assert_eq!(Chaos::from_json(&calm.to_json()).unwrap(), calm);
    }
}
