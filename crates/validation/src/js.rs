//! One pass of oxc over a JavaScript module: syntax errors, imports, `/api` path literals, where
//! the app secret is named (see `internals`) and what `export default` is.
//!
//! Key decision: parse once, collect facts, decide later. The import, route and contract checks
//! work on the plain values collected here, so they are unit-testable without an AST, and the
//! arena holding the AST is freed as soon as a file is done.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use oxc_allocator::Allocator;
use oxc_allocator::Vec as ArenaVec;
use oxc_ast::ast::{
    Argument, BinaryExpression, BinaryOperator, BindingIdentifier, CallExpression, Class,
    ClassElement, Declaration, ExportAllDeclaration, ExportDefaultDeclarationKind,
    ExportNamedDeclaration, Expression, IdentifierName, IdentifierReference, ImportDeclaration,
    ImportDeclarationSpecifier, ImportExpression, ModuleExportName, NewExpression,
    ObjectPropertyKind, Program, RegExpFlags, RegExpLiteral, SourceType, Span, Statement,
    StringLiteral, TemplateElement, TemplateLiteral,
};
use oxc_ast_visit::{walk, Visit};
use oxc_parser::Parser;

use super::internals::APP_SECRET;
use super::{depth, guard};

/// Stands for a `${…}` expression inside a collected path (never in real paths: it is a control
/// character, and paths with control characters are not collected).
pub(super) const HOLE: char = '\u{1}';

/// How a module is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    /// An ES module: worker modules and `.mjs` assets.
    Module,
    /// A module if it has `import`/`export`, otherwise a classic script: other `public/**/*.js`.
    Unambiguous,
}

/// A syntax error: byte offset and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub offset: u32,
    pub message: String,
}

/// A module request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Import {
    /// The specifier, or `None` for `import(expression)` with a computed path.
    pub specifier: Option<String>,
    /// Byte offset of the specifier (or the `import(` call).
    pub offset: u32,
    /// The names taken from the module by a static `import { a }`, `import d` or
    /// `export { a } from`: each must be exported by it. Empty for a namespace import, a bare
    /// `import "x"`, `export * from` and `import()`.
    pub names: Vec<Wanted>,
}

/// A name one module takes from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Wanted {
    /// The exported name asked for: `default` for a default import.
    pub name: String,
    /// The name it is bound to in the importing module (`d` in `import d from`).
    pub local: String,
    /// Byte offset of this name in the import or export clause.
    pub offset: u32,
}

/// What a module exports, read from its top-level statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Exports {
    /// Names it exports itself or re-exports by name, `default` included.
    pub names: BTreeSet<String>,
    /// Specifiers of its `export * from "…"`: every name of those (but `default`) is exported too.
    pub stars: Vec<String>,
    /// Top-level names it declares without exporting them (a forgotten `export`), each with the
    /// byte offset of its declaration.
    pub declared: BTreeMap<String, u32>,
}

/// How a collected `/api` literal is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Stands alone: the whole path.
    Whole,
    /// The left side of `+`: more text (`/id`, `?q=`) follows at run time.
    Concatenated,
    /// The argument of `.startsWith(…)`: everything under it.
    Prefix,
    /// A regular expression's source (`^\/api\/tasks\/(\d+)$`), to be read by `routes`.
    Regex,
    /// The path of the runtime's `crud(router, path, entity)`: `path` and `path/:id`.
    Resource,
}

/// A string, template or regex literal that starts with `/api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiLiteral {
    /// The text, with [`HOLE`] for each `${…}` of a template.
    pub text: String,
    pub offset: u32,
    pub usage: Use,
}

/// What `export default` exports, as far as the module itself tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DefaultExport {
    /// No default export at all.
    Missing,
    /// An object or class with a `fetch` member.
    HasFetch,
    /// Something that cannot be judged statically (a call result, a spread, an import): trusted.
    Unknown,
    /// Certainly no `fetch`: `what` is what was exported ("an object without fetch", …).
    NoFetch { offset: u32, what: &'static str },
}

/// Code the run-time guard cannot bound (see `guard`): a message and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hazard {
    pub offset: u32,
    pub message: String,
}

