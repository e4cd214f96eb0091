//! What the list pages (`/sessions`, `/flows`) share: reading their GET filters leniently and
//! paging 20 at a time with "Previous" / "Next" links that keep the filters.

/// Rows per page, as the API's default `limit`.
pub const PAGE_SIZE: i64 = 20;

/// Far beyond any real list; keeps `skip` arithmetic clear of overflow.
const MAX_PAGE: i64 = 100_000;

/// A page's query string. Hand-edited or stale URLs are normal on a list page, so nothing
/// here fails: a malformed string reads as empty, a repeated key uses its first value.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            query
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default(),
        )
    }

    /// The trimmed value of `key`; absent and blank are both `None`, and so is a value with a
    /// NUL character, which no filter can match (no text is stored with one).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty() && !v.contains('\0'))
    }

    /// A checkbox: present with any value but an explicit "no".
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "off"))
    }

    /// The 1-based `page`; anything unreadable or below 1 is the first page.
    pub fn page(&self) -> i64 {
        self.get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(1, |p| p.clamp(1, MAX_PAGE))
    }
}

/// Where a page sits in its list, and links to its neighbours.
#[derive(Debug)]
pub struct Pager {
    pub page: i64,
    pub total: i64,
    /// 1-based positions of the first and last row shown; 0 and 0 on an empty page.
    pub first: i64,
    pub last: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `path` with `filters` (empty values left out) is the list the links stay in.
    pub fn new(path: &str, filters: &[(&str, &str)], page: i64, shown: usize, total: i64) -> Self {
        let shown = i64::try_from(shown).unwrap_or(0);
        let first = if shown == 0 { 0 } else { skip(page) + 1 };
        let link = |page: i64| link(path, filters, page);
        Pager {
            page,
            total,
            first,
            last: if shown == 0 { 0 } else { skip(page) + shown },
            previous: (page > 1).then(|| link(last_page(total).min(page - 1))),
            next: (skip(page) + PAGE_SIZE < total).then(|| link(page + 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first == 0
    }

    /// "21 sessions, showing 1–20"; `one` and `many` name a row.
    pub fn count(&self, one: &str, many: &str) -> String {
        let noun = if self.total == 1 { one } else { many };
        if self.is_empty() {
            format!("{} {noun}", self.total)
        } else {
            format!(
                "{} {noun}, showing {}–{}",
                self.total, self.first, self.last
            )
        }
    }

    /// Whether there is more than one page to move between.
    pub fn has_links(&self) -> bool {
        self.previous.is_some() || self.next.is_some()
    }
}

/// Rows before `page`.
pub fn skip(page: i64) -> i64 {
    (page.clamp(1, MAX_PAGE) - 1) * PAGE_SIZE
}

/// The last page holding rows (1 for an empty list): "Previous" from far past the end jumps
/// back to it instead of stepping through empty pages.
fn last_page(total: i64) -> i64 {
    ((total.max(1) - 1) / PAGE_SIZE) + 1
}

fn link(path: &str, filters: &[(&str, &str)], page: i64) -> String {
    let page = page.to_string();
    let mut pairs: Vec<(&str, &str)> = filters
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if page != "1" {
        pairs.push(("page", &page));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_read_leniently() {
        let p = Params::parse(Some("status=+paused+&q=&page=x&page=3&mine=on"));
        assert_eq!(p.get("status"), Some("paused"));
        assert_eq!(p.get("q"), None);
        assert_eq!(p.page(), 1, "the first value counts, unreadable is page 1");
        assert!(p.flag("mine"));
        assert!(!p.flag("other"));
        assert!(!Params::parse(Some("mine=false")).flag("mine"));
        assert_eq!(Params::parse(Some("page=-4")).page(), 1);
        assert_eq!(Params::parse(Some("page=99999999999")).page(), MAX_PAGE);
        assert_eq!(Params::parse(None).page(), 1);
    }

    #[test]
    fn links_keep_the_filters_and_stop_at_the_ends() {
        let filters = [("status", "resolved"), ("q", "a b&c"), ("domain", "")];
        let p = Pager::new("/x", &filters, 1, 20, 45);
        assert_eq!((p.first, p.last), (1, 20));
        assert_eq!(p.previous, None);
        assert_eq!(
            p.next.as_deref(),
            Some("/x?status=resolved&q=a+b%26c&page=2")
        );
        let p = Pager::new("/x", &filters, 3, 5, 45);
        assert_eq!((p.first, p.last), (41, 45));
        assert_eq!(p.next, None);
        assert_eq!(
            p.previous.as_deref(),
            Some("/x?status=resolved&q=a+b%26c&page=2")
        );
        let p = Pager::new("/x", &[], 2, 20, 40);
        assert_eq!(p.previous.as_deref(), Some("/x"));
        assert_eq!(p.next, None);
    }

    #[test]
    fn past_the_end_is_empty_and_leads_back_to_the_last_page() {
        let p = Pager::new("/x", &[], 9, 0, 25);
        assert!(p.is_empty());
        assert_eq!(p.previous.as_deref(), Some("/x?page=2"));
        assert_eq!(p.next, None);
        assert!(!Pager::new("/x", &[], 1, 3, 3).has_links());
        assert_eq!(p.count("row", "rows"), "25 rows");
        assert_eq!(
            Pager::new("/x", &[], 1, 1, 1).count("row", "rows"),
            "1 row, showing 1–1"
        );
    }
}
