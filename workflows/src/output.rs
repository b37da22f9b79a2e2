//! One typed output per step: what a step hands the Workflow engine (cached as JSON and given back
//! on a replay) and what the driver reads. References only, never whole files; credentials never.

use events::{ProjectState, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pipeline::{Step, StepError};

/// Where a build's validated plan is stored in the build store (R2): `plans/<project>/<build>.json`.
pub fn plan_key(project: &str, build: &str) -> String {
    format!("plans/{project}/{build}.json")
}

/// `plan`: where the validated plan is stored, and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutput {
    /// R2 key of the plan (`plans/<project>/<build>.json`).
    #[serde(rename = "ref")]
    pub plan_ref: String,
    /// SHA-256 of the plan's bytes.
    pub plan_hash: String,
    /// The build whose plan a replay reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// `codegen` (and the code half of a repair): the saved version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeOutput {
    /// `versions/<project>/<version>`.
    #[serde(rename = "ref")]
    pub code_ref: String,
    /// The version number.
    pub version: u32,
    /// Blobs this save wrote.
    #[serde(default)]
    pub new_blobs: usize,
    /// Notes the model output's parser made (0 for the offline generator).
    #[serde(default)]
    pub parser_notes: usize,
    /// The version a replay reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_version: Option<u32>,
    /// How the model wrote the code (absent for the offline generator and replays).
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelAnswer>,
}

/// How a model changed an app's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeMode {
    /// No live version: the files are written from the plan.
    Generate,
    /// The plan's structure is unchanged: the request alone, answered with edits.
    Edit,
    /// The plan's structure changed: the request with the plan changes, answered with edits.
    Revise,
}

/// The model's answer to a codegen call, as the step output records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAnswer {
    /// Generate, edit or revise.
    pub mode: CodeMode,
    /// The model answered that the request needs no change.
    #[serde(default)]
    pub no_change: bool,
    /// The plan's structural changes, one per line (edit and revise).
    #[serde(default)]
    pub plan_changes: Vec<String>,
}

/// `validate` (and the validation half of a repair): the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// No diagnostics.
    pub passed: bool,
    /// What failed (at most 50).
    #[serde(default)]
    pub diagnostics: Vec<String>,
    /// Repair rounds the driver may run after a failed validation.
    #[serde(default)]
    pub repairs: u32,
}

/// `repair-N`: the repaired version and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairOutput {
    /// The repaired version.
    #[serde(flatten)]
    pub code: CodeOutput,
    /// Its validation.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// `create-db`: the database the project's app uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDbOutput {
    /// `local:<project>` or a D1 uuid.
    pub database_id: String,
}

/// `migrate`: the migrations this build applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrateOutput {
    /// File names, in order.
    #[serde(default)]
    pub applied: Vec<String>,
}

/// `upload-assets`: the files put where the app is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsOutput {
    /// Files.
    pub count: u32,
    /// Bytes.
    pub bytes: u64,
}

/// `deploy`: the version that went live, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutput {
    /// The live version.
    pub version: u32,
    /// Its slug.
    #[serde(default)]
    pub slug: String,
}

/// `record`: the version the build ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOutput {
    /// The deployed version.
    pub version: u32,
}

/// The output of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutput {
    /// `plan`
    Plan(PlanOutput),
    /// `codegen`
    Codegen(CodeOutput),
    /// `validate`
    Validate(Verdict),
    /// `repair-N`
    Repair(RepairOutput),
    /// `create-db`
    CreateDb(CreateDbOutput),
    /// `migrate`
    Migrate(MigrateOutput),
    /// `upload-assets`
    UploadAssets(AssetsOutput),
    /// `deploy`
    Deploy(DeployOutput),
    /// `record`
    Record(RecordOutput),
}

impl StepOutput {
    /// The JSON the engine stores.
    pub fn to_value(&self) -> Value {
        let v = match self {
            StepOutput::Plan(o) => serde_json::to_value(o),
            StepOutput::Codegen(o) => serde_json::to_value(o),
            StepOutput::Validate(o) => serde_json::to_value(o),
            StepOutput::Repair(o) => serde_json::to_value(o),
            StepOutput::CreateDb(o) => serde_json::to_value(o),
            StepOutput::Migrate(o) => serde_json::to_value(o),
            StepOutput::UploadAssets(o) => serde_json::to_value(o),
            StepOutput::Deploy(o) => serde_json::to_value(o),
            StepOutput::Record(o) => serde_json::to_value(o),
        };
        // Plain structs of strings and numbers: serialising cannot fail.
        v.unwrap_or(Value::Null)
    }

