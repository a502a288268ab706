//! verify + parse + apply of a realistic ~3 KB Stripe event (`benches/fixtures/event.json`, Stripe's own
//! subscription shape, pretty-printed like Stripe sends it), in ns per event.
//!
//! `cargo bench -p latch-core --bench webhook`; the ids are `webhook/verify_parse_apply` (the number compared with
//! Stripe's official `constructEvent` in `official_construct_event.mjs`), `webhook/verify`, `webhook/parse` and `webhook/apply`.
//! Criterion writes `target/criterion/webhook/<id>/new/estimates.json` (mean.point_estimate in ns).
//!
//! The bench profile is `opt-level = 3` (root Cargo.toml); the shipped wasm stays size-optimized (`release`).

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use std::hint::black_box;

    use criterion::{Criterion, Throughput};
    use latch_core::engine::{AccessState, Catalog, Input, ProductPolicy, apply, scope};
    use latch_core::event::Event;
    use latch_core::webhook::{DEFAULT_TOLERANCE_SECS, signature_header, verify};

    const BODY: &[u8] = include_bytes!("fixtures/event.json");
    const SECRET: &str = "whsec_bench_0123456789abcdefghijklmnop";
    const NOW: i64 = 1_790_000_101;

    fn catalog() -> Catalog {
        Catalog {
            products: vec![ProductPolicy::new("pro", "prod_QXg1hqf4jFNsqG")],
            livemode: false,
            site: Some("site_pub_1".into()),
            account: None,
        }
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let header = signature_header(BODY, SECRET, NOW - 1);
        let catalog = catalog();
        // The state the edge would load: the grant from the previous period.
        let state = match Event::parse(BODY) {
            Ok(e) => {
                let mut first = e;
                first.created -= 30 * 86_400;
                apply(&Input::Event(&first), &AccessState::default(), &catalog, NOW).state
            }
            Err(e) => panic!("bench fixture does not parse: {e}"),
        };
        assert_eq!(state.grants.len(), 1, "the fixture must map to a linked product");

        let mut g = c.benchmark_group("webhook");
        g.throughput(Throughput::Elements(1));
        g.bench_function("verify_parse_apply", |b| {
            b.iter(|| {
                let body = black_box(BODY);
                let ok = verify(body, black_box(&header), &[SECRET], NOW, DEFAULT_TOLERANCE_SECS);
                assert!(ok.is_ok());
                let event = Event::parse(body).unwrap_or_else(|e| panic!("{e}"));
                let input = Input::Event(&event);
                let _ = black_box(scope(&input));
                black_box(apply(&input, black_box(&state), &catalog, NOW))
            });
        });
        g.bench_function("verify", |b| {
            b.iter(|| verify(black_box(BODY), black_box(&header), &[SECRET], NOW, DEFAULT_TOLERANCE_SECS))
        });
        g.bench_function("parse", |b| b.iter(|| Event::parse(black_box(BODY))));
        let event = Event::parse(BODY).unwrap_or_else(|e| panic!("{e}"));
        g.bench_function("apply", |b| {
            b.iter(|| apply(&Input::Event(black_box(&event)), black_box(&state), &catalog, NOW))
        });
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::bench);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
