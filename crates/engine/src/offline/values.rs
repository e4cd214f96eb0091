//! Measured values: "about 50 ms" falls in "30 to 150 ms"; "<1ms" is "Under 30 ms".
//!
//! Only ranges an option states ("under", "over", "to", "a-b", "15%+") are compared; a bare
//! number in an option ("100% loss", "port 3389") is left to plain word matching.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub unit: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    pub number: f64,
    pub unit: Option<&'static str>,
}

const UNITS: &[&str] = &["ms", "%", "gb", "mb", "mbps", "gbps", "s", "dbm"];

fn unit_of(word: &str) -> Option<&'static str> {
    UNITS.iter().copied().find(|u| *u == word)
}

/// A number with an optional unit glued on ("50ms", "100%", "<1ms").
fn number(word: &str) -> Option<(f64, Option<&'static str>, bool)> {
    let less = word.starts_with('<');
    let w = word.trim_start_matches(['<', '>', '~']);
    let split = w
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(w.len());
    let (digits, rest) = w.split_at(split);
    let n: f64 = digits.parse().ok()?;
    let rest = rest.trim_end_matches('+');
    let unit = if rest.is_empty() {
        None
    } else {
        Some(unit_of(rest)?)
    };
    Some((n, unit, less))
}

/// The first value the answer states.
pub fn value(clauses: &[Vec<String>]) -> Option<Value> {
    for words in clauses {
        for (i, w) in words.iter().enumerate() {
            if let Some((n, unit, less)) = number(w) {
                let unit = unit.or_else(|| words.get(i + 1).and_then(|u| unit_of(u)));
                let before = i.checked_sub(1).map(|j| words[j].as_str());
                let less = less || matches!(before, Some("under" | "below" | "<"));
                return Some(Value {
                    number: if less { n / 2.0 } else { n },
                    unit,
                });
            }
        }
    }
    None
}

/// The range an option states, if any.
pub fn range(clauses: &[Vec<String>]) -> Option<Range> {
    for words in clauses {
        for (i, w) in words.iter().enumerate() {
            let Some((n, unit, less)) = number(w) else {
                if let Some((a, b)) = w.split_once('-') {
                    if let (Some((lo, _, _)), Some((hi, u, _))) = (number(a), number(b)) {
                        let unit = u.or_else(|| words.get(i + 1).and_then(|u| unit_of(u)));
                        return Some(Range {
                            low: Some(lo),
                            high: Some(hi),
                            unit,
                        });
                    }
                }
                continue;
            };
            let unit = unit.or_else(|| words.get(i + 1).and_then(|u| unit_of(u)));
            let before = i.checked_sub(1).map(|j| words[j].as_str());
            let before2 = i.checked_sub(2).map(|j| words[j].as_str());
            if less || matches!(before, Some("under" | "below" | "<")) || before2 == Some("less") {
                return Some(Range {
                    low: None,
                    high: Some(n),
                    unit,
                });
            }
            if matches!(before, Some("over" | "above" | ">")) || w.ends_with('+') {
                return Some(Range {
                    low: Some(n),
                    high: None,
                    unit,
                });
            }
            let next = words.get(i + 1).map(String::as_str);
            let next = if unit.is_some() && next.and_then(unit_of).is_some() {
                words.get(i + 2).map(String::as_str)
            } else {
                next
            };
            if matches!(next, Some("to" | "and")) {
                let j = words.iter().position(|x| x == next.unwrap_or_default());
                if let Some((hi, u, _)) = j.and_then(|j| words.get(j + 1)).and_then(|x| number(x)) {
                    let k = j.unwrap_or(i) + 2;
                    let unit = unit.or(u).or_else(|| words.get(k).and_then(|u| unit_of(u)));
                    return Some(Range {
                        low: Some(n),
                        high: Some(hi),
                        unit,
                    });
                }
            }
        }
    }
    None
}

impl Range {
    pub fn holds(&self, v: Value) -> bool {
        let units_agree = match (self.unit, v.unit) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        units_agree
            && self.low.is_none_or(|lo| v.number >= lo)
            && self.high.is_none_or(|hi| v.number <= hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(text: &str) -> Vec<Vec<String>> {
        vec![text.split(' ').map(str::to_string).collect()]
    }

    #[test]
    fn values_fall_in_stated_ranges() {
        let under = range(&clauses("under 30 ms")).unwrap();
        let mid = range(&clauses("30 to 150 ms")).unwrap();
        let over = range(&clauses("over 150 ms")).unwrap();
        let fifty = value(&clauses("about 50 ms")).unwrap();
        assert!(!under.holds(fifty) && mid.holds(fifty) && !over.holds(fifty));
        assert!(under.holds(value(&clauses("<1ms")).unwrap()));
        assert!(over.holds(value(&clauses("like 400")).unwrap()));
        assert!(range(&clauses("100% loss")).is_none());
    }
}
