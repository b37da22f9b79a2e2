//! Writes the app the offline generator makes for a prompt (or a plan file) into a directory, so
//! it can be served with `wrangler dev` (see `tests/generated-app/run.sh`).
//!
//! ```text
//! cargo run -p scaffold --example emit_app -- <out-dir> "a habit tracker"
//! cargo run -p scaffold --example emit_app -- <out-dir> --plan plan.json
//! ```
//!
//! Writes `plan.json` (the validated plan), the generated files and the runtime files. The
//! directory must not exist yet or be empty, so nothing of value is overwritten.

use std::path::Path;
use std::process::ExitCode;

use plan::Plan;
use planner::plan_from_prompt;
use scaffold::{generate, runtime_files};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, plan) =
        match args.as_slice() {
            [out, flag, file] if flag == "--plan" => {
                let text = match std::fs::read_to_string(file) {
                    Ok(t) => t,
                    Err(e) => return fail(&format!("cannot read {file}: {e}")),
                };
                match serde_json::from_str::<Plan>(&text) {
                    Ok(p) => (out, p),
                    Err(e) => return fail(&format!("{file} is not a plan: {e}")),
                }
            }
            [out, prompt] => match plan_from_prompt(prompt) {
                Ok(p) => (out, p),
                Err(e) => return fail(&e.to_string()),
            },
            _ => return fail(
                "usage: emit_app <out-dir> \"<prompt>\" | emit_app <out-dir> --plan <plan.json>",
            ),
        };
    let valid = match plan.validate() {
        Ok(v) => v,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
            return fail(&format!("the plan is invalid:\n{}", list.join("\n")));
        }
    };
    let out = Path::new(out);
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return fail(&format!("{} exists and is not empty", out.display()));
    }
    let plan_json = serde_json::to_string_pretty(valid.plan()).expect("plans serialise");
    let files = generate(&valid)
        .into_iter()
        .chain(
            runtime_files()
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.to_string())),
        )
        .chain([("plan.json".to_string(), plan_json + "\n")]);
    for (path, content) in files {
        let target = out.join(&path);
        if let Some(dir) = target.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return fail(&format!("cannot create {}: {e}", dir.display()));
            }
        }
        if let Err(e) = std::fs::write(&target, content) {
            return fail(&format!("cannot write {}: {e}", target.display()));
        }
        println!("{path}");
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("emit_app: {message}");
    ExitCode::FAILURE
}