/// Everything the checks need from one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ModuleFacts {
    /// The first syntax error, if any (later ones are mostly consequences of the first). When
    /// set, the other fields are empty: a broken module is not checked further.
    pub syntax_error: Option<SyntaxError>,
    pub imports: Vec<Import>,
    pub api_literals: Vec<ApiLiteral>,
    /// Byte offsets of every identifier, property name or string/template text that names the
    /// app secret ([`APP_SECRET`]). Read from the AST, so comments never count.
    pub secret_names: Vec<u32>,
    /// Byte offsets of direct database calls (`env.DB.prepare(…)`, `DB.batch(…)`, …).
    pub db_calls: Vec<u32>,
    pub default_export: DefaultExport,
    /// Reserved names and regular expressions the guard cannot bound, in source order.
    pub hazards: Vec<Hazard>,
    pub exports: Exports,
}

/// Parses `source` and collects its facts.
pub(super) fn analyze(source: &str, goal: Goal) -> ModuleFacts {
    let source_type = match goal {
        Goal::Module => SourceType::mjs(),
        Goal::Unambiguous => SourceType::unambiguous(),
    };
    if let Some(line) = depth::too_deep(source, depth::MAX_NESTING) {
        let offset = match line {
            0 | 1 => 0,
            _ => source
                .match_indices('\n')
                .nth(line - 2)
                .map_or(0, |(i, _)| i + 1),
        };
        return ModuleFacts {
            syntax_error: Some(SyntaxError {
                offset: u32::try_from(offset).unwrap_or(u32::MAX),
                message: format!(
                    "the code nests too deeply here (more than {} levels of brackets and operators); \
                     split long expressions and deep nesting into smaller functions",
                    depth::MAX_NESTING
                ),
            }),
            imports: Vec::new(),
            api_literals: Vec::new(),
            secret_names: Vec::new(),
            db_calls: Vec::new(),
            default_export: DefaultExport::Missing,
            hazards: Vec::new(),
            exports: Exports::default(),
        };
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(first) = parsed.errors.first() {
        let offset = first
            .labels
            .as_ref()
            .and_then(|labels| labels.first())
            .map_or(0, |label| u32::try_from(label.offset()).unwrap_or(u32::MAX));
        let message = if looks_like_jsx(source, source_type) {
            "JSX is not supported (files are served as they are, without a build step); \
             write html`<div>…</div>` templates with htm instead"
                .to_string()
        } else {
            let mut message = lowercase_first(&first.message);
            if let Some(help) = &first.help {
                message.push_str("; ");
                message.push_str(&lowercase_first(help));
            }
            if message.contains("`EOF`") {
                message.push_str("; the file ends before the code is complete (cut off?)");
            }
            message
        };
        return ModuleFacts {
            syntax_error: Some(SyntaxError { offset, message }),
            imports: Vec::new(),
            api_literals: Vec::new(),
            secret_names: Vec::new(),
            db_calls: Vec::new(),
            default_export: DefaultExport::Missing,
            hazards: Vec::new(),
            exports: Exports::default(),
        };
    }
    let mut collector = Collector {
        source,
        ..Collector::default()
    };
    collector.visit_program(&parsed.program);
    let mut api_literals = collector.literals;
    for literal in &mut api_literals {
        if literal.usage == Use::Whole {
            if collector.resource_args.contains(&literal.offset) {
                literal.usage = Use::Resource;
            } else if collector.prefix_args.contains(&literal.offset) {
                literal.usage = Use::Prefix;
            } else if collector.concat_lefts.contains(&literal.offset) {
                literal.usage = Use::Concatenated;
            }
        }
    }
    ModuleFacts {
        syntax_error: None,
        imports: collector.imports,
        api_literals,
        secret_names: collector.secret_names,
        db_calls: collector.db_calls,
        default_export: default_export(&parsed.program),
        hazards: collector.hazards,
        exports: exports(&parsed.program),
    }
}

/// Only what `source` exports (`None` when it does not parse): for modules whose other facts
/// are not needed, such as the shipped runtime files.
pub(super) fn exports_of(source: &str, goal: Goal) -> Option<Exports> {
    let source_type = match goal {
        Goal::Module => SourceType::mjs(),
        Goal::Unambiguous => SourceType::unambiguous(),
    };
    if depth::too_deep(source, depth::MAX_NESTING).is_some() {
        return None;
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    parsed.errors.is_empty().then(|| exports(&parsed.program))
}

/// The exports of a parsed module: its top-level `export` statements.
fn exports(program: &Program<'_>) -> Exports {
    let mut out = Exports::default();
    let mut exported_locals = BTreeSet::new();
    for statement in &program.body {
        match statement {
            Statement::ExportNamedDeclaration(export) => {
                if let Some(declaration) = &export.declaration {
                    bound_names(declaration, |name, _| {
                        out.names.insert(name.to_string());
                    });
                }
                for specifier in &export.specifiers {
                    out.names.insert(specifier.exported.name().to_string());
                    if export.source.is_none() {
                        // `export { helper as help }`: helper is exported, under another name.
                        exported_locals.insert(specifier.local.name().to_string());
                    }
                }
            }
            Statement::ExportDefaultDeclaration(_) => {
                out.names.insert("default".to_string());
            }
            Statement::ExportAllDeclaration(export) => match &export.exported {
                Some(name) => {
                    out.names.insert(name.name().to_string());
                }
                None => out.stars.push(export.source.value.to_string()),
            },
            other => {
                if let Some(declaration) = other.as_declaration() {
                    bound_names(declaration, |name, offset| {
                        out.declared.entry(name.to_string()).or_insert(offset);
                    });
                }
            }
        }
    }
    let names = &out.names;
    out.declared
        .retain(|name, _| !names.contains(name) && !exported_locals.contains(name));
    out
}

/// Calls `bind` with each name a declaration binds and its offset: `const { a, b: [c] } = x`
/// binds `a` and `c`.
fn bound_names(declaration: &Declaration<'_>, mut bind: impl FnMut(&str, u32)) {
    match declaration {
        Declaration::VariableDeclaration(variables) => {
            for declarator in &variables.declarations {
                for identifier in declarator.id.get_binding_identifiers() {
                    bind(&identifier.name, identifier.span.start);
                }
            }
        }
        Declaration::FunctionDeclaration(function) => {
            if let Some(id) = &function.id {
                bind(&id.name, id.span.start);
            }
        }
        Declaration::ClassDeclaration(class) => {
            if let Some(id) = &class.id {
                bind(&id.name, id.span.start);
            }
        }
        _ => {}
    }
}

/// True when the module fails to parse as plain JavaScript but parses with JSX enabled: the
/// model wrote React-style markup.
fn looks_like_jsx(source: &str, source_type: SourceType) -> bool {
    // Cheap pre-check: JSX needs a `<` followed by a letter, `>` or `/`.
    let has_tag = source
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'>'));
    if !has_tag {
        return false;
    }
    let allocator = Allocator::default();
    Parser::new(&allocator, source, source_type.with_jsx(true))
        .parse()
        .errors
        .is_empty()
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first)
            if first.is_ascii_uppercase()
                && !chars.next().is_some_and(|c| c.is_ascii_uppercase()) =>
        {
            format!("{}{}", first.to_ascii_lowercase(), &text[1..])
        }
        _ => text.to_string(),
    }
}

