//! Words engineers use interchangeably in tickets, folded onto one index term so that a
//! paraphrase meets a flow written in other words ("online" meets "internet", "laggy"
//! meets "lag"). Applied to intakes and flows alike, after stemming.
//!
//! Only words that mean the same thing wherever they appear in IT support are grouped:
//! "screen" is not a monitor in "blue screen", "lost" is not "missing" in "lost phone", so
//! neither is folded. A group's first word is the term the others become.

use std::collections::HashMap;
use std::sync::OnceLock;

const GROUPS: &[&[&str]] = &[
    &[
        "internet",
        "online",
        "web",
        "broadband",
        "browse",
        "browsing",
    ],
    &["computer", "pc", "pcs", "workstation", "machine"],
    &["laptop", "notebook"],
    &["slow", "sluggish", "crawling", "ages", "forever"],
    &[
        "lag",
        "laggy",
        "lagging",
        "stutter",
        "stuttering",
        "choppy",
        "robotic",
    ],
    &[
        "freeze",
        "freezes",
        "frozen",
        "freezing",
        "hang",
        "hangs",
        "hung",
        "unresponsive",
    ],
    &["wifi", "wireless", "wlan"],
    &["phone", "mobile", "smartphone", "cellphone"],
    &["email", "mail", "webmail"],
    &[
        "password",
        "pw",
        "pwd",
        "passcode",
        "creds",
        "credentials",
        "credential",
    ],
    &["login", "logon", "signin", "sign"],
    &["crash", "crashes", "crashing", "crashed"],
    &["disconnect", "drop", "dropping", "cutting", "kicked"],
    &["missing", "disappeared", "disappear", "vanish", "vanished"],
    &["permission", "denied", "refused", "refuses", "forbidden"],
    &["reboot", "restart", "restarting", "reboots", "restarts"],
    &["overheating", "overheat", "hot", "heat"],
    &["update", "patch", "patches", "patching", "patched"],
    &["stolen", "nicked", "theft", "stole"],
    &["spam", "junk"],
    &["copier", "photocopier", "mfp", "mfd", "multifunction"],
    &["monitor", "display", "displays"],
    &["virtual", "vm", "vms"],
    &["controller", "dc", "dcs"],
    &["mfa", "2fa"],
    &["approve", "approval", "approvals"],
    &["connect", "connection", "connectivity"],
];

fn table() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::new();
        for group in GROUPS {
            let Some((first, rest)) = group.split_first() else {
                continue;
            };
            let canonical = crate::text::stem(first);
            for word in rest {
                map.insert(crate::text::stem(word), canonical.clone());
            }
        }
        map
    })
}

/// The index term for a stemmed word: its group's term, or the word itself.
pub(crate) fn fold(stemmed: String) -> String {
    match table().get(&stemmed) {
        Some(canonical) => canonical.clone(),
        None => stemmed,
    }
}

#[cfg(test)]
mod tests {
    use crate::text::tokenize;

    #[test]
    fn words_of_a_group_meet_at_one_term() {
        assert_eq!(tokenize("online"), tokenize("internet"));
        assert_eq!(tokenize("workstation"), tokenize("computers"));
        assert_eq!(tokenize("junk folder"), tokenize("spam folder"));
    }

    #[test]
    fn words_with_other_meanings_elsewhere_are_not_folded() {
        assert_ne!(tokenize("screen"), tokenize("monitor"));
        assert_ne!(tokenize("lost"), tokenize("missing"));
    }
}
