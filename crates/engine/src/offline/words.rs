//! Turning a short text (an answer, an option label) into comparable words.
//!
//! Engineers type terse, lowercase, misspelt answers; options are written carefully. Both go
//! through the same reading so that they meet in the middle: contractions spelt out, common
//! phrases folded into one word, synonyms onto one canonical word, crude suffixes stripped.
//! Negation is kept per clause: "the link light isn't on" reads as the words `link light on`
//! negated, so it can agree with "no link" and contradict "link light on".

/// How a word was said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Positive,
    Negative,
    /// Words that carry no polarity of their own ("nothing", "everyone"): they never contradict.
    Neutral,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub word: String,
    pub polarity: Polarity,
}

/// A leading yes or no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Yes,
    No,
}

/// A text read into clauses of words.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Alternatives (an option's "a / b / c"); an answer has one.
    pub alternatives: Vec<Vec<Token>>,
    /// The words as typed, lowercased and with contractions spelt out, per clause.
    pub clauses: Vec<Vec<String>>,
    pub mark: Option<Mark>,
}

impl Reading {
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.alternatives.iter().flatten()
    }

    /// The content words, without the scope and unsure markers.
    pub fn content(&self) -> impl Iterator<Item = &Token> {
        self.tokens().filter(|t| !t.word.starts_with('@'))
    }
}

const YES: &[&str] = &[
    "yes",
    "y",
    "yep",
    "yup",
    "yeah",
    "yea",
    "ya",
    "yh",
    "yes.",
    "aye",
    "affirmative",
    "correct",
    "indeed",
    "definitely",
    "true",
    "sure",
    "right",
];
const NO: &[&str] = &["no", "n", "nope", "nah", "nay", "negative", "nop", "false"];

/// Words after which a leading "no" is an answer ("no, it's …", "no the DC is …") rather
/// than the negation of what follows ("no link").
const AFTER_NO: &[&str] = &[
    "it", "its", "i", "the", "they", "that", "there", "he", "she", "we", "just", "only", "still",
    "not", "this", "nothing", "none", "or", "both", "all",
];

const NEGATORS: &[&str] = &[
    "not", "no", "never", "without", "nothing", "none", "nobody", "neither", "nor", "nowhere", "0",
];

/// Negators that are also answers in their own right ("nothing", "nobody").
const NEUTRAL_NEGATORS: &[&str] = &["nothing", "none", "nobody"];

const STOP: &[&str] = &[
    "the", "a", "an", "it", "is", "of", "to", "and", "or", "in", "i", "we", "my", "its", "this",
    "that", "for", "with", "at", "be", "are", "was", "were", "am", "been", "do", "does", "did",
    "has", "have", "had", "he", "she", "they", "them", "their", "there", "his", "her", "our",
    "you", "your", "so", "just", "also", "then", "than", "from", "by", "as", "if", "any", "get",
    "got", "gets", "say", "says", "said", "show", "shows", "showing", "shown", "seem", "seems",
    "look", "looks", "like", "think", "will", "would", "should", "could", "can", "able", "again",
    "now", "still", "too", "only", "very", "really", "even", "well", "thanks", "cheers", "thx",
    "ta", "mate", "hi", "hmm", "um", "lol", "e.g", "etc", "which", "what", "who", "where", "when",
    "how", "yet", "all", "every", "each", "one", "some", "him", "me", "these", "those", "into",
    "onto", "out", "over", "about", "after", "before", "around", "since",
];

/// Words spelt out before anything else.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("won't", "will not"),
    ("can't", "can not"),
    ("cannot", "can not"),
    ("shan't", "shall not"),
    ("isnt", "is not"),
    ("cant", "can not"),
    ("dont", "do not"),
    ("doesnt", "does not"),
    ("dosnt", "does not"),
    ("doesn", "does not"),
    ("didnt", "did not"),
    ("couldnt", "could not"),
    ("wont", "will not"),
    ("wasnt", "was not"),
    ("werent", "were not"),
    ("arent", "are not"),
    ("havent", "have not"),
    ("hasnt", "has not"),
    ("wouldnt", "would not"),
    ("shouldnt", "should not"),
    ("aint", "is not"),
    ("isn", "is not"),
];

