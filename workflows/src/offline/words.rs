//! Small English helpers for the planner: tokens, singular and plural forms, stop words.
//!
//! Key decision: rules plus short exception lists, no dictionary. The planner only needs the
//! nouns people use for things they keep track of, and a wrong plural is harmless (it is still a
//! valid table name), so a few dozen lines beat a dependency.

/// One token of a prompt: a lowercase ASCII word or a punctuation mark that ends a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Letters and digits (lowercased). `check-in` gives `check`, `in`.
    Word(String),
    /// `,` `.` `;` `:` `!` `?` `(` `)` `&` `/` `"` and line breaks: they end a noun phrase.
    Break(char),
}

/// Splits a prompt into words and phrase breaks. The planner reads English: a word with letters
/// outside ASCII ("möchte", "食谱") is dropped whole rather than split into fragments, so a
/// prompt in another language yields few words and the planner falls back to a generic plan.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut foreign = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            foreign |= !c.is_ascii();
            word.push(c.to_ascii_lowercase());
            continue;
        }
        // Apostrophes join ("don't" → "dont", "mom's" → "moms"), so possessives stay one word.
        if c == '\'' || c == '’' {
            continue;
        }
        if !word.is_empty() && !std::mem::take(&mut foreign) {
            tokens.push(Token::Word(std::mem::take(&mut word)));
        }
        word.clear();
        match c {
            ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '&' | '/' | '\n' | '"' => {
                tokens.push(Token::Break(c))
            }
            _ => {}
        }
    }
    if !word.is_empty() && !foreign {
        tokens.push(Token::Word(word));
    }
    tokens
}

