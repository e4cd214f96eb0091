//! Text between FlowPilot and the PSAs. Outgoing: the session's markdown as plain text
//! (ConnectWise and Autotask show notes verbatim, so `**`, `##` and backticks would pile up)
//! or as HTML (Halo). Incoming: a PSA's HTML (Halo's details and actions) as plain text for
//! the intake.
//!
//! The markdown holds the engineer's and the AI's words, so it is untrusted: in HTML, raw
//! HTML in it is shown as text and links may only point to http(s) or mailto, the same rules
//! as the server's documentation page.

use pulldown_cmark::{html, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Markdown as HTML for a PSA that renders HTML notes.
pub fn markdown_to_html(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, options()).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        // A PSA note has no business loading images from wherever a session pointed.
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: if safe_url(&dest_url) {
                dest_url
            } else {
                CowStr::Borrowed("#")
            },
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // A colon after a slash, `?` or `#` is part of a path, not a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Markdown as plain text that reads well where notes are shown verbatim: headings stand on
/// their own line (the top two underlined), lists keep their bullets and numbers, code blocks
/// are indented, emphasis and backticks go, links keep their address in brackets.
pub fn markdown_to_plain(markdown: &str) -> String {
    let mut w = PlainWriter::default();
    for event in Parser::new_ext(markdown, options()) {
        w.event(event);
    }
    w.finish()
}

#[derive(Default)]
struct PlainWriter {
    out: String,
    /// One entry per open list: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    in_code_block: bool,
    heading_start: Option<(usize, HeadingLevel)>,
    links: Vec<(String, usize)>,
    table_cell: usize,
}

impl PlainWriter {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => self.text(&code),
            Event::Html(raw) | Event::InlineHtml(raw) => self.text(&raw),
            Event::SoftBreak | Event::HardBreak => self.newline(),
            Event::Rule => {
                self.block();
                self.text("----------");
                self.newline();
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(name) => self.text(&format!("[{name}]")),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph if self.at_item_start() => {}
            Tag::Paragraph => self.block(),
            Tag::Heading { level, .. } => {
                self.block();
                self.heading_start = Some((self.out.len(), level));
            }
            Tag::BlockQuote(_) => {
                self.block();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(_) => {
                self.block();
                self.in_code_block = true;
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.line_start();
                let depth = self.lists.len().saturating_sub(1);
                let bullet = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let bullet = format!("{n}. ");
                        *n += 1;
                        bullet
                    }
                    _ => "- ".to_string(),
                };
                self.text(&format!("{}{bullet}", "  ".repeat(depth)));
            }
            Tag::Table(_) => self.block(),
            Tag::TableHead | Tag::TableRow => {
                self.line_start();
                self.table_cell = 0;
            }
            Tag::TableCell => {
                if self.table_cell > 0 {
                    self.text(" | ");
                }
                self.table_cell += 1;
            }
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push((dest_url.to_string(), self.out.len()));
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::TableHead | TagEnd::TableRow | TagEnd::Item => {
                self.line_start()
            }
            TagEnd::Heading(_) => {
                if let Some((start, level)) = self.heading_start.take() {
                    let width = self.out[start..].chars().count();
                    let underline = match level {
                        HeadingLevel::H1 => Some('='),
                        HeadingLevel::H2 => Some('-'),
                        _ => None,
                    };
                    if let Some(c) = underline {
                        self.out.push('\n');
                        self.out.extend(std::iter::repeat_n(c, width));
                    }
                }
                self.line_start();
            }
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.line_start();
            }
            TagEnd::CodeBlock => {
                self.in_code_block = false;
                self.line_start();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.line_start();
            }
            TagEnd::Link | TagEnd::Image => {
                if let Some((url, start)) = self.links.pop() {
                    let shown = self.out[start..].trim();
                    let bare = url.strip_prefix("mailto:").unwrap_or(&url);
                    if !url.is_empty() && shown != bare {
                        self.out.push_str(&format!(" ({url})"));
                    }
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_code_block {
            for line in text.split_inclusive('\n') {
                self.prefix_if_line_start();
                self.out.push_str("    ");
                self.out.push_str(line);
            }
            return;
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if !part.is_empty() {
                self.prefix_if_line_start();
                self.out.push_str(part);
            }
        }
    }

    fn prefix_if_line_start(&mut self) {
        if self.quote_depth > 0 && (self.out.is_empty() || self.out.ends_with('\n')) {
            self.out.push_str(&"> ".repeat(self.quote_depth));
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
    }

    /// Ends the current line, if any text is on it.
    fn line_start(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// A blank line before a new block, except at the very start.
    fn block(&mut self) {
        self.line_start();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn at_item_start(&self) -> bool {
        !self.lists.is_empty() && self.out.trim_end_matches(' ').ends_with(['-', '.'])
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.out.len());
        let mut blank_run = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank_run += 1;
                if blank_run > 1 {
                    continue;
                }
            } else {
                blank_run = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim().to_string()
    }
}

/// A PSA's HTML as plain text: block tags become line breaks, tags go, the common entities
/// are decoded. Enough for the intake, which only reads it.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return html.trim().to_string();
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = after[..close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match tag.as_str() {
            "br" | "p" | "div" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
            | "ul" | "ol" | "pre" | "blockquote" => out.push('\n'),
            "li" if !after.starts_with('/') => out.push_str("\n- "),
            "td" | "th" if !after.starts_with('/') => out.push(' '),
            _ => {}
        }
        let skip_to = if tag == "style" || tag == "script" {
            // Their content is not text; skip to the closing tag.
            let closing = format!("</{tag}");
            after[close..]
                .to_ascii_lowercase()
                .find(&closing)
                .map(|at| close + at)
                .and_then(|at| after[at..].find('>').map(|end| at + end))
                .unwrap_or(close)
        } else {
            close
        };
        rest = &after[skip_to + 1..];
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    let mut text = String::with_capacity(decoded.len());
    let mut blank = false;
    for line in decoded.lines().map(str::trim) {
        if line.is_empty() {
            if !blank && !text.is_empty() {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(line);
            text.push('\n');
            blank = false;
        }
    }
    text.trim().to_string()
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity_end = after.find(';').filter(|&end| end <= 10);
        let decoded = entity_end.and_then(|end| decode_entity(&after[..end]));
        match (decoded, entity_end) {
            (Some(c), Some(end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// A note's markdown as plain text with its marker line after it, verbatim: markdown would
/// turn a marker's `_x_` into emphasis and the marker could no longer be found.
pub fn plain_with_marker(markdown: &str, marker_line: &str) -> String {
    format!("{}\n\n{marker_line}", markdown_to_plain(markdown))
}

/// Plain `text` cut to fit `max` characters together with the marker line after it, which
/// must survive the cut.
pub fn within_with_marker(text: &str, marker_line: &str, max: usize) -> String {
    let room = max.saturating_sub(marker_line.chars().count() + 2);
    format!("{}\n\n{marker_line}", truncate(text.trim_end(), room))
}

/// The HTML counterpart of [`plain_with_marker`].
pub fn html_with_marker(markdown: &str, marker_line: &str) -> String {
    let mut escaped = String::with_capacity(marker_line.len());
    for c in marker_line.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    format!("{}<p>{escaped}</p>\n", markdown_to_html(markdown))
}

/// At most `max` characters, cut at a character boundary with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A short title from a markdown text: its first heading or line, without markdown symbols.
pub fn title_of(markdown: &str, max: usize) -> Option<String> {
    let first = markdown_to_plain(markdown)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.chars().all(|c| c == '=' || c == '-'))?
        .to_string();
    Some(truncate(&first, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Outlook keeps asking for a password\n\n**Status:** resolved  \n**Engineer:** Ann\n\n## Problem\n\nThe user *cannot* sign in with `outlook.exe`.\n\n## Steps\n\n1. Checked the [portal](https://portal.example/x)\n2. Cleared the profile\n   - removed `OST`\n\n```\nGet-MailboxStatistics ann\n```\n\n> quoted\n";

    #[test]
    fn plain_text_keeps_structure_without_markdown_symbols() {
        let plain = markdown_to_plain(DOC);
        let expected = "Outlook keeps asking for a password\n===================================\n\nStatus: resolved\nEngineer: Ann\n\nProblem\n-------\n\nThe user cannot sign in with outlook.exe.\n\nSteps\n-----\n\n1. Checked the portal (https://portal.example/x)\n2. Cleared the profile\n  - removed OST\n\n    Get-MailboxStatistics ann\n\n> quoted";
        assert_eq!(plain, expected);
        for symbol in ["**", "##", "`", "]("] {
            assert!(!plain.contains(symbol), "{symbol} left in {plain}");
        }
    }

    #[test]
    fn html_escapes_the_session_text() {
        let html = markdown_to_html(
            "## Fix\n\n<script>alert(1)</script> a & b\n\n[x](javascript:alert(1)) ![i](https://e.example/i.png)",
        );
        assert!(html.contains("<h2>Fix</h2>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("href=\"#\""));
        assert!(!html.contains("<img"));
    }

    #[test]
    fn html_reads_as_text() {
        let text = html_to_text(
            "<div>Printer &amp; scanner<br>offline</div><p>Since&nbsp;Monday &lt;3</p><ul><li>one</li><li>two</li></ul><style>p{}</style>end",
        );
        assert_eq!(
            text,
            "Printer & scanner\noffline\n\nSince Monday <3\n\n- one\n- two\nend"
        );
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(
            html_to_text("a &#x41;&#66; &unknown; &"),
            "a AB &unknown; &"
        );
    }

    #[test]
    fn markers_stay_verbatim() {
        let plain = plain_with_marker("Done *now*", "FlowPilot ref: fp_1_2");
        assert_eq!(plain, "Done now\n\nFlowPilot ref: fp_1_2");
        let html = html_with_marker("Done", "FlowPilot ref: fp_1_<2>");
        assert_eq!(html, "<p>Done</p>\n<p>FlowPilot ref: fp_1_&lt;2&gt;</p>\n");
        let cut = within_with_marker(&"x".repeat(100), "FlowPilot ref: m", 40);
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with("x…\n\nFlowPilot ref: m"));
    }

    #[test]
    fn titles_and_truncation() {
        assert_eq!(
            title_of(DOC, 250).as_deref(),
            Some("Outlook keeps asking for a password")
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