/// Phrases folded into one word (or dropped) before words are split.
const PHRASES: &[(&str, &str)] = &[
    ("no idea", "@unsure"),
    ("not sure", "@unsure"),
    ("unsure", "@unsure"),
    ("dunno", "@unsure"),
    ("do not know", "@unsure"),
    ("can not remember", "@unsure"),
    ("no clue", "@unsure"),
    ("unknown", "@unsure"),
    ("unclear", "@unsure"),
    ("timed out", "timeout"),
    ("times out", "timeout"),
    ("time out", "timeout"),
    ("timing out", "timeout"),
    ("fail over", "failover"),
    ("failed over", "failover"),
    ("fails over", "failover"),
    ("kick in", "failover"),
    ("kicked in", "failover"),
    ("no one", "nobody"),
    ("at all", ""),
    ("sign in", "signin"),
    ("signs in", "signin"),
    ("signed in", "signin"),
    ("sign-in", "signin"),
    ("sign-ins", "signin"),
    ("log in", "signin"),
    ("logs in", "signin"),
    ("logged in", "signin"),
    ("login", "signin"),
    ("log on", "signin"),
    ("logon", "signin"),
    ("log into", "signin"),
    ("logging in", "signin"),
    ("instead of", ", not"),
    ("from home", "remote"),
    ("at home", "remote"),
    ("wfh", "remote"),
    ("did the trick", "fixed"),
    ("that did it", "fixed"),
    ("sorted it", "fixed"),
    ("came back", "recovered"),
    ("comes back", "returns"),
    ("coming back", "returns"),
    ("in and out", "intermittent"),
    ("all over the place", "@unsure"),
    ("link light", "link light"),
    ("network light", "link light"),
    ("spinning hdd", "hdd"),
    ("hard drive", "disk"),
    ("hard disk", "disk"),
    ("in use", "used"),
    ("plugged in", "plugged"),
    ("turned off", "disabled"),
    ("switched off", "off"),
    ("powered up", "powered on"),
    ("crystal clear", "clear"),
    ("by accident", ""),
    ("built-in", "builtin"),
    ("built in", "builtin"),
    ("drift off", "drift"),
    ("drifts off", "drift"),
    ("drifted off", "drift"),
    ("shuts off", "shutdown"),
    ("shut off", "shutdown"),
    ("shuts down", "shutdown"),
    ("shut down", "shutdown"),
    ("turns off", "shutdown"),
    ("switches off", "shutdown"),
    ("dies", "shutdown"),
];

/// Words whose meaning is the negation of another: read as that word, negated.
const OPPOSITES: &[(&str, &str)] = &[
    ("off", "on"),
    ("down", "work"),
    ("dark", "on"),
    ("unplugged", "plugged"),
    ("disconnected", "connected"),
    ("disabled", "enabled"),
    ("fail", "work"),
    ("fails", "work"),
    ("failed", "work"),
    ("failing", "work"),
    ("failure", "work"),
    ("failures", "work"),
    ("broken", "work"),
    ("timeout", "work"),
    ("missing", "present"),
    ("gone", "present"),
    ("vanished", "present"),
    ("disappeared", "present"),
    ("absent", "present"),
    ("unregistered", "register"),
    ("unreachable", "reachable"),
    ("unable", "able"),
    ("unavailable", "available"),
    ("different", "same"),
    ("differ", "same"),
    ("differs", "same"),
    ("unhealthy", "healthy"),
    ("incorrect", "correct"),
    ("offline", "work"),
    ("closed", "open"),
];

