//! Binding internals: what model-written code may not name or call.
//!
//! Model-written worker modules also never run SQL on the `DB` binding themselves
//! (`env.DB.prepare(…)` and the other D1 methods): every access rule (private, shared and public
//! rows, authors, the admin) lives in the reviewed runtime (ADR 0020), and a hand-written query
//! bypasses them. Passing `env.DB` to the runtime's helpers is fine. An alias (`const db = env.DB;
//! db.prepare(…)`) is not caught: like the secret check, this guards against habits.
//!
//! Every app gets a signing secret (`JWT_SECRET`) that only the reviewed runtime
//! (`_kiln/runtime.js`) reads, to sign and check the app's sign-in tokens; and the host wraps every
//! app in modules of its own (`_kiln_main.js`, `_kiln_d1.js`, `_kiln_r2.js`, the dispatch Worker's
//! loader) that sit beside the app's modules at run time. Generated code that reads the secret
//! could mint tokens for any user or leak the key; generated code that imports a host module
//! reaches past the bindings it is given. Both are refused, with the way to do it instead.
//!
//! Key decision: names are read from the AST (identifiers, property names, string and template
//! text), so a comment that mentions the secret is fine, and `env.JWT_SECRET`, `env["JWT_SECRET"]`
//! and `const { JWT_SECRET } = env` are all caught. Computed names (`"JWT_" + "SECRET"`) are not:
//! this is a guard against the model's habits, not a sandbox; the runtime isolation is that.
//! The runtime files themselves are exempt (they are reviewed, and the platform replaces whatever a
//! model writes at their paths with the shipped copies).

/// The binding that holds the app's token-signing secret.
pub(super) const APP_SECRET: &str = "JWT_SECRET";

/// The message for a use of [`APP_SECRET`] in a model-written module.
pub(super) fn secret_message() -> String {
    format!(
        "the app secret {APP_SECRET} is only for the reviewed runtime; remove this use and sign \
         users in and check tokens with the runtime's auth helpers (register, login, me, \
         requireUser from ./_kiln/runtime.js)"
    )
}

/// The message for a direct call on the `DB` binding in a model-written worker module.
pub(super) fn db_message() -> String {
    "this calls the database directly; read and write rows only through the runtime's helpers \
     (crud(api, \"/api/<table>\", entity) for an entity's routes, or list, get, insert, update, \
     remove from ./_kiln/runtime.js), which apply every access rule (visibility, authors, the admin) \
     and bind every value"
        .to_string()
}

/// Whether an import specifier names one of the host's wrapper modules (`./_kiln_d1.js`,
/// `/_kiln_main.js`, …): its last path segment starts with `_kiln_`. The runtime (`_kiln/…`) is a
/// directory, not such a module.
pub(super) fn is_host_module(specifier: &str) -> bool {
    let name = specifier.rsplit('/').next().unwrap_or(specifier);
    name.starts_with("_kiln_")
}

/// The message for an import of a host module.
pub(super) fn host_module_message(specifier: &str) -> String {
    format!(
        "import \"{specifier}\" names a module the host wraps every app with, not part of the app; \
         use the bindings on env (env.DB, env.STORAGE) and the helpers of ./_kiln/runtime.js instead"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_modules_are_the_underscore_kiln_underscore_files_not_the_runtime() {
        for host in [
            "./_kiln_main.js",
            "./_kiln_d1.js",
            "_kiln_r2.js",
            "/_kiln_d1.js",
            "../_kiln_x.mjs",
        ] {
            assert!(is_host_module(host), "{host}");
        }
        for app in [
            "./_kiln/runtime.js",
            "/_kiln/vendor/preact.mjs",
            "./src/kiln_d1.js",
            "cloudflare:workers",
        ] {
            assert!(!is_host_module(app), "{app}");
        }
    }

    #[test]
    fn messages_start_lowercase_or_quoted_and_say_what_to_do_instead() {
        let secret = secret_message();
        assert!(secret.starts_with("the app secret JWT_SECRET"), "{secret}");
        assert!(secret.contains("auth helpers"), "{secret}");
        let host = host_module_message("./_kiln_d1.js");
        assert!(host.starts_with("import \"./_kiln_d1.js\""), "{host}");
        assert!(host.contains("instead"), "{host}");
    }
}
