//! Search latency and memory of the flow index on synthetic libraries.
//!
//! `cargo bench -p flowpilot-matching --bench matching` (add `--features embeddings` and set
//! `FLOWPILOT_EMBEDDING_MODEL_DIR` to also time the real model). Plain `std::time`, no
//! benchmark framework: the figures are latencies of single searches, p50 and p99.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::time::{Duration as Elapsed, Instant};

use chrono::{Duration, TimeZone, Utc};
use flowpilot_matching::{FlowEntry, FlowIndex, MatchQuery};
use uuid::Uuid;

const DIMENSIONS: usize = 384;
const QUERIES: usize = 300;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 11) as usize % n
    }

    /// Zipf-like: small indexes far more often, as words are in real text.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }

    fn unit_vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMENSIONS)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

/// A vocabulary of made-up words plus the kind of identifiers intakes contain.
fn vocabulary() -> Vec<String> {
    let syllables = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "dre", "pan", "tor", "gel",
    ];
    let mut words: Vec<String> = (0..6000)
        .map(|i| {
            let mut w = String::new();
            let mut n = i + 12;
            while n > 0 {
                w.push_str(syllables[n % syllables.len()]);
                n /= syllables.len();
            }
            w
        })
        .collect();
    words.extend((0..500).map(|i| format!("0x8007{i:04x}")));
    words
}

fn flow_text(rng: &mut Rng, words: &[String]) -> String {
    // About the size of a real flow's search text: ~120 tokens.
    (0..120)
        .map(|_| words[rng.zipf(words.len())].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Elapsed], p: f64) -> Elapsed {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(size: usize, embeddings: bool) {
    let now = Utc
        .with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let words = vocabulary();
    let mut rng = Rng(0x5eed ^ size as u64);
    let mut texts = Vec::with_capacity(size);
    let mut index = FlowIndex::default();
    let started = Instant::now();
    for n in 0..size {
        let text = flow_text(&mut rng, &words);
        let entry = FlowEntry {
            id: Uuid::from_u128(n as u128 + 1),
            account_id: (n % 4 != 0).then(|| Uuid::from_u128((n % 50) as u128 + 1_000_000)),
            domain: format!("domain{}", n % 12),
            published: n % 10 != 0,
            search_text: text.clone(),
            semantic_text: text.clone(),
            last_activity: now - Duration::days((n % 365) as i64),
        };
        let vector = embeddings.then(|| rng.unit_vector());
        index.upsert_with_embedding(entry, vector);
        texts.push(text);
    }
    index.shrink_to_fit();
    let build = started.elapsed();

    let mut latencies = Vec::with_capacity(QUERIES);
    let mut matched = 0;
    for q in 0..QUERIES {
        // Eight words of a random flow, half of them replaced by random words.
        let source: Vec<&str> = texts[rng.below(size)].split(' ').collect();
        let text: Vec<&str> = (0..8)
            .map(|i| {
                if i % 2 == 0 {
                    source[rng.below(source.len())]
                } else {
                    words[rng.zipf(words.len())].as_str()
                }
            })
            .collect();
        let query = MatchQuery {
            text: text.join(" "),
            account_id: Some(Uuid::from_u128((q % 50) as u128 + 1_000_000)),
            domain: None,
            limit: 3,
        };
        let vector = embeddings.then(|| rng.unit_vector());
        let started = Instant::now();
        let results = index.search_with_embedding(&query, vector, now);
        latencies.push(started.elapsed());
        matched += usize::from(!results.is_empty());
    }
    latencies.sort();
    let memory = index.memory_usage();
    println!(
        "| {size:>7} | {:<11} | {:>8.2?} | {:>8.2?} | {:>6} B ({} B keywords, {} B vectors) | {:>7.2?} | {matched}/{QUERIES} |",
        if embeddings { "fake 384-d" } else { "none" },
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        memory.per_flow(),
        memory.keyword_bytes / size,
        memory.embedding_bytes / size,
        build,
    );
}

#[cfg(feature = "embeddings")]
fn real_model() {
    use flowpilot_matching::{Embedder, MiniLmEmbedder};
    let Some(dir) = std::env::var_os("FLOWPILOT_EMBEDDING_MODEL_DIR") else {
        println!("\nFLOWPILOT_EMBEDDING_MODEL_DIR not set: real model not timed");
        return;
    };
    let started = Instant::now();
    let model = match MiniLmEmbedder::load(std::path::Path::new(&dir)) {
        Ok(model) => model,
        Err(err) => {
            println!("\nmodel did not load: {err}");
            return;
        }
    };
    println!("\nall-MiniLM-L6-v2 load: {:.2?}", started.elapsed());
    let intake = "Outlook keeps asking for my password since this morning, other users are fine";
    let flow = vocabulary()[..400].join(" ");
    for (label, text) in [
        ("intake (14 words)", intake),
        ("flow text (256 tokens, truncated)", flow.as_str()),
    ] {
        let mut times: Vec<Elapsed> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let _ = model.embed(text);
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "embed {label}: p50 {:.2?}, p99 {:.2?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}

#[cfg(not(feature = "embeddings"))]
fn real_model() {
    println!("\nbuilt without the `embeddings` feature: real model not timed");
}

fn main() {
    // `cargo test --benches` runs this too; keep that quick.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1_000, 10_000, 100_000]
    } else {
        &[1_000]
    };
    println!("| flows | embeddings | search p50 | search p99 | memory per flow | build | queries matched |");
    println!("|---|---|---|---|---|---|---|");
    for &size in sizes {
        run(size, false);
        run(size, true);
    }
    real_model();
}
