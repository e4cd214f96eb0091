//! Cutting text people wrote down to the length a title, a fact or a ticket field allows.

/// The first `max` characters of `text`, with `…` after them when something was cut; a
/// multi-byte character (an accented name, a CJK path) is never split.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_on_a_character_with_an_ellipsis() {
        assert_eq!(clip("Outlook", 7), "Outlook");
        assert_eq!(clip("Outlook asks", 7), "Outlook…");
        assert_eq!(clip("Zoë Müller", 3), "Zoë…");
        assert_eq!(clip("", 0), "");
    }
}
