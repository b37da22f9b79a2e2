//! What the planner knows about the things people keep track of: entity concepts (a `recipe` is a
//! table with a title, ingredients, a rating…) and field concepts (`price` is a number, `due
//! date` a date).
//!
//! Key decision: concepts are plain data tables, separate from the planner's parsing, so adding
//! a domain is one entry and cannot break the parser. Words not in these tables still work: the
//! planner turns unknown nouns into generic entities and fields.

use plan::FieldKind;

/// A field kind without the reference target, so specs can be `const` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`FieldKind::Text`].
    Text,
    /// [`FieldKind::LongText`].
    LongText,
    /// [`FieldKind::Integer`].
    Integer,
    /// [`FieldKind::Number`].
    Number,
    /// [`FieldKind::Boolean`].
    Boolean,
    /// [`FieldKind::Date`].
    Date,
    /// [`FieldKind::Rating`].
    Rating,
    /// [`FieldKind::Choice`], with the values the prompt lists or [`default_choices`].
    Choice,
}

impl Kind {
    /// The plan's field kind.
    pub fn field_kind(self) -> FieldKind {
        match self {
            Kind::Text => FieldKind::Text,
            Kind::LongText => FieldKind::LongText,
            Kind::Integer => FieldKind::Integer,
            Kind::Number => FieldKind::Number,
            Kind::Boolean => FieldKind::Boolean,
            Kind::Date => FieldKind::Date,
            Kind::Rating => FieldKind::Rating,
            Kind::Choice => FieldKind::Choice,
        }
    }
}

/// A field an entity concept starts with.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Column name.
    pub name: &'static str,
    /// Kind.
    pub kind: Kind,
    /// Whether it must be filled in.
    pub required: bool,
}

const fn f(name: &'static str, kind: Kind, required: bool) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required,
    }
}

/// A kind of record people keep, recognised by its nouns.
#[derive(Debug)]
pub struct EntityConcept {
    /// Singular nouns (and compound tokens, see [`COMPOUNDS`]) that name it.
    pub words: &'static [&'static str],
    /// Table name.
    pub table: &'static str,
    /// Display name (plural).
    pub label: &'static str,
    /// Starting fields.
    pub fields: &'static [FieldSpec],
    /// Tables this entity may reference, in order of preference: the first one present in the plan
    /// becomes a `<singular>_id` reference field.
    pub parents: &'static [&'static str],
    /// Whether that reference is required (a check-in without its habit means nothing).
    pub parent_required: bool,
    /// Tables always planned alongside this one (a habit tracker needs check-ins).
    pub companions: &'static [&'static str],
    /// App name when this is the app's main entity and the prompt names none.
    pub app_name: &'static str,
}

use Kind::*;