/// `"GET /api/tasks"` (a key of a route table) → `"/api/tasks"`; anything else unchanged.
fn without_method(value: &str) -> &str {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    match value.split_once(' ') {
        Some((method, path)) if METHODS.contains(&method) && path.starts_with("/api") => path,
        _ => value,
    }
}

/// Whether collected path text is plausibly a URL path (not a sentence that mentions one).
fn is_pathlike(text: &str) -> bool {
    text.len() <= 300
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'))
}

#[derive(Default)]
struct Collector<'s> {
    source: &'s str,
    imports: Vec<Import>,
    literals: Vec<ApiLiteral>,
    /// Offsets of literals passed to `.startsWith(…)`.
    prefix_args: HashSet<u32>,
    /// Offsets of literals on the left of `+`.
    concat_lefts: HashSet<u32>,
    /// Offsets of literals passed as the path of `crud(router, path, entity)`.
    resource_args: HashSet<u32>,
    /// Offsets of direct database calls.
    db_calls: Vec<u32>,
    hazards: Vec<Hazard>,
    /// Offsets where the app secret is named.
    secret_names: Vec<u32>,
}

impl Collector<'_> {
    fn import(&mut self, literal: &StringLiteral<'_>, names: Vec<Wanted>) {
        self.imports.push(Import {
            specifier: Some(literal.value.to_string()),
            offset: literal.span.start,
            names,
        });
    }

    /// The cooked text of a template, with [`HOLE`] for each expression.
    fn template_text(template: &TemplateLiteral<'_>) -> Option<String> {
        let mut text = String::new();
        for (i, quasi) in template.quasis.iter().enumerate() {
            if i > 0 {
                text.push(HOLE);
            }
            text.push_str(quasi.value.cooked.as_ref()?.as_str());
        }
        Some(text)
    }

    fn hazard(&mut self, offset: u32, message: String) {
        self.hazards.push(Hazard { offset, message });
    }

    fn reserved(&mut self, name: &str, offset: u32) {
        if let Some(message) = guard::reserved_name(name) {
            self.hazard(offset, message);
        }
    }

    /// `RegExp(pattern, flags)` or `new RegExp(…)`: a literal pattern is checked like a regex
    /// literal; any other is refused.
    fn regexp_call(
        &mut self,
        callee: &Expression<'_>,
        arguments: &ArenaVec<'_, Argument<'_>>,
        span: Span,
    ) {
        if !is_regexp(callee) {
            return;
        }
        let shown = &self.source[span.start as usize..span.end as usize];
        let Some(first) = arguments.first() else {
            return;
        };
        let pattern = match first.as_expression().map(Expression::without_parentheses) {
            Some(Expression::StringLiteral(s)) => Some(s.value.to_string()),
            Some(Expression::TemplateLiteral(t)) if t.expressions.is_empty() => {
                Self::template_text(t)
            }
            // `new RegExp(/a/, "g")`: the literal is checked where it stands.
            Some(Expression::RegExpLiteral(_)) => return,
            _ => None,
        };
        let message = match pattern {
            Some(pattern) => {
                let unicode_sets = match arguments.get(1).and_then(Argument::as_expression) {
                    Some(Expression::StringLiteral(flags)) => flags.value.contains('v'),
                    _ => false,
                };
                match guard::backtracking(shown, &pattern, unicode_sets) {
                    Some(message) => message,
                    None => return,
                }
            }
            None => guard::runtime_pattern(shown),
        };
        self.hazard(span.start, message);
    }
}