const IRREGULAR: &[(&str, &str)] = &[
    ("person", "people"),
    ("child", "children"),
    ("man", "men"),
    ("woman", "women"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("leaf", "leaves"),
    ("loaf", "loaves"),
    ("knife", "knives"),
    ("life", "lives"),
    ("wife", "wives"),
    ("shelf", "shelves"),
    ("half", "halves"),
    ("wolf", "wolves"),
    ("calf", "calves"),
    ("thief", "thieves"),
    ("scarf", "scarves"),
    ("elf", "elves"),
    ("index", "indexes"),
    ("criterion", "criteria"),
    ("cactus", "cacti"),
    ("analysis", "analyses"),
    ("quiz", "quizzes"),
];

/// Words whose singular and plural are the same (or that have no plural in use).
const UNCOUNTABLE: &[&str] = &[
    "sheep",
    "fish",
    "deer",
    "series",
    "species",
    "news",
    "equipment",
    "information",
    "rice",
    "money",
    "furniture",
    "luggage",
    "feedback",
    "data",
    "software",
    "music",
    "homework",
    "clothing",
    "stuff",
    "inventory",
    "stock",
    "advice",
    "research",
    "gear",
    "staff",
    "poetry",
    "attendance",
    "mail",
    "jewelry",
    "baggage",
    "produce",
];

/// Words ending in `ie` whose plural is `-ies` (so `-ies` must not become `-y`).
const IE_WORDS: &[&str] = &[
    "movie", "cookie", "calorie", "pie", "tie", "lie", "smoothie", "brownie", "selfie", "zombie",
    "hoodie", "rookie", "veggie", "freebie", "goalie", "genie", "beanie", "birdie", "prairie",
    "auntie", "sortie",
];

/// Words ending in `o` whose plural is `-oes`.
const OES_WORDS: &[&str] = &[
    "potato", "tomato", "hero", "echo", "veto", "torpedo", "mosquito",
];

/// Words ending in `s` that are already singular.
const S_SINGULARS: &[&str] = &[
    "bus",
    "gas",
    "lens",
    "canvas",
    "atlas",
    "bonus",
    "campus",
    "census",
    "chaos",
    "corpus",
    "virus",
    "status",
    "focus",
    "genus",
    "menus",
    "plus",
    "thesis",
    "basis",
    "crisis",
    "axis",
    "oasis",
    "this",
    "his",
    "its",
    "yes",
    "was",
    "is",
    "has",
    "does",
    "always",
    "perhaps",
    "news",
    "series",
    "species",
    "glasses",
    "pants",
    "jeans",
    "shorts",
    "scissors",
    "clothes",
    "physics",
    "maths",
    "economics",
    "analytics",
    "ethics",
    "politics",
    "athletics",
    "aerobics",
    "texas",
    "paris",
    "christmas",
    "kudos",
    "class",
    "boss",
    "business",
    "address",
    "process",
    "progress",
    "success",
    "fitness",
    "wellness",
    "happiness",
    "mattress",
    "dress",
    "access",
    "less",
    "across",
    "unless",
    "miss",
    "kiss",
    "grass",
    "glass",
    "mass",
    "pass",
    "chess",
    "cross",
    "loss",
    "moss",
    "stress",
    "princess",
    "witness",
    "express",
    "actress",
];

/// The singular form of an English noun (`recipes` → `recipe`, `categories` → `category`).
pub fn singular(word: &str) -> String {
    if UNCOUNTABLE.contains(&word) || S_SINGULARS.contains(&word) {
        return word.to_string();
    }
    if let Some((one, _)) = IRREGULAR.iter().find(|(_, many)| *many == word) {
        return one.to_string();
    }
    // "statuses", "lenses", "buses": an `-s` singular plus `es`.
    if let Some(stem) = word.strip_suffix("es") {
        if S_SINGULARS.contains(&stem) {
            return stem.to_string();
        }
    }
    if let Some(stem) = word.strip_suffix("ies") {
        if IE_WORDS.iter().any(|w| w.strip_suffix("ie") == Some(stem)) {
            return format!("{stem}ie");
        }
        if stem.len() >= 2 {
            return format!("{stem}y");
        }
    }
    if let Some(stem) = word.strip_suffix("oes") {
        if OES_WORDS.iter().any(|w| w.strip_suffix('o') == Some(stem)) {
            return format!("{stem}o");
        }
    }
    for suffix in ["sses", "xes", "ches", "shes", "zzes"] {
        if word.ends_with(suffix) && word.len() > suffix.len() {
            return word[..word.len() - 2].to_string();
        }
    }
    if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

/// The plural form of an English noun (`category` → `categories`); for a snake_case compound
/// only the last word changes (`check_in` → `check_ins`).
pub fn plural(word: &str) -> String {
    if let Some((head, last)) = word.rsplit_once('_') {
        return format!("{head}_{}", plural(last));
    }
    if UNCOUNTABLE.contains(&word) {
        return word.to_string();
    }
    if let Some((_, many)) = IRREGULAR.iter().find(|(one, _)| *one == word) {
        return many.to_string();
    }
    if IE_WORDS.contains(&word) {
        return format!("{word}s");
    }
    if OES_WORDS.contains(&word) {
        return format!("{word}es");
    }
    let bytes = word.as_bytes();
    if let Some(stem) = word.strip_suffix('y') {
        let before = bytes.len().checked_sub(2).map(|i| bytes[i]);
        if before.is_some_and(|b| !b"aeiou".contains(&b)) {
            return format!("{stem}ies");
        }
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| word.ends_with(s))
    {
        return format!("{word}es");
    }
    format!("{word}s")
}

/// Whether `word` looks plural (its singular differs).
pub fn is_plural(word: &str) -> bool {
    singular(word) != word
}

/// `vinyl records` → `Vinyl Records`.
pub fn title_case(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `vinyl records` → `Vinyl records`.
pub fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Words that never name the things an app keeps: articles, pronouns, auxiliaries, common verbs,
/// adjectives and filler. A noun phrase stops at the first of these.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "some",
    "any",
    "each",
    "every",
    "all",
    "both",
    "either",
    "neither",
    "no",
    "none",
    "one",
    "two",
    "three",
    "few",
    "many",
    "much",
    "more",
    "most",
    "other",
    "another",
    "such",
    "own",
    "same",
    "i",
    "me",
    "my",
    "mine",
    "myself",
    "we",
    "us",
    "our",
    "ours",
    "you",
    "your",
    "yours",
    "he",
    "him",
    "his",
    "she",
    "her",
    "hers",
    "it",
    "its",
    "they",
    "them",
    "their",
    "theirs",
    "who",
    "whom",
    "whose",
    "which",
    "what",
    "where",
    "when",
    "why",
    "how",
    "whether",
    "if",
    "then",
    "than",
    "so",
    "as",
    "because",
    "while",
    "though",
    "although",
    "and",
    "or",
    "but",
    "nor",
    "plus",
    "also",
    "too",
    "very",
    "really",
    "just",
    "only",
    "even",
    "still",
    "again",
    "ever",
    "never",
    "always",
    "often",
    "sometimes",
    "usually",
    "already",
    "not",
    "dont",
    "doesnt",
    "cant",
    "wont",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "am",
    "do",
    "does",
    "did",
    "done",
    "have",
    "has",
    "had",
    "having",
    "can",
    "could",
    "will",
    "would",
    "shall",
    "should",
    "may",
    "might",
    "must",
    "need",
    "needs",
    "want",
    "wants",
    "wanted",
    "like",
    "likes",
    "love",
    "get",
    "gets",
    "got",
    "make",
    "makes",
    "made",
    "build",
    "builds",
    "built",
    "create",
    "creates",
    "created",
    "give",
    "gives",
    "let",
    "lets",
    "allow",
    "allows",
    "allowing",
    "help",
    "helps",
    "helping",
    "use",
    "uses",
    "using",
    "used",
    "see",
    "sees",
    "view",
    "views",
    "show",
    "shows",
    "add",
    "adds",
    "adding",
    "edit",
    "edits",
    "editing",
    "delete",
    "deletes",
    "deleting",
    "remove",
    "update",
    "updates",
    "mark",
    "marks",
    "set",
    "put",
    "go",
    "goes",
    "going",
    "come",
    "know",
    "think",
    "try",
    "find",
    "keep",
    "keeps",
    "keeping",
    "hold",
    "holds",
    "start",
    "please",
    "thanks",
    "thank",
    "hi",
    "hello",
    "hey",
    "ok",
    "okay",
    "yes",
    "sure",
    "cool",
    "nice",
    "simple",
    "basic",
    "small",
    "little",
    "big",
    "large",
    "tiny",
    "quick",
    "easy",
    "clean",
    "modern",
    "minimal",
    "beautiful",
    "pretty",
    "good",
    "great",
    "best",
    "better",
    "new",
    "old",
    "personal",
    "private",
    "public",
    "shared",
    "online",
    "web",
    "mobile",
    "digital",
    "full",
    "fully",
    "complete",
    "whole",
    "entire",
    "main",
    "single",
    "multiple",
    "various",
    "different",
    "lightweight",
    "fast",
    "secure",
    "responsive",
    "friendly",
    "something",
    "anything",
    "everything",
    "nothing",
    "someone",
    "anyone",
    "everyone",
    "somewhere",
    "thing",
    "things",
    "stuff",
    "way",
    "ways",
    "kind",
    "kinds",
    "sort",
    "sorts",
    "lot",
    "lots",
    "bit",
    "part",
    "parts",
    "in",
    "on",
    "at",
    "by",
    "to",
    "from",
    "of",
    "for",
    "with",
    "without",
    "into",
    "onto",
    "about",
    "over",
    "under",
    "up",
    "down",
    "out",
    "off",
    "per",
    "via",
    "after",
    "before",
    "during",
    "between",
    "within",
    "across",
    "around",
    "through",
    "app",
    "apps",
    "application",
    "website",
    "site",
    "webapp",
    "page",
    "pages",
    "tool",
    "system",
    "platform",
    "software",
    "program",
    "dashboard",
    "portal",
    "interface",
    "ui",
    "frontend",
    "backend",
    "database",
    "db",
    "crud",
    "api",
    "data",
    "account",
    "accounts",
    "login",
    "sign",
    "user",
    "users",
    "people",
    "family",
    "friends",
    "everybody",
    "somebody",
    "here",
    "there",
    "now",
    "today",
    "later",
    "soon",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "first",
    "last",
    "next",
    "etc",
    "eg",
    "ie",
    "able",
    "track",
    "tracks",
    "tracking",
    "manage",
    "manages",
    "managing",
    "organize",
    "organise",
    "organizing",
    "organising",
    "store",
    "stores",
    "storing",
    "save",
    "saves",
    "saving",
    "recording",
    "plan",
    "plans",
    "planning",
    "schedule",
    "scheduling",
    "monitor",
    "monitoring",
    "collect",
    "collecting",
    "share",
    "sharing",
    "browse",
    "search",
    "filter",
    "review",
    "write",
    "writing",
    "read",
    "list",
    "lists",
    "log",
    "logs",
    "logging",
    "catalog",
    "catalogue",
    "cataloging",
    "follow",
    "following",
    "counting",
    "note",
    "remember",
    "remembering",
    "check",
    "checking",
    "sell",
    "selling",
    "buy",
    "buying",
    "run",
    "running",
    "wish",
    "maybe",
    "called",
    "named",
    "possible",
    "potential",
    "optional",
    "current",
    "additional",
    "extra",
    "specific",
    "related",
    "relevant",
    "detailed",
    "individual",
    "upcoming",
    "recent",
    "corresponding",
    "certain",
    "nearby",
    "healthy",
    "advanced",
    "open",
    "others",
    "implement",
    "implements",
    "understand",
    "perform",
    "provide",
    "provides",
    "display",
    "displaying",
    "showcase",
    "showcasing",
    "enable",
    "support",
    "contain",
    "connect",
    "connects",
    "generate",
    "submit",
    "apply",
    "register",
    "send",
    "receive",
    "access",
    "learn",
    "cast",
    "post",
    "contact",
    "comment",
    "functionality",
    "functionalities",
    "feature",
    "features",
    "capability",
    "capabilities",
    "operation",
    "operations",
    "option",
    "homepage",
    "registration",
    "authentication",
    "chart",
    "charts",
    "graph",
    "graphs",
    "statistic",
    "statistics",
    "visualization",
    "visualizations",
    "analysis",
    "button",
    "buttons",
    "layout",
];

/// Whether `word` never names a thing (see `STOP_WORDS`). Numbers count as stop words too.
pub fn is_stop_word(word: &str) -> bool {
    word.bytes().all(|b| b.is_ascii_digit()) || STOP_WORDS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural_handle_common_nouns() {
        let pairs = [
            ("recipe", "recipes"),
            ("category", "categories"),
            ("movie", "movies"),
            ("box", "boxes"),
            ("match", "matches"),
            ("dish", "dishes"),
            ("class", "classes"),
            ("person", "people"),
            ("shelf", "shelves"),
            ("potato", "potatoes"),
            ("photo", "photos"),
            ("day", "days"),
            ("expense", "expenses"),
            ("house", "houses"),
            ("course", "courses"),
            ("inventory", "inventory"),
            ("status", "statuses"),
            ("habit", "habits"),
            ("entry", "entries"),
        ];
        for (one, many) in pairs {
            assert_eq!(plural(one), many, "plural of {one}");
            assert_eq!(singular(many), one, "singular of {many}");
        }
        assert_eq!(plural("check_in"), "check_ins");
        assert_eq!(plural("vinyl_record"), "vinyl_records");
        assert_eq!(singular("business"), "business");
        assert_eq!(singular("bus"), "bus");
    }

    #[test]
    fn tokenize_splits_words_and_keeps_phrase_breaks() {
        let words = |text: &str| -> Vec<String> {
            tokenize(text)
                .iter()
                .map(|t| match t {
                    Token::Word(w) => w.clone(),
                    Token::Break(c) => c.to_string(),
                })
                .collect()
        };
        assert_eq!(
            words("Tasks, check-ins & Mom's notes!"),
            ["tasks", ",", "check", "ins", "&", "moms", "notes", "!"]
        );
        assert_eq!(words("Ich möchte Rezepte"), ["ich", "rezepte"]);
    }
}
