//! Where to go after signing in: only ever a path on this site (no open redirect).

/// Where a signed-in visitor goes by default.
pub const AFTER_SIGN_IN: &str = "/pilot";

/// `raw` when it is a path on this site: it starts with one `/` (`//host` is another site),
/// has no backslash (browsers read `/\host` as `//host`) and only visible ASCII.
pub fn local(raw: Option<&str>) -> Option<String> {
    let path = raw?.trim();
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 2000
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then(|| path.to_string())
}

/// `next` from a query string, if present and local.
pub fn from_query(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    let raw = pairs.into_iter().find(|(k, _)| k == "next").map(|(_, v)| v);
    local(raw.as_deref())
}

/// The sign-in page, returning to `next` afterwards. `/` stays readable in the query
/// (`/login?next=/pilot`); everything else outside the unreserved set is percent-encoded.
pub fn login_url(next: &str) -> String {
    match local(Some(next)) {
        Some(path) => {
            let mut url = String::from("/login?next=");
            for b in path.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                    url.push(char::from(b));
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
            url
        }
        None => "/login".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_kept() {
        assert_eq!(local(Some("/pilot")).as_deref(), Some("/pilot"));
        assert_eq!(
            local(Some("/pilot/abc?x=1")).as_deref(),
            Some("/pilot/abc?x=1")
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "pilot",
            "",
            "/a b",
            "/\u{e9}",
        ] {
            assert_eq!(local(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn login_urls_round_trip_through_the_query() {
        assert_eq!(login_url("/pilot"), "/login?next=/pilot");
        let url = login_url("/pilot/1?a=b&c=d");
        assert_eq!(url, "/login?next=/pilot/1%3Fa%3Db%26c%3Dd");
        let query = url.split_once('?').map(|(_, q)| q);
        assert_eq!(from_query(query).as_deref(), Some("/pilot/1?a=b&c=d"));
        assert_eq!(login_url("//evil"), "/login");
    }
}