/// `RegExp`, `globalThis.RegExp`, `self.RegExp`.
fn is_regexp(callee: &Expression<'_>) -> bool {
    match callee.without_parentheses() {
        Expression::Identifier(identifier) => identifier.name == "RegExp",
        Expression::StaticMemberExpression(member) => {
            member.property.name == "RegExp"
                && matches!(&member.object, Expression::Identifier(o)
                    if matches!(o.name.as_str(), "globalThis" | "self" | "window"))
        }
        _ => false,
    }
}

/// The D1 methods that run SQL.
const DB_METHODS: [&str; 4] = ["prepare", "batch", "exec", "dump"];

/// `env.DB.prepare`, `this.env.DB.batch`, `DB.exec`, `env["DB"].prepare`: a D1 method called on
/// the `DB` binding itself.
fn is_db_call(callee: &Expression<'_>) -> bool {
    let Expression::StaticMemberExpression(method) = callee.without_parentheses() else {
        return false;
    };
    if !DB_METHODS.contains(&method.property.name.as_str()) {
        return false;
    }
    match method.object.without_parentheses() {
        Expression::Identifier(binding) => binding.name == "DB",
        Expression::StaticMemberExpression(member) => member.property.name == "DB",
        Expression::ComputedMemberExpression(member) => {
            matches!(&member.expression, Expression::StringLiteral(s) if s.value == "DB")
        }
        _ => false,
    }
}

/// Offset of a string or template literal expression (parentheses ignored), if it is one.
fn literal_offset(expression: &Expression<'_>) -> Option<u32> {
    match expression.without_parentheses() {
        Expression::StringLiteral(s) => Some(s.span.start),
        Expression::TemplateLiteral(t) => Some(t.span.start),
        _ => None,
    }
}

