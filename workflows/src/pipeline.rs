//! The build pipeline's shape: the steps in their fixed order, each with its retry policy and
//! timeout, the two kinds of step error, and test-only fault injection.
//!
//! Key decision: the order and the policies are data here, not code in the Worker, so they are
//! tested natively and the durable-execution glue only loops over [`Step::ALL`]. Step names are
//! part of the durable state (the Workflows engine caches outputs by step name), so they must
//! never be renamed casually.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A named, durable pipeline step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Prompt → validated plan.
    Plan,
    /// Plan → files, stored as a new version.
    Codegen,
    /// Static checks of the generated files.
    Validate,
    /// Provision (or reuse) the app's database.
    CreateDb,
    /// Apply migrations not applied yet.
    Migrate,
    /// Make the version's static assets servable.
    UploadAssets,
    /// Make the version loadable.
    Deploy,
    /// Move the live pointer and record success.
    Record,
    /// Repair round `n` (1-based) after a failed validation: the model fixes the affected files,
    /// the result is saved as a new version and validated again. Runs only between `validate`
    /// and `create-db`, and only with a model provider.
    Repair(u8),
}

/// Most repair rounds a build can have ([`Step::Repair`] names exist for these).
pub const MAX_REPAIRS: u8 = 3;

impl Step {
    /// Every step, in execution order.
    pub const ALL: [Step; 8] = [
        Step::Plan,
        Step::Codegen,
        Step::Validate,
        Step::CreateDb,
        Step::Migrate,
        Step::UploadAssets,
        Step::Deploy,
        Step::Record,
    ];

    /// The durable step name (also the name in events).
    pub fn name(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Codegen => "codegen",
            Step::Validate => "validate",
            Step::CreateDb => "create-db",
            Step::Migrate => "migrate",
            Step::UploadAssets => "upload-assets",
            Step::Deploy => "deploy",
            Step::Record => "record",
            Step::Repair(1) => "repair-1",
            Step::Repair(2) => "repair-2",
            Step::Repair(_) => "repair-3",
        }
    }

    /// Parses a step name.
    pub fn parse(name: &str) -> Option<Step> {
        Step::ALL
            .into_iter()
            .chain((1..=MAX_REPAIRS).map(Step::Repair))
            .find(|s| s.name() == name)
    }

    /// How this step is retried. Generation calls a model (slow, rate limited): longer timeout,
    /// fewer but spaced retries. Provisioning steps talk to storage: quick retries.
    pub fn policy(self) -> RetryPolicy {
        match self {
            // Up to three calls of `KILN_MODEL_TIMEOUT_SECONDS` (90 s) each, plus continuations.
            Step::Plan | Step::Codegen | Step::Repair(_) => RetryPolicy {
                limit: 3,
                delay_ms: 2_000,
                backoff: Backoff::Exponential,
                timeout_ms: 600_000,
            },
            Step::Validate => RetryPolicy {
                limit: 1,
                delay_ms: 500,
                backoff: Backoff::Constant,
                timeout_ms: 60_000,
            },
            Step::CreateDb | Step::Migrate | Step::UploadAssets | Step::Deploy => RetryPolicy {
                limit: 4,
                delay_ms: 250,
                backoff: Backoff::Exponential,
                timeout_ms: 60_000,
            },
            Step::Record => RetryPolicy {
                limit: 5,
                delay_ms: 250,
                backoff: Backoff::Exponential,
                timeout_ms: 30_000,
            },
        }
    }
}

/// How retry delays grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// The same delay each time.
    Constant,
    /// Delay grows linearly.
    Linear,
    /// Delay doubles.
    Exponential,
}

/// A step's retry policy and timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub limit: u32,
    /// First retry delay.
    pub delay_ms: u64,
    /// Growth of the delay.
    pub backoff: Backoff,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
}

impl RetryPolicy {
    /// The Workflows `step.do` config object.
    pub fn workflow_config(&self) -> Value {
        json!({
            "retries": { "limit": self.limit, "delay": self.delay_ms, "backoff": self.backoff },
            "timeout": self.timeout_ms,
        })
    }

    /// Total attempts (first + retries).
    pub fn attempts(&self) -> u32 {
        self.limit + 1
    }
}

/// Why a step attempt failed. The distinction is a type, not a string match: retryable errors
/// (I/O, rate limits, 5xx) are retried by the engine; terminal ones (bad input, exhausted
/// repair) fail the build at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum StepError {
    /// May succeed if tried again.
    #[error("{0}")]
    Retryable(String),
    /// Will not succeed; fail the build.
    #[error("{0}")]
    Terminal(String),
}

impl StepError {
    /// Whether the engine should try again.
    pub fn retryable(&self) -> bool {
        matches!(self, StepError::Retryable(_))
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            StepError::Retryable(m) | StepError::Terminal(m) => m,
        }
    }
}

/// Test-only fault injection: `"deploy:2:retryable,migrate:1:terminal"` makes the first two
/// attempts of `deploy` fail retryably and the first attempt of `migrate` fail terminally;
/// `"upload-assets:1:slow"` makes its first attempt take [`SLOW_MS`] (to interrupt it);
/// `"deploy:1:lost"` lets the first attempt of `deploy` do its work and then fails it retryably,
/// as if its answer had been lost (the retry meets what the first attempt left behind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    faults: Vec<(Step, u32, Fault)>,
}

