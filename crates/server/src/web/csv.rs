//! CSV downloads of the Analytics page's tables: RFC 4180 quoting, and text cells that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) written with a leading `'`, so a flow name typed as `=HYPERLINK(…)` stays text.

use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

/// One cell: text is guarded against formulas, numbers are written as they are.
pub enum Cell {
    Text(String),
    Number(String),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn opt_text(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    pub fn int(n: i64) -> Cell {
        Cell::Number(n.to_string())
    }

    pub fn float(n: Option<f64>) -> Cell {
        n.map_or(Cell::Empty, |n| Cell::Number(n.to_string()))
    }
}

fn guarded(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// The document: a header line, then one line per row, each ended by CRLF.
pub fn write(header: &[&str], rows: impl IntoIterator<Item = Vec<Cell>>) -> String {
    let mut out = String::new();
    let line = |out: &mut String, fields: Vec<String>| {
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    line(&mut out, header.iter().map(|h| quoted(h)).collect());
    for row in rows {
        let fields = row
            .into_iter()
            .map(|cell| match cell {
                Cell::Text(t) => quoted(&guarded(&t)),
                Cell::Number(n) => n,
                Cell::Empty => String::new(),
            })
            .collect();
        line(&mut out, fields);
    }
    out
}

/// The document as a download named `filename` (a name we chose, ASCII only).
pub fn attachment(filename: &str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_quotes_and_newlines_are_quoted() {
        let doc = write(
            &["name", "n"],
            [vec![
                Cell::text("Printer, \"lobby\"\nfloor 2"),
                Cell::int(3),
            ]],
        );
        assert_eq!(doc, "name,n\r\n\"Printer, \"\"lobby\"\"\nfloor 2\",3\r\n");
    }

    #[test]
    fn text_that_would_be_a_formula_stays_text() {
        let doc = write(
            &["a", "b", "c", "d"],
            [vec![
                Cell::text("=1+1"),
                Cell::text("+cmd"),
                Cell::text("-2"),
                Cell::text("@SUM(A1)"),
            ]],
        );
        assert_eq!(doc, "a,b,c,d\r\n'=1+1,'+cmd,'-2,'@SUM(A1)\r\n");
    }

    #[test]
    fn numbers_and_empty_cells_are_written_plainly() {
        let doc = write(
            &["x"],
            [vec![Cell::float(Some(0.25))], vec![Cell::float(None)]],
        );
        assert_eq!(doc, "x\r\n0.25\r\n\r\n");
    }
}
