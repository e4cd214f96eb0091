//! Who an answer is about: one person or device, a few, a team, everyone, every site.
//!
//! "Just me", "only Tom", "the accounts team", "everyone in the office", "all sites" share no
//! word with "One user", "Several users" or "Everyone at the site", so both sides are read
//! into a handful of scope markers that can meet.

pub const ONE: &str = "@one";
pub const SOME: &str = "@some";
pub const ALL: &str = "@all";
pub const GROUP: &str = "@group";
pub const SITES: &str = "@sites";

const ONE_WORDS: &[&str] = &[
    "me",
    "myself",
    "mine",
    "one",
    "single",
    "1",
    "him",
    "her",
    "individual",
    "alone",
];
const SOME_WORDS: &[&str] = &[
    "several", "some", "few", "couple", "handful", "many", "lots", "loads", "multiple", "bunch",
    "half", "various", "most",
];
const ALL_WORDS: &[&str] = &[
    "everyone",
    "everybody",
    "all",
    "whole",
    "entire",
    "every",
    "companywide",
    "everything",
];
const GROUP_WORDS: &[&str] = &[
    "team",
    "department",
    "dept",
    "departments",
    "accounts",
    "finance",
    "sales",
    "hr",
    "marketing",
    "floor",
    "group",
];
const PLACE_PLURALS: &[&str] = &["sites", "offices", "branches", "locations", "buildings"];
const PLACES: &[&str] = &["site", "office", "branch", "location", "building"];
/// Nouns after "one" that make it a group rather than one person or device.
const GROUPING: &[&str] = &[
    "area",
    "team",
    "department",
    "floor",
    "vlan",
    "ssid",
    "model",
    "subnet",
    "network",
];
/// One machine or person, as "only" or "just" can pick it out.
const ONE_THINGS: &[&str] = &[
    "pc",
    "laptop",
    "machine",
    "desktop",
    "computer",
    "workstation",
    "device",
    "phone",
    "user",
    "person",
    "mailbox",
];
const POSSESSIVES: &[&str] = &["my", "this", "that", "his", "her", "the"];
/// What may follow a name in "only Tom's phone", "just Jane on reception".
const AFTER_NAME: &[&str] = &[
    "phone", "pc", "laptop", "machine", "desktop", "computer", "account", "mailbox", "device",
    "on", "in", "at", "from", "and", "has", "is", "can",
];

/// The scope markers a text's clauses carry. `known` says whether a word means something to
/// the step or the reader (so is not a person's name).
pub fn markers(clauses: &[Vec<String>], known: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut push = |m: &'static str| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    for words in clauses {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        for (i, word) in w.iter().enumerate() {
            let next = w.get(i + 1).copied();
            let after_next = w.get(i + 2).copied();
            if (matches!(*word, "every" | "all" | "both") && next.is_some_and(is_place))
                || PLACE_PLURALS.contains(word) && !matches!(w.get(i.wrapping_sub(1)), Some(&"one"))
            {
                push(SITES);
                continue;
            }
            let this_one = matches!(*word, "this" | "that")
                && next.is_some_and(|n| {
                    matches!(
                        n,
                        "user"
                            | "person"
                            | "pc"
                            | "laptop"
                            | "device"
                            | "machine"
                            | "phone"
                            | "computer"
                            | "desktop"
                    )
                });
            if this_one {
                push(ONE);
            } else if ONE_WORDS.contains(word) {
                // "one area", "one team" are groups; "one of two" is still one.
                if !next.is_some_and(|n| GROUPING.contains(&n)) {
                    push(ONE);
                }
            } else if SOME_WORDS.contains(word) {
                push(SOME);
            } else if ALL_WORDS.contains(word) {
                // "all the dell 5420s" names a model, not everyone.
                if !(*word == "all" && next == Some("the") && after_next.is_some_and(|n| !known(n)))
                {
                    push(ALL);
                }
            } else if GROUP_WORDS.contains(word) {
                push(GROUP);
            } else if let Some(n) = word.parse::<u32>().ok().filter(|n| (2..100).contains(n)) {
                let people = next.is_some_and(|n| {
                    matches!(
                        n,
                        "users" | "people" | "of" | "or" | "staff" | "pcs" | "devices" | "phones"
                    )
                });
                if people && n > 1 {
                    push(SOME);
                }
            } else if matches!(*word, "just" | "only") {
                let mut j = i + 1;
                while w.get(j).is_some_and(|x| POSSESSIVES.contains(x)) {
                    j += 1;
                }
                let named = w.get(j).copied();
                let after = w.get(j + 1).copied();
                let possessive = j > i + 1 && w[i + 1..j].iter().any(|x| *x != "the");
                // "only the front desk pc": one machine or person, named a few words on.
                let one_thing = w[j..].iter().take(3).any(|x| ONE_THINGS.contains(x));
                let is_name = named.is_some_and(|n| {
                    !known(n)
                        && !n.ends_with('s')
                        && n.chars().all(|c| c.is_alphabetic())
                        && after.is_none_or(|a| AFTER_NAME.contains(&a))
                });
                if possessive
                    || one_thing
                    || is_name
                    || named.is_some_and(|n| {
                        matches!(
                            n,
                            "user" | "person" | "guy" | "lady" | "md" | "boss" | "ceo"
                        )
                    })
                {
                    push(ONE);
                }
            }
        }
    }
    if out.contains(&SITES) {
        out.retain(|m| *m != ALL);
    }
    out
}

fn is_place(word: &str) -> bool {
    PLACES.contains(&word) || PLACE_PLURALS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Vec<&'static str> {
        let clauses = vec![text.split(' ').map(str::to_string).collect::<Vec<_>>()];
        markers(&clauses, &|w| matches!(w, "wifi" | "wireless" | "remote"))
    }

    #[test]
    fn people_and_groups_have_markers() {
        assert_eq!(of("just me"), [ONE]);
        assert_eq!(of("only tom"), [ONE]);
        assert_eq!(of("the accounts team"), [GROUP]);
        assert_eq!(of("everyone in the office"), [ALL]);
        assert_eq!(of("all sites"), [SITES]);
        assert!(of("only wireless users").is_empty());
        assert_eq!(of("only the front desk pc"), [ONE]);
        assert!(of("only the reception pcs").is_empty());
        assert_eq!(of("3 or 4 people"), [SOME]);
    }
}