impl<'a> Visit<'a> for Collector<'_> {
    fn visit_import_declaration(&mut self, it: &ImportDeclaration<'a>) {
        let mut names = Vec::new();
        for specifier in it.specifiers.iter().flatten() {
            match specifier {
                ImportDeclarationSpecifier::ImportSpecifier(s) => names.push(Wanted {
                    name: s.imported.name().to_string(),
                    local: s.local.name.to_string(),
                    offset: s.span.start,
                }),
                ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => names.push(Wanted {
                    name: "default".to_string(),
                    local: s.local.name.to_string(),
                    offset: s.span.start,
                }),
                ImportDeclarationSpecifier::ImportNamespaceSpecifier(_) => {}
            }
        }
        self.import(&it.source, names);
        walk::walk_import_declaration(self, it);
    }

    fn visit_export_named_declaration(&mut self, it: &ExportNamedDeclaration<'a>) {
        if let Some(source) = &it.source {
            let names = it
                .specifiers
                .iter()
                .map(|s| Wanted {
                    name: s.local.name().to_string(),
                    local: s.exported.name().to_string(),
                    offset: s.span.start,
                })
                .collect();
            self.import(source, names);
        }
        walk::walk_export_named_declaration(self, it);
    }

    fn visit_export_all_declaration(&mut self, it: &ExportAllDeclaration<'a>) {
        self.import(&it.source, Vec::new());
        walk::walk_export_all_declaration(self, it);
    }

    fn visit_import_expression(&mut self, it: &ImportExpression<'a>) {
        let specifier = match it.source.without_parentheses() {
            Expression::StringLiteral(s) => Some(s.value.to_string()),
            Expression::TemplateLiteral(t) if t.expressions.is_empty() => Self::template_text(t),
            _ => None,
        };
        self.imports.push(Import {
            specifier,
            offset: it.span.start,
            names: Vec::new(),
        });
        walk::walk_import_expression(self, it);
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if it.callee_name() == Some("startsWith") {
            if let Some(offset) = it
                .arguments
                .first()
                .and_then(|a| a.as_expression())
                .and_then(literal_offset)
            {
                self.prefix_args.insert(offset);
            }
        }
        if it.callee_name() == Some("crud") {
            if let Some(offset) = it
                .arguments
                .get(1)
                .and_then(|a| a.as_expression())
                .and_then(literal_offset)
            {
                self.resource_args.insert(offset);
            }
        }
        if is_db_call(&it.callee) {
            self.db_calls.push(it.span.start);
        }
        self.regexp_call(&it.callee, &it.arguments, it.span);
        walk::walk_call_expression(self, it);
    }

    fn visit_new_expression(&mut self, it: &NewExpression<'a>) {
        self.regexp_call(&it.callee, &it.arguments, it.span);
        walk::walk_new_expression(self, it);
    }

    fn visit_binary_expression(&mut self, it: &BinaryExpression<'a>) {
        if it.operator == BinaryOperator::Addition {
            if let Some(offset) = literal_offset(&it.left) {
                self.concat_lefts.insert(offset);
            }
        }
        walk::walk_binary_expression(self, it);
    }

    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        self.reserved(&it.name, it.span.start);
        if it.name == APP_SECRET {
            self.secret_names.push(it.span.start);
        }
    }

    fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
        self.reserved(&it.name, it.span.start);
        if it.name == APP_SECRET {
            self.secret_names.push(it.span.start);
        }
    }

    /// Property names: `env.JWT_SECRET`, `{ JWT_SECRET: … }`, `{ JWT_SECRET } = env`.
    fn visit_identifier_name(&mut self, it: &IdentifierName<'a>) {
        if it.name == APP_SECRET {
            self.secret_names.push(it.span.start);
        }
    }

    fn visit_template_element(&mut self, it: &TemplateElement<'a>) {
        if it.value.raw.contains(APP_SECRET) {
            self.secret_names.push(it.span.start);
        }
    }

    fn visit_string_literal(&mut self, it: &StringLiteral<'a>) {
        if it.value.contains(APP_SECRET) {
            self.secret_names.push(it.span.start);
        }
        let value = without_method(it.value.as_str());
        if value.starts_with("/api") && is_pathlike(value) {
            self.literals.push(ApiLiteral {
                text: value.to_string(),
                offset: it.span.start,
                usage: Use::Whole,
            });
        }
    }

    fn visit_template_literal(&mut self, it: &TemplateLiteral<'a>) {
        if let Some(text) = Self::template_text(it) {
            if text.starts_with("/api") && is_pathlike(&text) {
                self.literals.push(ApiLiteral {
                    text,
                    offset: it.span.start,
                    usage: Use::Whole,
                });
            }
        }
        walk::walk_template_literal(self, it);
    }

    fn visit_reg_exp_literal(&mut self, it: &RegExpLiteral<'a>) {
        let pattern = it.regex.pattern.text.as_str();
        let body = pattern.strip_prefix('^').unwrap_or(pattern);
        if body.starts_with("\\/api") {
            self.literals.push(ApiLiteral {
                text: pattern.to_string(),
                offset: it.span.start,
                usage: Use::Regex,
            });
        }
        let shown = &self.source[it.span.start as usize..it.span.end as usize];
        let unicode_sets = it.regex.flags.contains(RegExpFlags::V);
        if let Some(message) = guard::backtracking(shown, pattern, unicode_sets) {
            self.hazard(it.span.start, message);
        }
    }
}

