//! A cost estimate for the usage ledger. These are the providers' public list prices in USD per
//! million tokens (standard tier, no batch discounts), as their pricing pages published them in
//! 2025: input, input read from the prompt cache, and output. They are an estimate for reports
//! and quotas, not a bill. A model is matched by the longest listed prefix, so dated snapshots
//! (`gpt-4o-2024-08-06`) price like their family. Anything not listed, in particular local
//! models behind an OpenAI-compatible server, costs 0.
//!
//! Cached input: OpenAI's "cached input" column (a quarter to a tenth of the input rate by
//! model), Anthropic's cache-read rate (a tenth of the input rate), Gemini's context-caching
//! rate for prompts under 200k tokens. Anthropic bills writing the cache at 1.25 times the input
//! rate; the port does not report cache writes apart, so they are priced as plain input.

struct Price {
    provider: &'static str,
    model_prefix: &'static str,
    input_per_million: f64,
    cached_input_per_million: f64,
    output_per_million: f64,
}

const fn price(
    provider: &'static str,
    model_prefix: &'static str,
    input: f64,
    cached_input: f64,
    output: f64,
) -> Price {
    Price {
        provider,
        model_prefix,
        input_per_million: input,
        cached_input_per_million: cached_input,
        output_per_million: output,
    }
}

const PRICES: &[Price] = &[
    price("openai", "gpt-4.1", 2.00, 0.50, 8.00),
    price("openai", "gpt-4.1-mini", 0.40, 0.10, 1.60),
    price("openai", "gpt-4.1-nano", 0.10, 0.025, 0.40),
    price("openai", "gpt-4o", 2.50, 1.25, 10.00),
    price("openai", "gpt-4o-mini", 0.15, 0.075, 0.60),
    price("openai", "gpt-5", 1.25, 0.125, 10.00),
    price("openai", "gpt-5-mini", 0.25, 0.025, 2.00),
    price("openai", "gpt-5-nano", 0.05, 0.005, 0.40),
    price("openai", "o4-mini", 1.10, 0.275, 4.40),
    price("anthropic", "claude-sonnet-4", 3.00, 0.30, 15.00),
    price("anthropic", "claude-3-7-sonnet", 3.00, 0.30, 15.00),
    price("anthropic", "claude-3-5-sonnet", 3.00, 0.30, 15.00),
    price("anthropic", "claude-haiku-4", 1.00, 0.10, 5.00),
    price("anthropic", "claude-3-5-haiku", 0.80, 0.08, 4.00),
    price("anthropic", "claude-opus-4", 15.00, 1.50, 75.00),
    price("anthropic", "claude-opus-4-5", 5.00, 0.50, 25.00),
    price("gemini", "gemini-2.5-pro", 1.25, 0.125, 10.00),
    price("gemini", "gemini-2.5-flash", 0.30, 0.03, 2.50),
    price("gemini", "gemini-2.5-flash-lite", 0.10, 0.01, 0.40),
    price("gemini", "gemini-2.0-flash", 0.10, 0.025, 0.40),
    // No cached rate listed: a cached token is priced as any other input token.
    price("gemini", "gemini-2.0-flash-lite", 0.075, 0.075, 0.30),
];

/// Estimated cost in USD of one call without prompt caching; 0 for unknown or local models.
pub fn estimate_cost_usd(
    provider: &str,
    model: &str,
    input_tokens: i64,
    output_tokens: i64,
) -> f64 {
    estimate_cached_cost_usd(provider, model, input_tokens, 0, output_tokens)
}

/// Estimated cost in USD of one call of which `cached_input_tokens` (part of `input_tokens`)
/// were read from the provider's prompt cache; 0 for unknown or local models.
pub fn estimate_cached_cost_usd(
    provider: &str,
    model: &str,
    input_tokens: i64,
    cached_input_tokens: i64,
    output_tokens: i64,
) -> f64 {
    let model = model
        .trim()
        .trim_start_matches("models/")
        .to_ascii_lowercase();
    let Some(price) = PRICES
        .iter()
        .filter(|p| p.provider.eq_ignore_ascii_case(provider.trim()))
        .filter(|p| model.starts_with(p.model_prefix))
        .max_by_key(|p| p.model_prefix.len())
    else {
        return 0.0;
    };
    // Negative counts would be a bug upstream; they must not produce a credit, nor may more
    // cached tokens than input tokens.
    let input = input_tokens.max(0);
    let cached = cached_input_tokens.clamp(0, input);
    let tokens = |n: i64| n as f64 / 1_000_000.0;
    tokens(input - cached) * price.input_per_million
        + tokens(cached) * price.cached_input_per_million
        + tokens(output_tokens.max(0)) * price.output_per_million
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn prices_by_the_longest_matching_prefix() {
        assert!(close(
            estimate_cost_usd("openai", "gpt-4.1-mini", 1_000_000, 1_000_000),
            2.0
        ));
        assert!(close(
            estimate_cost_usd("openai", "gpt-4.1", 1_000_000, 0),
            2.0
        ));
        assert!(close(
            estimate_cost_usd("openai", "gpt-4o-mini-2024-07-18", 2_000_000, 0),
            0.30
        ));
        assert!(close(
            estimate_cost_usd("anthropic", "claude-sonnet-4-5-20250929", 1000, 1000),
            0.018
        ));
        assert!(close(
            estimate_cost_usd("anthropic", "claude-opus-4-5", 0, 1_000_000),
            25.0
        ));
        assert!(close(
            estimate_cost_usd("gemini", "models/gemini-2.5-flash-lite", 1_000_000, 0),
            0.10
        ));
    }

    #[test]
    fn cached_input_is_priced_at_the_cached_rate() {
        // 1M input of which 800k cached: 200k at $3.00 and 800k at $0.30.
        assert!(close(
            estimate_cached_cost_usd("anthropic", "claude-sonnet-4-5", 1_000_000, 800_000, 0),
            0.6 + 0.24
        ));
        assert!(close(
            estimate_cached_cost_usd("openai", "gpt-4.1-mini", 1_000_000, 1_000_000, 0),
            0.10
        ));
        assert!(close(
            estimate_cached_cost_usd("gemini", "gemini-2.5-flash", 2_000_000, 1_000_000, 0),
            0.30 + 0.03
        ));
        // More cached than input, or negative: never cheaper than all cached, never a credit.
        assert!(close(
            estimate_cached_cost_usd("openai", "gpt-4.1", 1_000_000, 5_000_000, 0),
            0.50
        ));
        assert!(close(
            estimate_cached_cost_usd("openai", "gpt-4.1", 1_000_000, -5, 0),
            2.0
        ));
        assert_eq!(
            estimate_cached_cost_usd("openai", "llama3.1:8b", 5000, 4000, 10),
            0.0
        );
    }

    #[test]
    fn unknown_and_local_models_are_free() {
        assert_eq!(estimate_cost_usd("openai", "llama3.1:8b", 5000, 5000), 0.0);
        assert_eq!(estimate_cost_usd("offline", "gpt-4.1", 5000, 5000), 0.0);
        assert_eq!(estimate_cost_usd("openai", "gpt-4.1", -5, -5), 0.0);
    }
}