/// Every entity concept. Order matters only for ties (first match wins).
pub const ENTITIES: &[EntityConcept] = &[
    EntityConcept {
        words: &["task", "todo", "chore", "assignment", "errand", "kanban"],
        table: "tasks",
        label: "Tasks",
        fields: &[
            f("title", Text, true),
            f("done", Boolean, false),
            f("due_date", Date, false),
            f("notes", LongText, false),
        ],
        parents: &["projects"],
        parent_required: false,
        companions: &[],
        app_name: "Task Manager",
    },
    EntityConcept {
        words: &["project"],
        table: "projects",
        label: "Projects",
        fields: &[f("name", Text, true), f("description", LongText, false)],
        parents: &["clients", "customers"],
        parent_required: false,
        companions: &[],
        app_name: "Project Tracker",
    },
    EntityConcept {
        words: &["recipe", "cookbook"],
        table: "recipes",
        label: "Recipes",
        fields: &[
            f("title", Text, true),
            f("ingredients", LongText, false),
            f("instructions", LongText, false),
            f("rating", Rating, false),
            f("prep_minutes", Integer, false),
            f("servings", Integer, false),
        ],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Recipe Book",
    },
    EntityConcept {
        words: &["habit"],
        table: "habits",
        label: "Habits",
        fields: &[
            f("name", Text, true),
            f("description", LongText, false),
            f("times_per_week", Integer, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &["check_ins"],
        app_name: "Habit Tracker",
    },
    EntityConcept {
        words: &["checkin"],
        table: "check_ins",
        label: "Check-ins",
        fields: &[f("date", Date, true), f("note", Text, false)],
        parents: &["habits", "goals"],
        parent_required: true,
        companions: &[],
        app_name: "Check-in Log",
    },
    EntityConcept {
        words: &["inventory", "stock", "item", "supply"],
        table: "items",
        label: "Items",
        fields: &[
            f("name", Text, true),
            f("quantity", Integer, true),
            f("unit", Text, false),
            f("price", Number, false),
            f("reorder_level", Integer, false),
            f("notes", LongText, false),
        ],
        parents: &["suppliers", "categories", "locations"],
        parent_required: false,
        companions: &[],
        app_name: "Inventory Tracker",
    },
    EntityConcept {
        words: &["product", "sku"],
        table: "products",
        label: "Products",
        fields: &[
            f("name", Text, true),
            f("sku", Text, false),
            f("price", Number, false),
            f("quantity", Integer, false),
            f("description", LongText, false),
        ],
        parents: &["suppliers", "categories"],
        parent_required: false,
        companions: &[],
        app_name: "Product Catalog",
    },
    EntityConcept {
        words: &["supplier", "vendor"],
        table: "suppliers",
        label: "Suppliers",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("phone", Text, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Supplier List",
    },
    EntityConcept {
        words: &["book", "reading", "novel"],
        table: "books",
        label: "Books",
        fields: &[
            f("title", Text, true),
            f("author", Text, false),
            f("finished", Boolean, false),
            f("rating", Rating, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Reading List",
    },
    EntityConcept {
        words: &["movie", "film", "show", "series"],
        table: "movies",
        label: "Movies",
        fields: &[
            f("title", Text, true),
            f("year", Integer, false),
            f("watched", Boolean, false),
            f("rating", Rating, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Watch List",
    },
    EntityConcept {
        words: &["note", "memo", "idea"],
        table: "notes",
        label: "Notes",
        fields: &[
            f("title", Text, true),
            f("body", LongText, false),
            f("pinned", Boolean, false),
        ],
        parents: &["notebooks", "projects"],
        parent_required: false,
        companions: &[],
        app_name: "Notes",
    },
    EntityConcept {
        words: &["notebook"],
        table: "notebooks",
        label: "Notebooks",
        fields: &[f("name", Text, true)],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Notebooks",
    },
    EntityConcept {
        words: &["journal", "diary", "entry"],
        table: "entries",
        label: "Entries",
        fields: &[
            f("date", Date, true),
            f("title", Text, false),
            f("body", LongText, false),
            f("mood", Rating, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Journal",
    },
    EntityConcept {
        words: &["contact", "friend", "addressbook"],
        table: "contacts",
        label: "Contacts",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("phone", Text, false),
            f("company", Text, false),
            f("birthday", Date, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Contacts",
    },
    EntityConcept {
        words: &["client", "crm"],
        table: "clients",
        label: "Clients",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("phone", Text, false),
            f("company", Text, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Client Manager",
    },
    EntityConcept {
        words: &["customer"],
        table: "customers",
        label: "Customers",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("phone", Text, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Customer List",
    },
    EntityConcept {
        words: &["lead", "deal", "opportunity"],
        table: "deals",
        label: "Deals",
        fields: &[
            f("title", Text, true),
            f("value", Number, false),
            f("stage", Text, false),
            f("close_date", Date, false),
            f("notes", LongText, false),
        ],
        parents: &["clients", "customers", "contacts"],
        parent_required: false,
        companions: &[],
        app_name: "Sales Pipeline",
    },
    EntityConcept {
        words: &["invoice", "bill"],
        table: "invoices",
        label: "Invoices",
        fields: &[
            f("number", Text, true),
            f("amount", Number, true),
            f("issued_on", Date, false),
            f("due_date", Date, false),
            f("paid", Boolean, false),
        ],
        parents: &["clients", "customers"],
        parent_required: false,
        companions: &[],
        app_name: "Invoices",
    },
    EntityConcept {
        words: &["order", "purchase", "sale"],
        table: "orders",
        label: "Orders",
        fields: &[
            f("order_number", Text, true),
            f("total", Number, false),
            f("status", Text, false),
            f("ordered_on", Date, false),
            f("notes", LongText, false),
        ],
        parents: &["customers", "clients"],
        parent_required: false,
        companions: &[],
        app_name: "Order Tracker",
    },
    EntityConcept {
        words: &["expense", "spending", "budget", "transaction", "payment"],
        table: "expenses",
        label: "Expenses",
        fields: &[
            f("description", Text, true),
            f("amount", Number, true),
            f("date", Date, true),
            f("notes", LongText, false),
        ],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Expense Tracker",
    },
    EntityConcept {
        words: &["category"],
        table: "categories",
        label: "Categories",
        fields: &[f("name", Text, true), f("description", LongText, false)],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Categories",
    },
    EntityConcept {
        words: &["workout", "exercise", "training", "gym", "fitness", "run"],
        table: "workouts",
        label: "Workouts",
        fields: &[
            f("activity", Text, true),
            f("date", Date, false),
            f("duration_minutes", Integer, false),
            f("distance_km", Number, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Workout Log",
    },
    EntityConcept {
        words: &["meal", "food", "calorie", "nutrition"],
        table: "meals",
        label: "Meals",
        fields: &[
            f("name", Text, true),
            f("date", Date, true),
            f("calories", Integer, false),
            f("notes", LongText, false),
        ],
        parents: &["recipes"],
        parent_required: false,
        companions: &[],
        app_name: "Meal Planner",
    },
    EntityConcept {
        words: &[
            "event",
            "meeting",
            "appointment",
            "party",
            "class",
            "lesson",
        ],
        table: "events",
        label: "Events",
        fields: &[
            f("title", Text, true),
            f("date", Date, true),
            f("location", Text, false),
            f("notes", LongText, false),
        ],
        parents: &["contacts", "clients"],
        parent_required: false,
        companions: &[],
        app_name: "Event Planner",
    },
    EntityConcept {
        words: &["plant", "garden"],
        table: "plants",
        label: "Plants",
        fields: &[
            f("name", Text, true),
            f("species", Text, false),
            f("last_watered", Date, false),
            f("water_every_days", Integer, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Plant Tracker",
    },
    EntityConcept {
        words: &["pet", "dog", "cat"],
        table: "pets",
        label: "Pets",
        fields: &[
            f("name", Text, true),
            f("species", Text, false),
            f("birthday", Date, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Pet Tracker",
    },
    EntityConcept {
        words: &["ticket", "bug", "issue"],
        table: "tickets",
        label: "Tickets",
        fields: &[
            f("title", Text, true),
            f("description", LongText, false),
            f("status", Choice, false),
            f("priority", Choice, false),
        ],
        parents: &["projects"],
        parent_required: false,
        companions: &[],
        app_name: "Issue Tracker",
    },
    EntityConcept {
        words: &["post", "article", "blog"],
        table: "posts",
        label: "Posts",
        fields: &[f("title", Text, true), f("body", LongText, true)],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Blog",
    },
    EntityConcept {
        words: &["poem", "poetry", "verse"],
        table: "poems",
        label: "Poems",
        fields: &[f("title", Text, true), f("body", LongText, true)],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Poetry Blog",
    },
    EntityConcept {
        words: &["story"],
        table: "stories",
        label: "Stories",
        fields: &[f("title", Text, true), f("body", LongText, true)],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Story Collection",
    },
    EntityConcept {
        words: &["comment", "reply"],
        table: "comments",
        label: "Comments",
        fields: &[f("body", LongText, true)],
        parents: &[
            "posts", "poems", "stories", "tickets", "recipes", "books", "movies", "events", "tasks",
        ],
        parent_required: true,
        companions: &[],
        app_name: "Comments",
    },
    EntityConcept {
        words: &["guestbook", "message"],
        table: "messages",
        label: "Messages",
        fields: &[f("name", Text, true), f("message", LongText, true)],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Guestbook",
    },
    EntityConcept {
        words: &["goal", "objective", "resolution"],
        table: "goals",
        label: "Goals",
        fields: &[
            f("title", Text, true),
            f("target_date", Date, false),
            f("achieved", Boolean, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Goal Tracker",
    },
    EntityConcept {
        words: &["trip", "travel", "vacation", "holiday", "journey"],
        table: "trips",
        label: "Trips",
        fields: &[
            f("destination", Text, true),
            f("start_date", Date, false),
            f("end_date", Date, false),
            f("budget", Number, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Trip Planner",
    },
    EntityConcept {
        words: &["bookmark", "link", "url"],
        table: "bookmarks",
        label: "Bookmarks",
        fields: &[
            f("title", Text, true),
            f("url", Text, true),
            f("notes", LongText, false),
        ],
        parents: &["categories"],
        parent_required: false,
        companions: &[],
        app_name: "Bookmarks",
    },
    EntityConcept {
        words: &["shopping", "grocery", "groceries"],
        table: "shopping_items",
        label: "Shopping items",
        fields: &[
            f("name", Text, true),
            f("quantity", Integer, false),
            f("bought", Boolean, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Shopping List",
    },
    EntityConcept {
        words: &["employee", "staff", "member", "volunteer"],
        table: "members",
        label: "Members",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("role", Text, false),
            f("start_date", Date, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Team Directory",
    },
    EntityConcept {
        words: &["student", "pupil"],
        table: "students",
        label: "Students",
        fields: &[
            f("name", Text, true),
            f("email", Text, false),
            f("grade", Text, false),
            f("notes", LongText, false),
        ],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Student Tracker",
    },
    EntityConcept {
        words: &["ingredient"],
        table: "ingredients",
        label: "Ingredients",
        fields: &[
            f("name", Text, true),
            f("quantity", Number, false),
            f("unit", Text, false),
        ],
        parents: &["recipes"],
        parent_required: false,
        companions: &[],
        app_name: "Pantry",
    },
    EntityConcept {
        words: &["location", "warehouse", "room", "shelf"],
        table: "locations",
        label: "Locations",
        fields: &[f("name", Text, true), f("notes", LongText, false)],
        parents: &[],
        parent_required: false,
        companions: &[],
        app_name: "Locations",
    },
];

/// A property of a record, recognised by its noun.
#[derive(Debug)]
pub struct FieldConcept {
    /// Singular nouns (and compound tokens) that name it.
    pub words: &'static [&'static str],
    /// Column name.
    pub name: &'static str,
    /// Kind.
    pub kind: Kind,
}

const fn c(words: &'static [&'static str], name: &'static str, kind: Kind) -> FieldConcept {
    FieldConcept { words, name, kind }
}

/// Every field concept. Some words are also entity concepts (`note`, `ingredient`, `category`):
/// the planner makes them fields when they describe an entity already mentioned ("recipes with
/// ingredients") and entities otherwise ("a note-taking app").
pub const FIELDS: &[FieldConcept] = &[
    c(&["ingredient"], "ingredients", LongText),
    c(
        &["instruction", "step", "method", "direction"],
        "instructions",
        LongText,
    ),
    c(&["rating", "star"], "rating", Rating),
    c(&["score"], "score", Number),
    c(&["review"], "review", LongText),
    c(&["price", "cost"], "price", Number),
    c(&["amount", "sum"], "amount", Number),
    c(&["total"], "total", Number),
    c(&["budget"], "budget", Number),
    c(&["quantity", "qty", "stock"], "quantity", Integer),
    c(&["unit"], "unit", Text),
    c(&["duedate", "deadline", "due"], "due_date", Date),
    c(&["date", "day"], "date", Date),
    c(&["birthday", "birthdate"], "birthday", Date),
    c(&["note", "comment", "remark"], "notes", LongText),
    c(
        &["body", "content", "text", "message", "bio", "biography"],
        "body",
        LongText,
    ),
    c(
        &["description", "detail", "summary"],
        "description",
        LongText,
    ),
    c(&["tag", "label", "keyword"], "tags", Text),
    c(&["category"], "category", Text),
    c(&["genre"], "genre", Text),
    c(&["type"], "type", Text),
    c(&["status", "state"], "status", Choice),
    c(&["stage"], "stage", Text),
    c(&["priority", "importance", "urgency"], "priority", Choice),
    c(&["severity"], "severity", Choice),
    c(&["difficulty"], "difficulty", Choice),
    c(&["email"], "email", Text),
    c(&["phone", "telephone", "mobile"], "phone", Text),
    c(&["address"], "address", Text),
    c(&["url", "link", "website"], "url", Text),
    c(&["author", "writer"], "author", Text),
    c(&["location", "place", "venue"], "location", Text),
    c(
        &["company", "organization", "organisation"],
        "company",
        Text,
    ),
    c(&["duration"], "duration", Number),
    c(&["minute"], "minutes", Integer),
    c(&["hour"], "hours", Number),
    c(&["calorie", "kcal"], "calories", Integer),
    c(&["weight"], "weight", Number),
    c(&["yesno"], "yes_no", Boolean),
    c(
        &["distance", "mile", "km", "kilometer", "kilometre"],
        "distance_km",
        Number,
    ),
    c(
        &["done", "complete", "completion", "completed", "finished"],
        "done",
        Boolean,
    ),
    c(&["favorite", "favourite", "fave"], "favorite", Boolean),
    c(&["paid"], "paid", Boolean),
    c(&["size"], "size", Text),
    c(&["color", "colour"], "color", Text),
    c(&["brand"], "brand", Text),
    c(&["model"], "model", Text),
    c(&["year"], "year", Integer),
    c(&["age"], "age", Integer),
    c(&["mood", "energy"], "mood", Rating),
    c(&["sku", "barcode"], "sku", Text),
    c(&["title"], "title", Text),
    c(&["name"], "name", Text),
    c(&["owner", "assignee"], "owner", Text),
    c(&["condition"], "condition", Text),
    c(&["serving"], "servings", Integer),
    c(&["expiry", "expiration"], "expires_on", Date),
    c(&["role", "position"], "role", Text),
];

/// Words that ask for file storage (photos, uploads): the plan gets `file_storage`, and the
/// app the per-user files API.
pub const FILE_WORDS: &[&str] = &[
    "photo",
    "picture",
    "image",
    "pic",
    "upload",
    "attachment",
    "file",
    "document",
    "receipt",
    "scan",
];

/// Nouns that name the app itself rather than its data ("task *manager*", "recipe *book*").
pub const APP_WORDS: &[&str] = &[
    "tracker",
    "manager",
    "list",
    "log",
    "logger",
    "book",
    "planner",
    "journal",
    "diary",
    "organizer",
    "organiser",
    "catalog",
    "catalogue",
    "collection",
    "board",
    "app",
    "application",
    "database",
    "system",
    "tool",
    "dashboard",
    "schedule",
    "calendar",
    "crm",
    "register",
    "directory",
    "library",
    "keeper",
    "hub",
    "portal",
    "site",
    "website",
    "notebook",
    "inventory",
    "counter",
    "timer",
    "box",
    "chart",
    "platform",
    "program",
    "webpage",
    "webapp",
    "watchlist",
    "wishlist",
    "checklist",
    "maker",
    "scheduler",
    "blog",
    "desk",
    "forum",
];

/// App words after which the app's records are dated entries ("a sleep *log*").
pub const LOG_WORDS: &[&str] = &["log", "logger", "journal", "diary", "tracker", "counter"];

/// Two-word phrases read as one token (after tokenizing, before singularising); an empty
/// replacement drops the phrase.
pub const COMPOUNDS: &[(&str, &str, &str)] = &[
    ("to", "do", "todo"),
    ("to", "dos", "todo"),
    ("check", "in", "checkin"),
    ("check", "ins", "checkin"),
    ("due", "date", "duedate"),
    ("due", "dates", "duedate"),
    ("cook", "book", "cookbook"),
    ("address", "book", "addressbook"),
    ("sign", "up", ""),
    ("sign", "in", ""),
    ("log", "in", ""),
    ("birth", "date", "birthdate"),
    ("birth", "dates", "birthdate"),
    ("fill", "up", "fill_up"),
    ("real", "time", ""),
    ("phone", "number", "phone"),
    ("phone", "numbers", "phone"),
    ("fill", "ups", "fill_ups"),
    ("sign", "ups", "sign_ups"),
    ("follow", "ups", "follow_ups"),
    ("check", "ups", "check_ups"),
    ("meet", "ups", "meet_ups"),
    ("pick", "ups", "pick_ups"),
    ("q", "a", "qanda"),
];

/// Leads after which a noun phrase names records to keep.
pub const ENTITY_LEADS: &[&str] = &[
    "track",
    "tracks",
    "tracking",
    "manage",
    "manages",
    "managing",
    "organize",
    "organise",
    "organizes",
    "organises",
    "organizing",
    "organising",
    "store",
    "stores",
    "storing",
    "log",
    "logs",
    "logging",
    "record",
    "records",
    "recording",
    "collect",
    "collecting",
    "catalog",
    "catalogue",
    "cataloging",
    "list",
    "listing",
    "lists",
    "plan",
    "planning",
    "schedule",
    "scheduling",
    "monitor",
    "monitoring",
    "of",
    "about",
    "save",
    "saving",
    "remember",
    "follow",
    "count",
    "counting",
    "share",
    "sharing",
    "browse",
    "handle",
    "add",
    "adding",
    "create",
    "creating",
    "keep",
    "keeping",
    "rate",
    "reviewing",
    "book",
    "books",
    "note",
    "notes",
    "plans",
    "catalogs",
];

/// Leads after which nouns describe the record just mentioned.
pub const WITH_LEADS: &[&str] = &[
    "with",
    "including",
    "containing",
    "featuring",
    "has",
    "having",
    "where",
];

/// Leads that end the current clause (relative clauses, purposes, conditions).
pub const CLAUSE_ENDS: &[&str] = &[
    "that", "which", "who", "when", "so", "because", "if", "to", "while", "until", "whenever",
    "but", "then",
];

/// Words that are verbs at the start of a clause ("*record* my runs", "to *book* a room") and
/// nouns elsewhere ("vinyl *records*", "a *book* tracker").
pub const DUAL_WORDS: &[&str] = &[
    "record",
    "records",
    "plan",
    "plans",
    "list",
    "lists",
    "log",
    "logs",
    "schedule",
    "catalog",
    "catalogue",
    "store",
    "review",
    "reviews",
    "count",
    "book",
    "books",
    "note",
    "notes",
    "rate",
    "rates",
];

/// Words after which a dual word is a verb.
pub const VERB_CONTEXT: &[&str] = &[
    "i", "we", "you", "to", "can", "could", "will", "would", "should", "please", "also", "lets",
    "let", "me", "us", "them", "want", "need", "easily", "quickly", "must",
];

/// The entity concept a singular word names.
pub fn entity_concept(word: &str) -> Option<&'static EntityConcept> {
    ENTITIES.iter().find(|e| e.words.contains(&word))
}

/// The entity concept with this table name.
pub fn entity_by_table(table: &str) -> Option<&'static EntityConcept> {
    ENTITIES.iter().find(|e| e.table == table)
}

/// The field concept a singular word names.
pub fn field_concept(word: &str) -> Option<&'static FieldConcept> {
    FIELDS.iter().find(|f| f.words.contains(&word))
}

/// Values for a choice field the prompt names without listing them.
pub fn default_choices(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "status" => &["open", "in progress", "done"],
        "priority" => &["low", "medium", "high"],
        "severity" => &["low", "medium", "high", "critical"],
        "difficulty" => &["easy", "moderate", "hard"],
        _ => return None,
    })
}

/// Words after which a list in parentheses or after a colon gives a field's values ("status
/// (open, in progress, done)", "priority: low, normal, urgent").
pub const CHOICE_WORDS: &[&str] = &[
    "status",
    "state",
    "stage",
    "severity",
    "priority",
    "type",
    "kind",
    "category",
    "level",
    "difficulty",
    "size",
    "condition",
    "phase",
    "outcome",
    "frequency",
    "tier",
    "role",
    "genre",
    "mood",
    "result",
    "urgency",
    "importance",
    "grade",
    "format",
    "channel",
    "source",
    "method",
];

/// Concept words that name a domain rather than records: the concept's own table is used
/// ("a todo list" keeps `tasks`); any other concept word is kept as the user wrote it ("issues").
pub const DOMAIN_WORDS: &[&str] = &[
    "todo",
    "kanban",
    "crm",
    "inventory",
    "stock",
    "supply",
    "reading",
    "cookbook",
    "spending",
    "calorie",
    "nutrition",
    "food",
    "gym",
    "fitness",
    "training",
    "travel",
    "vacation",
    "holiday",
    "garden",
    "shopping",
    "grocery",
    "groceries",
    "journal",
    "diary",
    "addressbook",
    "sku",
    "poetry",
    "verse",
    "blog",
    "guestbook",
];

/// Words for the people who use an app rather than records it keeps, when they are the subject
/// of a modal ("visitors can read"); `guests` or `members` alone may still be records.
pub const VIEWERS: &[&str] = &["visitor", "reader", "viewer", "guest", "stranger", "public"];

/// Modal verbs after a subject ("visitors *can* read").
pub const MODALS: &[&str] = &["can", "may", "could", "should", "will", "must", "might"];

/// Units of time: "times per *day*" is a rate, not a link to a `days` table.
pub const TIME_UNITS: &[&str] = &[
    "day", "week", "month", "year", "hour", "minute", "night", "morning", "evening", "season",
    "quarter", "semester", "term", "weekend", "time", "date",
];

/// Words that measure something: "times per day" becomes one whole-number field.
pub const RATE_WORDS: &[&str] = &[
    "time", "hour", "minute", "page", "glass", "cup", "step", "point", "calorie", "serving",
    "session", "mile", "km", "rep", "set", "visit", "meal", "dose",
];

/// Prepositions that link a record to another ("appliances *in* each room", "loans *of* a tool
/// *to* a neighbour").
pub const LINK_WORDS: &[&str] = &[
    "per",
    "in",
    "at",
    "on",
    "for",
    "of",
    "to",
    "by",
    "from",
    "under",
    "within",
    "inside",
    "into",
    "belonging",
    "about",
];

/// Heads of a field name that hold a decimal number.
pub const NUMBER_WORDS: &[&str] = &[
    "amount",
    "price",
    "cost",
    "rent",
    "value",
    "fee",
    "salary",
    "budget",
    "total",
    "balance",
    "rate",
    "premium",
    "weight",
    "length",
    "height",
    "width",
    "depth",
    "distance",
    "liter",
    "litre",
    "liters",
    "litres",
    "mileage",
    "odometer",
    "temperature",
    "tempo",
    "gain",
    "elevation",
    "coverage",
    "income",
    "revenue",
    "profit",
    "deposit",
    "score",
    "percentage",
    "percent",
    "bpm",
    "gallon",
    "volume",
    "speed",
    "pace",
    "limit",
    "spend",
    "wage",
    "tip",
    "discount",
    "tax",
    "bid",
    "payment",
    "earnings",
    "hours",
    "hour",
];

/// Heads of a field name that hold a whole number.
pub const INTEGER_WORDS: &[&str] = &[
    "count",
    "quantity",
    "number",
    "set",
    "rep",
    "point",
    "vote",
    "bedroom",
    "bathroom",
    "serving",
    "pulse",
    "systolic",
    "diastolic",
    "placement",
    "rank",
    "page",
    "seat",
    "age",
    "floor",
    "attendee",
    "capacity",
    "copies",
    "copy",
    "level",
    "stock",
    "like",
    "view",
    "size",
    "minute",
    "minutes",
    "goal",
    "assist",
    "win",
    "loss",
    "round",
];

/// Participles and adjectives that name a yes/no field ("returned yes/no", "a watched flag").
pub const BOOLEAN_WORDS: &[&str] = &[
    "done",
    "paid",
    "finished",
    "completed",
    "watched",
    "listened",
    "learned",
    "learnt",
    "bought",
    "returned",
    "taken",
    "applied",
    "read",
    "visited",
    "active",
    "archived",
    "available",
    "resolved",
    "attended",
    "approved",
    "published",
    "shipped",
    "delivered",
    "sold",
    "verified",
    "confirmed",
    "cancelled",
    "canceled",
    "public",
    "private",
    "favorite",
    "favourite",
    "pinned",
    "starred",
    "urgent",
    "important",
    "signed",
    "submitted",
    "accepted",
];

/// People and organisations an app is for ("for freelancers", "for the kids"): an audience,
/// not records.
pub const AUDIENCE_WORDS: &[&str] = &[
    "freelancer",
    "kid",
    "child",
    "teacher",
    "parent",
    "family",
    "beginner",
    "team",
    "couple",
    "mom",
    "dad",
    "runner",
    "gardener",
    "developer",
    "designer",
    "writer",
    "artist",
    "musician",
    "coach",
    "trainer",
    "nurse",
    "doctor",
    "landlord",
    "tenant",
    "owner",
    "manager",
    "business",
    "company",
    "startup",
    "bakery",
    "restaurant",
    "shop",
    "store",
    "wedding",
    "club",
    "school",
    "household",
    "roommate",
    "student",
    "people",
    "person",
    "myself",
    "me",
    "us",
    "friend",
    "engineer",
    "women",
    "woman",
    "men",
    "man",
    "customer",
    "user",
    "anyone",
    "everyone",
    "industry",
    "office",
    "clinic",
    "agency",
    "community",
];

#[cfg(test)]
mod tests {
    use super::*;
    use plan::{is_identifier, is_sql_keyword, AUTOMATIC_COLUMNS, RESERVED_TABLES};

    #[test]
    fn every_concept_name_is_a_valid_unreserved_identifier() {
        for e in ENTITIES {
            assert!(
                is_identifier(e.table) && !is_sql_keyword(e.table),
                "{}",
                e.table
            );
            assert!(!RESERVED_TABLES.contains(&e.table), "{}", e.table);
            for p in e.parents.iter().chain(e.companions) {
                assert!(
                    entity_by_table(p).is_some(),
                    "{} names unknown table {p}",
                    e.table
                );
            }
            for f in e.fields {
                assert!(
                    is_identifier(f.name) && !is_sql_keyword(f.name),
                    "{}",
                    f.name
                );
                assert!(!AUTOMATIC_COLUMNS.contains(&f.name), "{}", f.name);
            }
        }
        for f in FIELDS {
            assert!(
                is_identifier(f.name) && !is_sql_keyword(f.name),
                "{}",
                f.name
            );
        }
    }
}