/// Words onto one canonical word.
const SYNONYMS: &[(&str, &str)] = &[
    ("fine", "work"),
    ("ok", "work"),
    ("okay", "work"),
    ("good", "work"),
    ("working", "work"),
    ("works", "work"),
    ("worked", "work"),
    ("normal", "work"),
    ("valid", "work"),
    ("success", "work"),
    ("successful", "work"),
    ("successes", "work"),
    ("succeeded", "work"),
    ("healthy", "work"),
    ("passed", "pass"),
    ("passes", "pass"),
    ("clean", "pass"),
    ("lit", "on"),
    ("light", "light"),
    ("lights", "light"),
    ("led", "light"),
    ("leds", "light"),
    ("reply", "answer"),
    ("replies", "answer"),
    ("replied", "answer"),
    ("respond", "answer"),
    ("responds", "answer"),
    ("response", "answer"),
    ("answers", "answer"),
    ("answering", "answer"),
    ("lost", "loss"),
    ("losing", "loss"),
    ("dropped", "loss"),
    ("pinging", "ping"),
    ("pings", "ping"),
    ("pingable", "ping"),
    ("office", "site"),
    ("building", "site"),
    ("premises", "site"),
    ("home", "remote"),
    ("wireless", "wifi"),
    ("wlan", "wifi"),
    ("ssid", "ssid"),
    ("ethernet", "wired"),
    ("cable", "cable"),
    ("cabled", "wired"),
    ("lan", "lan"),
    ("users", "user"),
    ("people", "user"),
    ("person", "user"),
    ("staff", "user"),
    ("colleagues", "user"),
    ("employees", "user"),
    ("machine", "pc"),
    ("machines", "pc"),
    ("computer", "pc"),
    ("computers", "pc"),
    ("desktop", "pc"),
    ("workstation", "pc"),
    ("box", "box"),
    ("ram", "memory"),
    ("mem", "memory"),
    ("processor", "cpu"),
    ("ssd", "disk"),
    ("drive", "disk"),
    ("hdd", "hdd"),
    ("mechanical", "hdd"),
    ("exhausted", "full"),
    ("maxed", "max"),
    ("pegged", "max"),
    ("hammering", "max"),
    ("saturated", "max"),
    ("100%", "100%"),
    ("wrong", "wrong"),
    ("expired", "expire"),
    ("expiry", "expire"),
    ("cert", "certificate"),
    ("certs", "certificate"),
    ("certificate", "certificate"),
    ("mfa", "mfa"),
    ("2fa", "mfa"),
    ("push", "mfa"),
    ("password", "password"),
    ("pw", "password"),
    ("pwd", "password"),
    ("creds", "credential"),
    ("credentials", "credential"),
    ("sorted", "fixed"),
    ("solved", "fixed"),
    ("resolved", "fixed"),
    ("fixes", "fixed"),
    ("fix", "fixed"),
    ("fixed", "fixed"),
    ("offices", "site"),
    ("router", "gateway"),
    ("azure", "entra"),
    ("aad", "entra"),
    ("authenticator", "entra"),
    ("esxi", "vmware"),
    ("vsphere", "vmware"),
    ("hyperv", "hyperv"),
    ("dcs", "dc"),
    ("controllers", "dc"),
    ("controller", "dc"),
    ("incognito", "inprivate"),
    ("private", "inprivate"),
    ("gpo", "gpo"),
    ("grey", "old"),
    ("gray", "old"),
    ("legacy", "old"),
    ("style", "style"),
    ("modern", "modern"),
    ("new", "new"),
    ("newly", "new"),
    ("reimaged", "new"),
    ("imaged", "new"),
    ("robot", "robotic"),
    ("robotic", "robotic"),
    ("choppy", "choppy"),
    ("cutting", "choppy"),
    ("intermittent", "choppy"),
    ("picture", "video"),
    ("freezes", "freeze"),
    ("freezing", "freeze"),
    ("frozen", "freeze"),
    ("froze", "freeze"),
    ("disconnect", "drop"),
    ("disconnects", "drop"),
    ("drops", "drop"),
    ("dropping", "drop"),
    ("sound", "audio"),
    ("voice", "audio"),
    ("airpods", "bluetooth"),
    ("bt", "bluetooth"),
    ("speakers", "builtin"),
    ("speaker", "builtin"),
    ("screen", "monitor"),
    ("screens", "monitor"),
    ("display", "monitor"),
    ("displays", "monitor"),
    ("monitors", "monitor"),
    ("flickering", "flicker"),
    ("flickers", "flicker"),
    ("swollen", "swollen"),
    ("bulging", "swollen"),
    ("bloated", "swollen"),
    ("hot", "hot"),
    ("temps", "temperature"),
    ("temp", "temperature"),
    ("temperatures", "temperature"),
    ("owned", "company"),
    ("corporate", "company"),
    ("byod", "personal"),
    ("own", "personal"),
    ("stolen", "loss"),
    ("smashed", "broken"),
    ("zone", "zone"),
    ("pacific", "wrong"),
    ("quarantine", "quarantined"),
    ("spam", "spam"),
    ("junk", "spam"),
    ("bounce", "ndr"),
    ("bounced", "ndr"),
    ("rejected", "reject"),
    ("rejects", "reject"),
    ("delivered", "deliver"),
    ("locked", "lock"),
    ("locks", "lock"),
    ("deleted", "delete"),
    ("removed", "delete"),
    ("mobile", "phone"),
    ("iphone", "phone"),
    ("handset", "phone"),
    ("restored", "restore"),
    ("applied", "apply"),
    ("applies", "apply"),
    ("applying", "apply"),
    ("listed", "list"),
    ("idle", "idle"),
    ("hours", "hour"),
    ("overnight", "drift"),
    ("drifted", "drift"),
    ("drifts", "drift"),
    ("loops", "loop"),
    ("looping", "loop"),
    ("crashes", "crash"),
    ("crashing", "crash"),
    ("crashed", "crash"),
    ("hangs", "hang"),
    ("hanging", "hang"),
    ("hung", "hang"),
    ("beeps", "beep"),
    ("beeping", "beep"),
    ("flashing", "flash"),
    ("blinking", "flash"),
    ("nslookup", "resolve"),
    ("faults", "error"),
    ("fault", "error"),
    ("errors", "error"),
    ("amber", "light"),
    ("boots", "boot"),
    ("booting", "boot"),
    ("rebooted", "reboot"),
    ("reboots", "reboot"),
    ("started", "start"),
    ("starts", "start"),
    ("resolve", "resolve"),
    ("names", "name"),
    ("fqdn", "fqdn"),
    ("routers", "router"),
    ("gateway", "gateway"),
    ("websites", "site"),
    ("website", "site"),
    ("sites", "site"),
    ("browsers", "browser"),
    ("chrome", "browser"),
    ("edge", "browser"),
    ("pages", "page"),
    ("approved", "approve"),
    ("approves", "approve"),
    ("accepted", "approve"),
    ("granted", "approve"),
    ("denied", "deny"),
    ("refused", "deny"),
    ("allowed", "allow"),
    ("permitted", "allow"),
    ("entered", "enter"),
    ("typed", "enter"),
    ("phishing", "suspicious"),
    ("dodgy", "suspicious"),
    ("fake", "suspicious"),
    ("called", "call"),
    ("rang", "call"),
    ("phoned", "call"),
    ("installed", "install"),
    ("closed", "close"),
    ("open", "open"),
    ("opens", "open"),
    ("opened", "open"),
    ("vm", "vm"),
    ("partly", "partial"),
    ("subnets", "subnet"),
    ("enabled", "enabled"),
    ("registered", "register"),
    ("registers", "register"),
    ("up", "work"),
    ("online", "work"),
];

