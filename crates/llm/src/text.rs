//! Shortening text for messages: a reply or a provider's error quoted in full would bury the
//! point, so quotes are cut to a few characters, on a character boundary.

/// `text` cut to at most `max_chars` characters, with an ellipsis when something was cut:
/// the same cut as the rest of the product's ([`domain::text::clip`]).
pub use domain::text::clip as truncate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }
}
