//! The files every generated app ships unchanged: the worker runtime module and the vendored
//! front-end libraries, compiled into the crate from `prompts/runtime/`.
//!
//! Key decision: `include_str!` rather than reading files at run time, so the platform Worker
//! (wasm, no file system) carries the exact reviewed bytes, and a build always pairs a generator
//! with the runtime it was tested against. Layout: see `prompts/runtime/README.md`.

/// `(path in the app, content)` for every runtime file, in a fixed order.
///
/// - `_kiln/runtime.js`: worker module code (bundled with `worker.js`, never served).
/// - `public/_kiln/vendor/{preact,hooks,htm}.mjs`: static assets, served at `/_kiln/vendor/…`.
/// - `public/_kiln/vendor/LICENSES.txt`: the vendored libraries' licence texts, served too.
pub fn runtime_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "_kiln/runtime.js",
            include_str!("../../../prompts/runtime/runtime.js"),
        ),
        (
            "public/_kiln/vendor/preact.mjs",
            include_str!("../../../prompts/runtime/vendor/preact.mjs"),
        ),
        (
            "public/_kiln/vendor/hooks.mjs",
            include_str!("../../../prompts/runtime/vendor/hooks.mjs"),
        ),
        (
            "public/_kiln/vendor/htm.mjs",
            include_str!("../../../prompts/runtime/vendor/htm.mjs"),
        ),
        (
            "public/_kiln/vendor/LICENSES.txt",
            include_str!("../../../prompts/runtime/vendor/LICENSES.txt"),
        ),
    ]
}