/// `text` read for comparison. Options split their alternatives on "/"; answers do not.
pub fn read(text: &str, split_alternatives: bool) -> Reading {
    let text = normalise(text);
    let mut reading = Reading::default();
    let pieces: Vec<&str> = if split_alternatives {
        text.split('/').collect()
    } else {
        vec![text.as_str()]
    };
    let mut first = true;
    for piece in pieces {
        let mut tokens = Vec::new();
        for clause in clauses(piece) {
            let mut words = split_words(&clause);
            if first && !words.is_empty() {
                reading.mark = take_mark(&mut words);
                first = false;
            }
            tokens.extend(clause_tokens(&words));
            if !words.is_empty() {
                reading.clauses.push(words);
            }
        }
        reading.alternatives.push(tokens);
    }
    reading
}

/// Lowercase, one kind of apostrophe, contractions spelt out and phrases folded.
fn normalise(text: &str) -> String {
    let lowered = text.to_lowercase().replace(['’', '‘', '`'], "'");
    let mut words: Vec<String> = Vec::new();
    for raw in lowered.split_whitespace() {
        // Keep punctuation attached to a word as a separate piece so clauses survive.
        let (core, tail) = split_trailing_punct(raw);
        let spelt = spell_out(core);
        words.push(format!("{spelt}{tail}"));
    }
    let mut joined = format!(" {} ", words.join(" "));
    for (from, to) in PHRASES {
        joined = replace_phrase(&joined, from, to);
    }
    joined
}