/// Works out what the module's default export is, from its top-level statements.
fn default_export(program: &Program<'_>) -> DefaultExport {
    for statement in &program.body {
        match statement {
            Statement::ExportDefaultDeclaration(export) => {
                let offset = export.span.start;
                return match &export.declaration {
                    ExportDefaultDeclarationKind::FunctionDeclaration(_) => {
                        DefaultExport::NoFetch {
                            offset,
                            what: "a function",
                        }
                    }
                    ExportDefaultDeclarationKind::ClassDeclaration(class) => {
                        judge_class(class, offset)
                    }
                    ExportDefaultDeclarationKind::TSInterfaceDeclaration(_) => {
                        DefaultExport::Unknown
                    }
                    kind => match kind.as_expression() {
                        Some(expression) => judge(program, expression, offset, 0),
                        None => DefaultExport::Unknown,
                    },
                };
            }
            Statement::ExportNamedDeclaration(export) if export.source.is_none() => {
                for specifier in &export.specifiers {
                    if specifier.exported.name() == "default" {
                        let offset = specifier.span.start;
                        return match &specifier.local {
                            ModuleExportName::IdentifierReference(local) => {
                                judge_name(program, &local.name, offset, 0)
                            }
                            _ => DefaultExport::Unknown,
                        };
                    }
                }
            }
            // `export { default } from "./x.js"`: another module decides.
            Statement::ExportNamedDeclaration(export)
                if export
                    .specifiers
                    .iter()
                    .any(|s| s.exported.name() == "default") =>
            {
                return DefaultExport::Unknown;
            }
            _ => {}
        }
    }
    DefaultExport::Missing
}

/// How deep `export default a` → `const a = b` → `const b = {…}` is followed.
const MAX_ALIAS_DEPTH: usize = 4;

fn judge(
    program: &Program<'_>,
    expression: &Expression<'_>,
    offset: u32,
    depth: usize,
) -> DefaultExport {
    match expression.get_inner_expression() {
        Expression::ObjectExpression(object) => {
            let mut spread = false;
            for property in &object.properties {
                match property {
                    ObjectPropertyKind::ObjectProperty(p) => {
                        if p.key.static_name().as_deref() == Some("fetch") {
                            return DefaultExport::HasFetch;
                        }
                    }
                    ObjectPropertyKind::SpreadProperty(_) => spread = true,
                }
            }
            if spread {
                DefaultExport::Unknown
            } else {
                DefaultExport::NoFetch {
                    offset,
                    what: "an object without fetch",
                }
            }
        }
        Expression::ClassExpression(class) => judge_class(class, offset),
        Expression::FunctionExpression(_) | Expression::ArrowFunctionExpression(_) => {
            DefaultExport::NoFetch {
                offset,
                what: "a function",
            }
        }
        Expression::Identifier(identifier) => judge_name(program, &identifier.name, offset, depth),
        Expression::StringLiteral(_)
        | Expression::NumericLiteral(_)
        | Expression::BooleanLiteral(_)
        | Expression::NullLiteral(_)
        | Expression::TemplateLiteral(_)
        | Expression::ArrayExpression(_) => DefaultExport::NoFetch {
            offset,
            what: "a value without fetch",
        },
        _ => DefaultExport::Unknown,
    }
}