/// How long a `slow` fault stalls a step.
pub const SLOW_MS: u64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Retryable,
    Terminal,
    Slow,
    Lost,
}

impl FaultPlan {
    /// Parses the setting; the error names the bad entry.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut faults = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = entry.split(':').collect();
            let bad = || {
                format!("fault '{entry}' must look like 'step:count:KIND' with KIND retryable, terminal, slow or lost")
            };
            let [step, count, kind] = parts.as_slice() else {
                return Err(bad());
            };
            let step = Step::parse(step)
                .ok_or_else(|| format!("fault '{entry}' names an unknown step '{step}'"))?;
            let count: u32 = count.parse().map_err(|_| bad())?;
            let fault = match *kind {
                "retryable" => Fault::Retryable,
                "terminal" => Fault::Terminal,
                "slow" => Fault::Slow,
                "lost" => Fault::Lost,
                _ => return Err(bad()),
            };
            faults.push((step, count, fault));
        }
        Ok(Self { faults })
    }

    /// The injected failure for `attempt` (1-based) of `step`, if any, before its body runs.
    pub fn failure(&self, step: Step, attempt: u32) -> Option<StepError> {
        let (_, count, fault) = self
            .faults
            .iter()
            .find(|(s, _, f)| *s == step && matches!(f, Fault::Retryable | Fault::Terminal))?;
        (attempt <= *count).then(|| {
            let msg = format!("injected fault in {} (attempt {attempt})", step.name());
            if *fault == Fault::Retryable {
                StepError::Retryable(msg)
            } else {
                StepError::Terminal(msg)
            }
        })
    }

    /// The retryable failure that replaces the answer of `attempt` of `step` after its body ran
    /// (and succeeded), if any.
    pub fn lost(&self, step: Step, attempt: u32) -> Option<StepError> {
        let (_, count, _) = self
            .faults
            .iter()
            .find(|(s, _, f)| *s == step && *f == Fault::Lost)?;
        (attempt <= *count).then(|| {
            StepError::Retryable(format!(
                "injected fault after {} ran (attempt {attempt}): its answer was lost",
                step.name()
            ))
        })
    }

    /// How long `attempt` of `step` must stall before running, if at all.
    pub fn stall_ms(&self, step: Step, attempt: u32) -> Option<u64> {
        let (_, count, _) = self
            .faults
            .iter()
            .find(|(s, _, f)| *s == step && *f == Fault::Slow)?;
        (attempt <= *count).then_some(SLOW_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_a_replay_may_start_from_are_the_pipeline_steps() {
        let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, events::decide::REPLAY_STEPS);
    }

    #[test]
    fn steps_run_in_the_documented_order_and_names_round_trip() {
        let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "plan",
                "codegen",
                "validate",
                "create-db",
                "migrate",
                "upload-assets",
                "deploy",
                "record"
            ]
        );
        for s in Step::ALL {
            assert_eq!(Step::parse(s.name()), Some(s));
        }
        assert_eq!(Step::parse("nope"), None);
        for n in 1..=MAX_REPAIRS {
            assert_eq!(Step::parse(&format!("repair-{n}")), Some(Step::Repair(n)));
        }
    }

    #[test]
    fn every_step_has_a_bounded_policy() {
        for s in Step::ALL {
            let p = s.policy();
            assert!(p.limit >= 1 && p.limit <= 5, "{s:?}");
            assert!(p.timeout_ms >= 10_000);
            let c = p.workflow_config();
            assert_eq!(c["retries"]["limit"], p.limit);
            assert!(c["timeout"].as_u64().is_some());
        }
    }

    #[test]
    fn faults_fail_the_first_attempts_only() {
        let f = FaultPlan::parse("deploy:2:retryable, migrate:1:terminal").unwrap();
        assert!(f.failure(Step::Deploy, 1).unwrap().retryable());
        assert!(f.failure(Step::Deploy, 2).is_some());
        assert!(f.failure(Step::Deploy, 3).is_none());
        assert!(!f.failure(Step::Migrate, 1).unwrap().retryable());
        assert!(f.failure(Step::Plan, 1).is_none());
        let slow = FaultPlan::parse("upload-assets:1:slow").unwrap();
        assert_eq!(slow.stall_ms(Step::UploadAssets, 1), Some(SLOW_MS));
        assert_eq!(slow.stall_ms(Step::UploadAssets, 2), None);
        assert!(slow.failure(Step::UploadAssets, 1).is_none());
        let lost = FaultPlan::parse("deploy:1:lost").unwrap();
        assert!(
            lost.failure(Step::Deploy, 1).is_none(),
            "the body runs first"
        );
        assert!(lost.stall_ms(Step::Deploy, 1).is_none());
        let e = lost.lost(Step::Deploy, 1).unwrap();
        assert!(
            e.retryable() && e.message().contains("answer was lost"),
            "{e}"
        );
        assert!(lost.lost(Step::Deploy, 2).is_none());
        assert!(lost.lost(Step::Migrate, 1).is_none());
        assert!(f.lost(Step::Deploy, 1).is_none());
    }

    #[test]
    fn malformed_fault_settings_name_the_entry() {
        for bad in [
            "deploy",
            "deploy:x:retryable",
            "nope:1:terminal",
            "deploy:1:sometimes",
        ] {
            let e = FaultPlan::parse(bad).unwrap_err();
            assert!(e.contains("fault"), "{bad}: {e}");
        }
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
    }
}
