//! Character-safe text trimming for prompts. Every cut counts characters, not bytes, so a
//! multi-byte character (an accented name, a CJK path) is never split.

/// `text` cut to at most `max_chars` characters, with `…` marking the cut.
pub(super) fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            // The ellipsis takes one of the allowed characters.
            let keep = max_chars.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(cut, |(i, _)| i);
            format!("{}…", &text[..end])
        }
        None => text.to_string(),
    }
}

/// Whitespace (newlines included) collapsed to single spaces, for one-line summaries.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `one_line` then `clip`.
pub(super) fn clip_line(text: &str, max_chars: usize) -> String {
    clip(&one_line(text), max_chars)
}

/// `text` kept whole when it fits in `max_chars`; otherwise its head and its tail with a marker
/// between them. Logs carry the trigger near the top and the failure near the bottom, so both
/// ends are worth more than the middle; the tail gets the larger share because that is where
/// the error usually is.
pub(super) fn head_and_tail(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let head_chars = max_chars * 2 / 5;
    let tail_chars = max_chars - head_chars;
    let head_end = text
        .char_indices()
        .nth(head_chars)
        .map_or(text.len(), |(i, _)| i);
    let tail_start = text
        .char_indices()
        .nth(total - tail_chars)
        .map_or(text.len(), |(i, _)| i);
    format!(
        "{}\n[… {} characters omitted …]\n{}",
        &text[..head_end],
        total - head_chars - tail_chars,
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_marks_cuts() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("abcdefghijk", 5), "abcd…");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line("  a\n\tb   c \n"), "a b c");
        assert_eq!(clip_line("a\nb\nc\nd", 4), "a b…");
    }

    #[test]
    fn head_and_tail_keeps_both_ends() {
        let log: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let cut = head_and_tail(&log, 500);
        assert!(cut.starts_with("line 0\n"));
        assert!(cut.ends_with("line 999\n"));
        assert!(cut.contains("characters omitted"));
        assert!(cut.chars().count() < 560);
        assert_eq!(head_and_tail("small", 500), "small");
    }

    #[test]
    fn head_and_tail_is_char_safe() {
        let text = "é".repeat(100);
        let cut = head_and_tail(&text, 10);
        assert!(cut.starts_with("éééé\n"));
        assert!(cut.ends_with("\néééééé"));
    }
}