fn split_trailing_punct(raw: &str) -> (&str, &str) {
    let end = raw
        .char_indices()
        .rev()
        .take_while(|(_, c)| matches!(c, ',' | ';' | '!' | '?' | ':' | ')' | '.'))
        .last()
        .map_or(raw.len(), |(i, _)| i);
    raw.split_at(end)
}

fn spell_out(word: &str) -> String {
    if let Some((_, to)) = CONTRACTIONS.iter().find(|(from, _)| *from == word) {
        return (*to).to_string();
    }
    if let Some(stem) = word.strip_suffix("n't") {
        return format!("{stem} not");
    }
    for suffix in ["'s", "'m", "'re", "'ve", "'ll", "'d", "s'"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            return match suffix {
                "'m" | "'re" => format!("{stem} is"),
                "'s" if matches!(stem, "it" | "that" | "there" | "what" | "he" | "she") => {
                    format!("{stem} is")
                }
                _ => stem.to_string(),
            };
        }
    }
    word.to_string()
}

/// Replaces whole-word occurrences of `from` in a text padded with spaces.
fn replace_phrase(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before_ok = rest[..at]
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric() && c != '@');
        let after = &rest[at + from.len()..];
        let after_ok = after.chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            out.push_str(&rest[..at]);
            out.push_str(to);
        } else {
            out.push_str(&rest[..at + from.len()]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Clauses: split on punctuation, dashes between words and the words that turn a sentence.
fn clauses(text: &str) -> Vec<String> {
    let mut marked = text.replace(" - ", " | ").replace(" – ", " | ");
    for turn in [
        " but ",
        " though ",
        " although ",
        " however ",
        " except ",
        " whereas ",
        " while ",
        " then ",
        " because ",
        " since ",
    ] {
        marked = marked.replace(turn, " | ");
    }
    marked
        .split([',', ';', '!', '?', '(', ')', '|', ':', '\n'])
        .flat_map(|part| part.split(". "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn split_words(clause: &str) -> Vec<String> {
    clause
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '%' | '@' | '<' | '>' | '-')))
        .map(|w| w.trim_matches(|c| matches!(c, '.' | '-')))
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            // "wi-fi", "hyper-v", "re-imaged" are one word; "company-owned" is two; "20-100"
            // is a range.
            if w.contains('-') && !w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                if w.split('-').any(|part| part.len() <= 2) {
                    vec![w.replace('-', "")]
                } else {
                    w.split('-').map(str::to_string).collect()
                }
            } else {
                vec![w.to_string()]
            }
        })
        .collect()
}

