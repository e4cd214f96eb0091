//! Documentation markdown to HTML for the documentation page. The markdown holds the
//! engineer's and the AI's words, so it is untrusted: raw HTML in it is shown as text, and
//! links and images may only point to http(s), mailto or a local path.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

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

pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
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
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Short step text (a question, an instruction, a hint) as inline HTML: the flows and the AI
/// write `code` and **emphasis** in them, which should not show as raw asterisks and
/// backticks. Paragraph breaks become line breaks so the text fits inside a heading.
pub fn inline(text: &str) -> String {
    let html = to_html(text);
    let trimmed = html.trim_end();
    let inner = trimmed
        .strip_prefix("<p>")
        .and_then(|t| t.strip_suffix("</p>"))
        .filter(|t| !t.contains("<p>"))
        .map(str::to_string);
    inner.unwrap_or_else(|| {
        trimmed
            .replace("</p>\n<p>", "<br><br>")
            .replace("<p>", "")
            .replace("</p>", "")
    })
}

#[cfg(test)]
mod tests {
    use super::{inline, to_html};

    #[test]
    fn step_text_renders_inline() {
        assert_eq!(
            inline("Open `control keymgr.dll` and **remove** <b>them</b>"),
            "Open <code>control keymgr.dll</code> and <strong>remove</strong> &lt;b&gt;them&lt;/b&gt;"
        );
        assert_eq!(inline("One.\n\nTwo."), "One.<br><br>Two.");
    }

    #[test]
    fn headings_lists_and_emphasis_render() {
        let html = to_html("# Title\n\n- **one**\n- two\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<li><strong>one</strong></li>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html("Problem: <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n<div onclick=x>block</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn script_urls_are_disarmed() {
        let html = to_html("[click](javascript:alert(1)) [ok](https://example.com/a) [local](/pilot)\n\n![x](data:text/html,boom)\n");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("data:text"), "{html}");
        assert!(html.contains("href=\"https://example.com/a\""), "{html}");
        assert!(html.contains("href=\"/pilot\""), "{html}");
    }
}