fn judge_class(class: &Class<'_>, offset: u32) -> DefaultExport {
    let has_fetch = class.body.body.iter().any(|element| match element {
        ClassElement::MethodDefinition(m) => m.key.static_name().as_deref() == Some("fetch"),
        ClassElement::PropertyDefinition(p) => p.key.static_name().as_deref() == Some("fetch"),
        _ => false,
    });
    if has_fetch {
        DefaultExport::HasFetch
    } else if class.super_class.is_some() {
        // `fetch` may be inherited.
        DefaultExport::Unknown
    } else {
        DefaultExport::NoFetch {
            offset,
            what: "a class without a fetch method",
        }
    }
}

/// Follows a top-level binding named `name` to what it holds.
fn judge_name(program: &Program<'_>, name: &str, offset: u32, depth: usize) -> DefaultExport {
    if depth >= MAX_ALIAS_DEPTH {
        return DefaultExport::Unknown;
    }
    for statement in &program.body {
        let declaration = match statement {
            Statement::ExportNamedDeclaration(export) => match &export.declaration {
                Some(declaration) => declaration,
                None => continue,
            },
            other => match other.as_declaration() {
                Some(declaration) => declaration,
                None => continue,
            },
        };
        match declaration {
            Declaration::VariableDeclaration(variables) => {
                for declarator in &variables.declarations {
                    if declarator.id.get_identifier_name().as_deref() == Some(name) {
                        return match &declarator.init {
                            Some(init) => judge(program, init, offset, depth + 1),
                            None => DefaultExport::Unknown,
                        };
                    }
                }
            }
            Declaration::FunctionDeclaration(function)
                if function.id.as_ref().is_some_and(|id| id.name == name) =>
            {
                return DefaultExport::NoFetch {
                    offset,
                    what: "a function",
                };
            }
            Declaration::ClassDeclaration(class)
                if class.id.as_ref().is_some_and(|id| id.name == name) =>
            {
                return judge_class(class, offset);
            }
            _ => {}
        }
    }
    // Imported, or assigned in a way not followed here.
    DefaultExport::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(source: &str) -> ModuleFacts {
        analyze(source, Goal::Module)
    }

    #[test]
    fn a_syntax_error_has_its_offset_and_message() {
        let source = "export default {\n  fetch() {\n    return 1;\n  \n";
        let error = facts(source).syntax_error.expect("an error");
        assert!(error.message.contains('}'), "{}", error.message);
        assert!(error.offset as usize <= source.len());
    }

    #[test]
    fn jsx_is_named_in_the_error() {
        let error = facts("const a = <div>hi</div>;\n")
            .syntax_error
            .expect("an error");
        assert!(
            error.message.contains("JSX is not supported"),
            "{}",
            error.message
        );
        let error = facts("const a = 1 < ;\n").syntax_error.expect("an error");
        assert!(!error.message.contains("JSX"), "{}", error.message);
    }

    #[test]
    fn every_kind_of_import_is_collected() {
        let f = facts(
            "import a from \"./a.js\";\nexport { b } from './b.js';\nexport * from \"./c.js\";\n\
             const d = await import(\"./d.js\");\nconst e = await import(`./e.js`);\n\
             const g = await import(name);\n",
        );
        let specs: Vec<Option<&str>> = f.imports.iter().map(|i| i.specifier.as_deref()).collect();
        assert_eq!(
            specs,
            [
                Some("./a.js"),
                Some("./b.js"),
                Some("./c.js"),
                Some("./d.js"),
                Some("./e.js"),
                None
            ]
        );
    }

    #[test]
    fn crud_paths_are_resources_and_direct_database_calls_are_found() {
        let f = facts(
            "crud(api, \"/api/poems\", poems);\nconst rows = await env.DB.prepare(\"SELECT 1\").all();\n\
             await this.env.DB.batch([]);\nawait DB.exec(\"x\");\nawait env[\"DB\"].dump();\n\
             await list(env.DB, poems, 1);\nconst db = env.DB;\nstatement.prepare();\n",
        );
        assert_eq!(f.api_literals.len(), 1);
        assert_eq!(f.api_literals[0].usage, Use::Resource);
        let lines: Vec<usize> = f
            .db_calls
            .iter()
            .map(|&o| super::super::line_at("crud(api, \"/api/poems\", poems);\nconst rows = await env.DB.prepare(\"SELECT 1\").all();\nawait this.env.DB.batch([]);\nawait DB.exec(\"x\");\nawait env[\"DB\"].dump();\n", o))
            .collect();
        // Passing env.DB to a helper, aliasing it, or another object's prepare() is not a direct call.
        assert_eq!(lines, [2, 3, 4, 5]);
    }

    #[test]
    fn api_literals_are_collected_with_their_use() {
        let f = facts(
            "const a = \"/api/tasks\";\nconst b = `/api/tasks/${id}`;\nconst c = \"/api/tasks/\" + id;\n\
             if (p.startsWith(\"/api/files/\")) {}\nconst r = /^\\/api\\/notes\\/(\\d+)$/;\n\
             const msg = \"/api/tasks is down\";\nconst other = \"/apix\";\n\
             const table = { \"DELETE /api/notes/:id\": drop };\n",
        );
        let got: Vec<(String, Use)> = f
            .api_literals
            .iter()
            .map(|l| (l.text.replace(HOLE, "$"), l.usage))
            .collect();
        assert_eq!(
            got,
            [
                ("/api/tasks".to_string(), Use::Whole),
                ("/api/tasks/$".to_string(), Use::Whole),
                ("/api/tasks/".to_string(), Use::Concatenated),
                ("/api/files/".to_string(), Use::Prefix),
                ("^\\/api\\/notes\\/(\\d+)$".to_string(), Use::Regex),
                ("/apix".to_string(), Use::Whole),
                ("/api/notes/:id".to_string(), Use::Whole),
            ]
        );
    }

    #[test]
    fn the_app_secret_is_found_in_code_but_not_in_comments() {
        let named = |source: &str| facts(source).secret_names.len();
        assert_eq!(named("const s = env.JWT_SECRET;\n"), 1);
        assert_eq!(named("const s = env?.JWT_SECRET;\n"), 1);
        assert_eq!(named("const s = env[\"JWT_SECRET\"];\n"), 1);
        assert_eq!(named("const s = env[`JWT_SECRET`];\n"), 1);
        assert!(named("const { JWT_SECRET } = env;\n") >= 1);
        assert!(named("const { JWT_SECRET: key } = env;\n") >= 1);
        assert_eq!(named("function f(JWT_SECRET) {}\n"), 1);
        assert_eq!(
            named("// reads env.JWT_SECRET\n/* JWT_SECRET */ const a = 1;\n"),
            0
        );
        assert_eq!(named("const JWT_SECRETS = env.JWT_SECRET_NAME;\n"), 0);
    }

    #[test]
    fn default_exports_are_judged() {
        let cases = [
            ("export default { fetch };", "has"),
            ("export default { async fetch(r) { return r; } };", "has"),
            ("export default { fetch: handle };", "has"),
            ("export default { \"fetch\": handle };", "has"),
            ("const app = { fetch() {} };\nexport default app;", "has"),
            (
                "const app = { fetch() {} };\nexport { app as default };",
                "has",
            ),
            ("export default class { fetch() {} }", "has"),
            ("export default { ...handlers };", "unknown"),
            ("export default make();", "unknown"),
            ("import app from './a.js';\nexport default app;", "unknown"),
            ("export default { scheduled() {} };", "no"),
            ("export default function (r) {}", "no"),
            ("export default async (r) => r;", "no"),
            ("function handler() {}\nexport default handler;", "no"),
            ("export const fetch = () => 1;", "missing"),
        ];
        for (source, expected) in cases {
            let got = match facts(source).default_export {
                DefaultExport::HasFetch => "has",
                DefaultExport::Unknown => "unknown",
                DefaultExport::NoFetch { .. } => "no",
                DefaultExport::Missing => "missing",
            };
            assert_eq!(got, expected, "{source}");
        }
    }
}