/// Removes and returns a leading yes/no ("yes", "nope", "no, …", "it is", "it isn't").
fn take_mark(words: &mut Vec<String>) -> Option<Mark> {
    let first = words.first()?.clone();
    let first = first.as_str();
    if YES.contains(&first) && (words.len() <= 3 || !matches!(first, "right" | "sure" | "true")) {
        words.remove(0);
        return Some(Mark::Yes);
    }
    if NO.contains(&first) {
        let next = words.get(1).map(String::as_str);
        if first != "no" || next.is_none_or(|n| AFTER_NO.contains(&n)) {
            words.remove(0);
            return Some(Mark::No);
        }
    }
    // "it is", "it isn't", "they do", "not really", "not yet".
    let short: Vec<&str> = words.iter().map(String::as_str).collect();
    let pronoun = |w: &str| matches!(w, "it" | "they" | "i" | "there" | "he" | "she" | "we");
    let aux = |w: &str| {
        matches!(
            w,
            "is" | "are" | "does" | "do" | "did" | "has" | "have" | "can" | "was" | "were" | "will"
        )
    };
    let mark = match short.as_slice() {
        [p, a] if pronoun(p) && aux(a) => Some(Mark::Yes),
        [p, a, "not"] if pronoun(p) && aux(a) => Some(Mark::No),
        ["not", "really" | "yet" | "quite"] | ["not"] => Some(Mark::No),
        _ => None,
    };
    if mark.is_some() {
        words.clear();
    }
    mark
}

/// The tokens of one clause with their polarity. A negated verb ("isn't", "does not")
/// negates the whole clause: "the link light isn't on" says the link light is not on. A word
/// that is itself a negation ("off", "fails", "unregistered") negates itself and what it is
/// said of, before it ("1.1.1.1 fails"). A plain "no" or "not" negates what follows it: "loss
/// at the ISP hop with the link not busy" still says there is loss.
fn clause_tokens(words: &[String]) -> Vec<Token> {
    let mut whole = 0usize;
    let mut forward = 0usize;
    let mut backward: Vec<(usize, usize)> = Vec::new();
    let mut boundary = 0usize;
    let mut plain: Vec<(String, usize, usize)> = Vec::new();
    let mut neutral: Vec<String> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let w = word.as_str();
        if NEGATORS.contains(&w) || w == "0%" {
            let after_verb = w == "not" && i > 0 && AUX.contains(&words[i - 1].as_str());
            if after_verb {
                whole += 1;
            } else {
                forward += 1;
            }
            if NEUTRAL_NEGATORS.contains(&w) {
                neutral.push(w.to_string());
            }
            continue;
        }
        if w.starts_with('@') {
            neutral.push(w.to_string());
            continue;
        }
        if BOUNDARIES.contains(&w) {
            boundary = i;
        }
        if let Some((_, base)) = OPPOSITES.iter().find(|(from, _)| *from == w) {
            backward.push((boundary, i));
            plain.push(((*base).to_string(), i, forward));
            // "timed out" is also a symptom of its own, not only "not working".
            if !(w.starts_with("fail") || matches!(*base, "on" | "open")) {
                neutral.push(canonical(w));
            }
            continue;
        }
        // "couldn't find anything" found nothing.
        if matches!(w, "anything" | "any") && whole + forward > 0 {
            neutral.push("nothing".into());
            continue;
        }
        if STOP.contains(&w) {
            continue;
        }
        plain.push((canonical(w), i, forward));
    }
    plain
        .into_iter()
        .map(|(word, at, before)| {
            let behind = backward
                .iter()
                .filter(|(from, to)| at >= *from && at <= *to)
                .count();
            Token {
                word,
                polarity: if (whole + before + behind) % 2 == 1 {
                    Polarity::Negative
                } else {
                    Polarity::Positive
                },
            }
        })
        .chain(neutral.into_iter().map(|word| Token {
            word,
            polarity: Polarity::Neutral,
        }))
        .collect()
}