    /// The stored object the step produced, recorded on `StepSucceeded`.
    pub fn output_ref(&self) -> Option<String> {
        match self {
            StepOutput::Plan(o) => Some(o.plan_ref.clone()),
            StepOutput::Codegen(o) => Some(o.code_ref.clone()),
            StepOutput::Repair(o) => Some(o.code.code_ref.clone()),
            _ => None,
        }
    }
}

/// Reads a stored output back as `T` (the driver's view of a cached step), with a clear error.
pub fn read<T: for<'de> Deserialize<'de>>(step: &str, value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone())
        .map_err(|e| format!("the output of step {step} is not what it should be: {e}"))
}

/// The output of a step that already succeeded, derived from the log (after an eviction the
/// engine may run a finished step again).
pub fn from_log(
    step: Step,
    st: &ProjectState,
    project_id: &str,
    build_id: &str,
    repairs: u32,
) -> Result<StepOutput, StepError> {
    let build = st
        .build(build_id)
        .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
    let missing = |what: &str| {
        StepError::Terminal(format!(
            "step {} succeeded but the log has no {what}",
            step.name()
        ))
    };
    let code = || -> Result<CodeOutput, StepError> {
        let version = build.version.ok_or_else(|| missing("version"))?;
        Ok(CodeOutput {
            code_ref: format!("versions/{project_id}/{version}"),
            version,
            new_blobs: 0,
            parser_notes: 0,
            reused_version: None,
            model: None,
        })
    };
    let verdict = Verdict {
        passed: matches!(build.validation, Some(Validation::Passed)),
        diagnostics: match &build.validation {
            Some(Validation::Failed { diagnostics }) => diagnostics.clone(),
            _ => Vec::new(),
        },
        repairs,
    };
    Ok(match step {
        Step::Plan => StepOutput::Plan(PlanOutput {
            plan_ref: plan_key(project_id, build_id),
            plan_hash: build
                .plan
                .as_ref()
                .map(|p| p.plan_hash.clone())
                .ok_or_else(|| missing("plan"))?,
            reused_from: None,
        }),
        Step::Codegen => StepOutput::Codegen(code()?),
        Step::Validate => StepOutput::Validate(verdict),
        Step::Repair(_) => StepOutput::Repair(RepairOutput {
            code: code()?,
            verdict,
        }),
        Step::CreateDb => StepOutput::CreateDb(CreateDbOutput {
            database_id: st.database_id.clone().ok_or_else(|| missing("database"))?,
        }),
        Step::Migrate => StepOutput::Migrate(MigrateOutput {
            applied: build.migrations.clone(),
        }),
        Step::UploadAssets => {
            let (count, bytes) = build.assets.ok_or_else(|| missing("assets"))?;
            StepOutput::UploadAssets(AssetsOutput { count, bytes })
        }
        Step::Deploy => StepOutput::Deploy(DeployOutput {
            version: build
                .deployed_version
                .ok_or_else(|| missing("deployed version"))?,
            slug: st.slug.clone(),
        }),
        Step::Record => StepOutput::Record(RecordOutput {
            version: build
                .deployed_version
                .ok_or_else(|| missing("deployed version"))?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_keep_the_field_names_cached_by_earlier_runs() {
        let plan = StepOutput::Plan(PlanOutput {
            plan_ref: "plans/p/b.json".into(),
            plan_hash: "h".into(),
            reused_from: None,
        });
        assert_eq!(
            plan.to_value(),
            json!({"ref": "plans/p/b.json", "plan_hash": "h"})
        );
        assert_eq!(plan.output_ref().as_deref(), Some("plans/p/b.json"));
        let repair = StepOutput::Repair(RepairOutput {
            code: CodeOutput {
                code_ref: "versions/p/2".into(),
                version: 2,
                new_blobs: 1,
                parser_notes: 0,
                reused_version: None,
                model: None,
            },
            verdict: Verdict {
                passed: false,
                diagnostics: vec!["worker.js:1: x".into()],
                repairs: 0,
            },
        });
        let v = repair.to_value();
        assert_eq!(v["passed"], false);
        assert_eq!(v["version"], 2);
        // The driver reads a repair's output as a verdict.
        let verdict: Verdict = read("repair-1", &v).unwrap();
        assert_eq!(verdict.diagnostics, vec!["worker.js:1: x"]);
    }

    #[test]
    fn an_output_of_the_wrong_shape_is_a_clear_error() {
        let e = read::<Verdict>("validate", &json!({"recovered": true})).unwrap_err();
        assert!(e.contains("validate") && e.contains("passed"), "{e}");
        let old: Verdict = read("validate", &json!({"passed": true})).unwrap();
        assert!(old.passed && old.diagnostics.is_empty() && old.repairs == 0);
    }
}
