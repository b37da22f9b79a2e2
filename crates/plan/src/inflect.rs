//! English noun inflection for table names and labels: the planner names tables in the plural
//! (`recipes`) and the scaffold labels one row in the singular ("recipe"); both use these.

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