/// Where a negating word's reach back stops: "deleted or missing" does not say "not deleted".
const BOUNDARIES: &[&str] = &[
    "or", "and", "nor", "after", "before", "with", "from", "to", "for", "by", "in", "at", "on",
];

const AUX: &[&str] = &[
    "is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will",
    "would", "should", "am", "be", "been",
];

/// Whether `word` is one the reader knows (so not, say, a person's name).
pub fn known(word: &str) -> bool {
    STOP.contains(&word)
        || NEGATORS.contains(&word)
        || YES.contains(&word)
        || NO.contains(&word)
        || SYNONYMS.iter().any(|(w, _)| *w == word)
        || OPPOSITES.iter().any(|(w, _)| *w == word)
}

/// The canonical form of one word: its synonym, or its crude stem.
pub fn canonical(word: &str) -> String {
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == word) {
        return (*to).to_string();
    }
    stem(word)
}

fn stem(word: &str) -> String {
    if word.len() <= 3 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        return word.to_string();
    }
    for (suffix, replacement) in [
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ] {
        if let Some(base) = word.strip_suffix(suffix) {
            if base.len() < 3 || (suffix == "s" && base.ends_with('s')) {
                continue;
            }
            let mut base = format!("{base}{replacement}");
            let bytes = base.as_bytes();
            let n = bytes.len();
            if n >= 2 && bytes[n - 1] == bytes[n - 2] && !matches!(bytes[n - 1], b'l' | b's') {
                base.pop();
            }
            return base;
        }
    }
    word.to_string()
}

/// Words that are the same but for one slip of the keyboard (long words only).
pub fn near(a: &str, b: &str) -> bool {
    if a == b || wildcard(a, b) || wildcard(b, a) {
        return true;
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la < 5 || lb < 5 || la.abs_diff(lb) > 1 || a.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    edit_distance(a, b) <= 1
}

/// "169.254.x.x" stands for "169.254.12.3".
fn wildcard(pattern: &str, word: &str) -> bool {
    if !pattern.contains(".x") {
        return false;
    }
    let (p, w): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), word.split('.').collect());
    p.len() == w.len() && p.iter().zip(&w).all(|(p, w)| *p == "x" || p == w)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut prev2 = prev.clone();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(r: &Reading) -> Vec<(String, Polarity)> {
        r.tokens().map(|t| (t.word.clone(), t.polarity)).collect()
    }

    #[test]
    fn negation_covers_its_clause() {
        let r = read("the link light isn't on", false);
        assert!(words(&r).iter().all(|(_, p)| *p == Polarity::Negative));
        assert!(r.tokens().any(|t| t.word == "link") && r.tokens().any(|t| t.word == "on"));
        let r = read("fans spin but no picture", false);
        let w = words(&r);
        assert!(w.contains(&("video".into(), Polarity::Negative)));
        assert!(w.contains(&("fan".into(), Polarity::Positive)));
    }

    #[test]
    fn opposites_read_as_negations() {
        let r = read("light is off", false);
        assert!(words(&r).contains(&("on".into(), Polarity::Negative)));
        let r = read("not off", false);
        assert!(words(&r).contains(&("on".into(), Polarity::Positive)));
    }

    #[test]
    fn leading_yes_and_no_are_marks() {
        assert_eq!(read("yep its lit", false).mark, Some(Mark::Yes));
        assert_eq!(read("nope", false).mark, Some(Mark::No));
        assert_eq!(read("no, it's the DC", false).mark, Some(Mark::No));
        assert_eq!(read("it isn't", false).mark, Some(Mark::No));
        assert_eq!(read("no link", false).mark, None);
        assert_eq!(read("Yes - registered", true).mark, Some(Mark::Yes));
    }

    #[test]
    fn slips_of_the_keyboard_are_near() {
        assert!(near("registred", "registered"));
        assert!(near("cerificate", "certificate"));
        assert!(!near("port", "post"));
    }
}
