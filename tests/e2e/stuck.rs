//! Builds that can never get stuck (docs/adr/0018): cancel during every step, a step still running
//! after its build was cancelled, a `BuildFailed` that cannot be recorded, a workflow that
//! vanished, and the stall watchdog.
//!
//! Builds are parked in a step with the `slow` fault (`x-kiln-faults: <step>:1:slow`: the step's
//! first attempt waits 20 s after recording its start), so a cancel or the watchdog reliably
//! meets the build mid-step. The watchdog scenarios run on a session of their own
//! ([`SETTINGS`]) whose stall threshold is 0, so any unfinished build counts as stalled; they
//! trigger the cron handler explicitly (`/__scheduled`) instead of waiting for it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::builds::{request_build, wait_for_build};
use crate::{scenarios, Kiln, Run, Scenario};

/// The watchdog session: every unfinished build is stalled (the scenarios run one at a time and
/// leave no build unfinished), and sign-ins from loopback are not limited.
pub const SETTINGS: &[(&str, &str)] = &[("BUILD_STALL_MINUTES", "0"), ("AUTH_IP_LIMIT", "1000000")];

/// The eight pipeline steps, in order.
const STEPS: [&str; 8] = [
    "plan",
    "codegen",
    "validate",
    "create-db",
    "migrate",
    "upload-assets",
    "deploy",
    "record",
];

pub fn scenarios() -> Vec<Scenario> {
    let mut all = scenarios![
        a_build_cancelled_during_each_step_ends_cancelled_keeps_the_live_version_and_frees_the_project,
        cancelling_twice_is_fine_and_an_ended_unknown_or_foreign_build_cannot_be_cancelled,
        a_step_still_running_after_its_build_was_cancelled_cannot_deploy_or_finish_it,
        a_failed_build_whose_failure_cannot_be_recorded_at_first_still_ends_failed,
        a_rollback_interrupted_by_a_dev_server_restart_completes,
    ];
    all.extend(watchdog_scenarios());
    all
}

fn watchdog_scenarios() -> Vec<Scenario> {
    let watchdog: Vec<Scenario> = scenarios![
        the_watchdog_fails_a_stalled_build_and_frees_the_project,
        the_watchdog_puts_the_live_pointer_back_for_a_build_stalled_after_its_deploy,
        a_build_whose_workflow_vanished_is_ended_by_the_watchdog,
        a_build_whose_failure_could_never_be_recorded_is_ended_by_the_watchdog,
        the_watchdog_leaves_finished_builds_alone,
        the_watchdog_fails_a_stalled_rollback_and_the_project_builds_again,
    ];
    watchdog
        .into_iter()
        .map(|s| match s.run {
            Run::Plain(f) => Scenario {
                name: s.name,
                run: Run::Stuck(f),
            },
            other => Scenario {
                name: s.name,
                run: other,
            },
        })
        .collect()
}

fn events(k: &Kiln, token: &str, project: &str) -> Vec<Value> {
    let r = k.api.get(
        &format!("/api/projects/{project}/events?limit=1000"),
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["events"].as_array().unwrap().clone()
}

fn build(k: &Kiln, token: &str, id: &str) -> Value {
    let r = k.api.get(&format!("/api/builds/{id}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["build"].clone()
}

/// The version the app's files come from (`x-kiln-version`), if the app serves at all.
fn served_version(k: &Kiln, slug: &str) -> Option<u64> {
    let page = k.api.get_app(slug, "/");
    (page.status == 200)
        .then(|| page.header("x-kiln-version")?.parse().ok())
        .flatten()
}

fn new_project(k: &Kiln, token: &str, name: &str) -> (String, String) {
    let p = k.api.create_project(token, name);
    (
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    )
}

/// Requests a build that parks in `step` (its first attempt stalls) and waits until it is there.
fn park(k: &Kiln, token: &str, project: &str, step: &str, extra: &[(&str, &str)]) -> String {
    let fault = format!("{step}:1:slow");
    let mut headers = vec![("x-kiln-faults", fault.as_str())];
    headers.extend_from_slice(extra);
    let id = request_build(k, token, project, "a reading list with authors", &headers);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b = build(k, token, &id);
        if b["current_step"] == step {
            return id;
        }
        assert!(
            b["status"] == "running" || b["status"] == "requested",
            "build ended before reaching {step}: {b:#}"
        );
        assert!(
            Instant::now() < deadline,
            "build never reached {step}: {b:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cancel(k: &Kiln, token: &str, build: &str, headers: &[(&str, &str)]) -> crate::Reply {
    k.api.send(
        "POST",
        &format!("/api/builds/{build}/cancel"),
        Some(token),
        headers,
        None,
        None,
    )
}

/// The engine's status of the build's workflow instance (test hook).
fn workflow_status(k: &Kiln, build: &str) -> Option<String> {
    let r = k
        .api
        .get(&format!("/api/_test/builds/{build}/workflow"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["status"].as_str().map(str::to_string)
}

/// Polls until the build's workflow instance has ended (or does not exist).
fn wait_for_workflow_end(k: &Kiln, build: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = workflow_status(k, build);
        if !matches!(
            status.as_deref(),
            Some("running" | "queued" | "waiting" | "paused" | "unknown")
        ) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "workflow {build} is still {status:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn of_build<'a>(log: &'a [Value], build: &str, kind: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|e| e["type"] == kind && e["data"]["build_id"] == build)
        .collect()
}

pub fn a_build_cancelled_during_each_step_ends_cancelled_keeps_the_live_version_and_frees_the_project(
    k: &Kiln,
) {
    let token = k.api.new_user();
    let (id, slug) = new_project(k, &token, "Cancelled Every Step");
    let first = request_build(k, &token, &id, "a reading list with authors", &[]);
    let v1 = wait_for_build(k, &token, &first)["deployed_version"]
        .as_u64()
        .unwrap();
    for step in STEPS {
        let parked = park(k, &token, &id, step, &[]);
        let r = cancel(k, &token, &parked, &[]);
        assert_eq!(r.status, 202, "cancel in {step}: {}", r.body);
        assert_eq!(r.json()["status"], "cancelled");
        assert_eq!(r.json()["step"], step, "{}", r.body);
        let b = build(k, &token, &parked);
        assert_eq!(b["status"], "cancelled", "{b:#}");
        assert_eq!(b["cancelled_in"], step, "{b:#}");
        assert_eq!(b["current_step"], Value::Null, "{b:#}");
        // The previous live version stays live, also when the cancelled build had deployed
        // (a cancel during `record` comes after `deploy` moved the pointer).
        assert_eq!(
            served_version(k, &slug),
            Some(v1),
            "after a cancel in {step}"
        );
        let log = events(k, &token, &id);
        let cancelled = of_build(&log, &parked, "BuildCancelled");
        assert_eq!(cancelled.len(), 1, "{cancelled:?}");
        assert_eq!(cancelled[0]["data"]["step"], step);
        assert!(of_build(&log, &parked, "BuildSucceeded").is_empty());
        let p = k
            .api
            .get(&format!("/api/projects/{id}"), Some(&token))
            .json();
        assert_eq!(p["project"]["live"]["version"], v1, "{p:#}");
    }
    // The project is free: the next build runs to the end and goes live.
    let next = request_build(k, &token, &id, "a reading list with authors", &[]);
    let b = wait_for_build(k, &token, &next);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let live = b["deployed_version"].as_u64().unwrap();
    assert!(live > v1);
    assert_eq!(served_version(k, &slug), Some(live));
    let builds = k
        .api
        .get(&format!("/api/projects/{id}/builds"), Some(&token))
        .json()["builds"]
        .clone();
    let cancelled = builds
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] == "cancelled")
        .count();
    assert_eq!(cancelled, STEPS.len(), "{builds:#}");
}

fn cancelling_twice_is_fine_and_an_ended_unknown_or_foreign_build_cannot_be_cancelled(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = new_project(k, &token, "Cancel Rules");
    let done = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &done)["status"], "succeeded");
    let r = cancel(k, &token, &done, &[]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_code(), "conflict");
    assert!(
        r.error_message().contains("already succeeded")
            && r.error_message()
                .contains("only a build in progress can be cancelled"),
        "{}",
        r.body
    );

    let parked = park(k, &token, &id, "codegen", &[]);
    // Another user's build is not found, like a missing one; nothing is recorded.
    let mallory = k.api.new_user();
    let r = cancel(k, &mallory, &parked, &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(build(k, &token, &parked)["status"], "running");
    let r = cancel(k, &token, "no-such-build", &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    let r = cancel(k, &token, &parked, &[]);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["cancelled_now"], true);
    let again = cancel(k, &token, &parked, &[]);
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.json()["status"], "cancelled");
    assert_eq!(again.json()["cancelled_now"], false);
    assert_eq!(again.json()["step"], "codegen");
    assert_eq!(
        of_build(&events(k, &token, &id), &parked, "BuildCancelled").len(),
        1,
        "a second cancel records nothing"
    );
    let r = k
        .api
        .get(&format!("/api/builds/{parked}/cancel"), Some(&token));
    assert_eq!(r.status, 405, "{}", r.body);
    let r = k.api.send(
        "POST",
        &format!("/api/builds/{parked}/cancel"),
        None,
        &[],
        None,
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);
    // The workflow of a cancelled build is terminated.
    assert_ne!(
        wait_for_workflow_end(k, &parked).as_deref(),
        Some("complete")
    );
}

/// The cancel leaves the workflow running (test hook), as if the terminate had not reached a
/// step in flight: when the parked `deploy` and `record` steps wake up, the log refuses them, so
/// the pointer is not moved (or is put back) and no success is recorded.
pub fn a_step_still_running_after_its_build_was_cancelled_cannot_deploy_or_finish_it(k: &Kiln) {
    let token = k.api.new_user();
    let mut parked = Vec::new();
    for step in ["deploy", "record"] {
        let (id, slug) = new_project(k, &token, &format!("Late {step}"));
        let first = request_build(k, &token, &id, "a reading list", &[]);
        let v1 = wait_for_build(k, &token, &first)["deployed_version"]
            .as_u64()
            .unwrap();
        let b = park(k, &token, &id, step, &[]);
        let r = cancel(k, &token, &b, &[("x-kiln-cancel-fault", "keep-workflow")]);
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(served_version(k, &slug), Some(v1));
        parked.push((step, id, slug, b, v1));
    }
    for (step, id, slug, b, v1) in parked {
        // The stalled step runs its body after the cancel, and the workflow then ends.
        let status = wait_for_workflow_end(k, &b);
        assert!(
            matches!(status.as_deref(), Some("complete" | "errored")),
            "{step}: {status:?}"
        );
        let log = events(k, &token, &id);
        let cancel_seq = of_build(&log, &b, "BuildCancelled")[0]["seq"]
            .as_u64()
            .unwrap();
        let late: Vec<&Value> = log
            .iter()
            .filter(|e| e["seq"].as_u64().unwrap() > cancel_seq && e["data"]["build_id"] == b)
            .collect();
        assert!(
            late.is_empty(),
            "{step}: recorded after the cancel: {late:?}"
        );
        assert!(of_build(&log, &b, "BuildSucceeded").is_empty());
        assert_eq!(build(k, &token, &b)["status"], "cancelled");
        assert_eq!(
            served_version(k, &slug),
            Some(v1),
            "{step}: the old version serves"
        );
        let next = request_build(k, &token, &id, "a reading list", &[]);
        assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
    }
}

fn a_failed_build_whose_failure_cannot_be_recorded_at_first_still_ends_failed(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = new_project(k, &token, "Late Failure");
    let b = request_build(
        k,
        &token,
        &id,
        "a reading list",
        &[
            ("x-kiln-faults", "migrate:1:terminal"),
            ("x-kiln-append-fault", "BuildFailed:1"),
        ],
    );
    let done = wait_for_build(k, &token, &b);
    assert_eq!(done["status"], "failed", "{done:#}");
    assert_eq!(done["error"]["step"], "migrate", "{done:#}");
    assert_eq!(
        of_build(&events(k, &token, &id), &b, "BuildFailed").len(),
        1
    );
    let next = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
    // A malformed hook value is a clear error, and nothing is recorded.
    let r = k.api.send(
        "POST",
        &format!("/api/projects/{id}/builds"),
        Some(&token),
        &[
            ("content-type", "application/json"),
            ("x-kiln-append-fault", "sometimes"),
        ],
        Some(br#"{"prompt":"a reading list"}"#.to_vec()),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error_message().contains("BuildFailed:N"), "{}", r.body);
}

/// Runs the cron handler once, as the scheduler would (`wrangler dev --test-scheduled`).
fn run_watchdog(k: &Kiln) {
    let r = k.api.get("/__scheduled?cron=*+*+*+*+*", None);
    assert_eq!(r.status, 200, "{}", r.body);
}

fn assert_failed_by_watchdog(k: &Kiln, token: &str, b: &str, at: &str) {
    let done = build(k, token, b);
    assert_eq!(done["status"], "failed", "{done:#}");
    assert_eq!(done["error"]["step"], "watchdog", "{done:#}");
    let reason = done["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no progress")
            && reason.contains(at)
            && reason.contains("BUILD_STALL_MINUTES"),
        "{reason}"
    );
}

pub fn the_watchdog_fails_a_stalled_build_and_frees_the_project(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = new_project(k, &token, "Stalled");
    let first = request_build(k, &token, &id, "a reading list", &[]);
    let v1 = wait_for_build(k, &token, &first)["deployed_version"]
        .as_u64()
        .unwrap();
    let b = park(k, &token, &id, "codegen", &[]);
    run_watchdog(k);
    assert_failed_by_watchdog(k, &token, &b, "in step codegen");
    assert_ne!(wait_for_workflow_end(k, &b).as_deref(), Some("complete"));
    assert_eq!(served_version(k, &slug), Some(v1));
    let next = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
}

/// A build parked in `record` has moved the live pointer to its version, which is not live in
/// the log: the watchdog that ends it puts the pointer back, so the previous version serves.
pub fn the_watchdog_puts_the_live_pointer_back_for_a_build_stalled_after_its_deploy(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = new_project(k, &token, "Stalled After Deploy");
    let first = request_build(k, &token, &id, "a reading list", &[]);
    let v1 = wait_for_build(k, &token, &first)["deployed_version"]
        .as_u64()
        .unwrap();
    let b = park(k, &token, &id, "record", &[]);
    let log = events(k, &token, &id);
    let deployed = of_build(&log, &b, "Deployed");
    assert_eq!(deployed.len(), 1, "the parked build deployed: {log:?}");
    let v2 = deployed[0]["data"]["version"].as_u64().unwrap();
    assert!(v2 > v1);
    run_watchdog(k);
    assert_failed_by_watchdog(k, &token, &b, "in step record");
    assert_ne!(wait_for_workflow_end(k, &b).as_deref(), Some("complete"));
    assert_eq!(
        served_version(k, &slug),
        Some(v1),
        "the previous version serves"
    );
    let p = k
        .api
        .get(&format!("/api/projects/{id}"), Some(&token))
        .json();
    assert_eq!(p["project"]["live"]["version"], v1, "{p:#}");
    let next = request_build(k, &token, &id, "a reading list", &[]);
    let done = wait_for_build(k, &token, &next);
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(
        served_version(k, &slug),
        done["deployed_version"].as_u64(),
        "the next build goes live"
    );
}

fn a_build_whose_workflow_vanished_is_ended_by_the_watchdog(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = new_project(k, &token, "Vanished");
    let b = park(k, &token, &id, "plan", &[]);
    // The engine loses the instance behind Kiln's back: nothing is recorded.
    let r = k
        .api
        .delete(&format!("/api/_test/builds/{b}/workflow"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "terminated", "{}", r.body);
    assert_eq!(build(k, &token, &b)["status"], "running");
    run_watchdog(k);
    assert_failed_by_watchdog(k, &token, &b, "in step plan");
    let next = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
}

fn a_build_whose_failure_could_never_be_recorded_is_ended_by_the_watchdog(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = new_project(k, &token, "Unrecorded Failure");
    let b = request_build(
        k,
        &token,
        &id,
        "a reading list",
        &[
            ("x-kiln-faults", "migrate:1:terminal"),
            ("x-kiln-append-fault", "BuildFailed:100"),
        ],
    );
    // Every attempt to record BuildFailed fails; the workflow gives up and ends.
    let status = wait_for_workflow_end(k, &b);
    assert!(status.is_some(), "the workflow exists");
    let stuck = build(k, &token, &b);
    assert_eq!(stuck["status"], "running", "{stuck:#}");
    run_watchdog(k);
    assert_failed_by_watchdog(k, &token, &b, "migrate");
    let next = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
}

fn the_watchdog_leaves_finished_builds_alone(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = new_project(k, &token, "Finished");
    let b = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &b)["status"], "succeeded");
    let before = events(k, &token, &id).len();
    run_watchdog(k);
    let after = events(k, &token, &id);
    assert_eq!(after.len(), before, "{:?}", after.last());
    assert_eq!(build(k, &token, &b)["status"], "succeeded");
}

/// A project with versions 1 and 2 (2 live) and a rollback to 1 whose `switch` step stalls the
/// first time (test hook); returns (token, project id, slug, rollback id).
fn stalling_rollback(k: &Kiln, name: &str) -> (String, String, String, String) {
    let token = k.api.new_user();
    let (id, slug) = new_project(k, &token, name);
    let first = request_build(k, &token, &id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &first)["status"], "succeeded");
    let second = request_build(k, &token, &id, "a reading list with authors", &[]);
    assert_eq!(wait_for_build(k, &token, &second)["status"], "succeeded");
    assert_eq!(served_version(k, &slug), Some(2));
    let r = k.api.send(
        "POST",
        &format!("/api/projects/{id}/rollback"),
        Some(&token),
        &[
            ("content-type", "application/json"),
            ("x-kiln-rollback-fault", "slow"),
        ],
        Some(br#"{"version":1}"#.to_vec()),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let rollback_id = r.json()["rollback_id"].as_str().unwrap().to_string();
    (token, id, slug, rollback_id)
}

/// A pending rollback blocks new builds, so one whose workflow stopped making progress (its
/// `switch` step stalls, test hook) would freeze the project: the watchdog records it as failed,
/// the live version stays, and the project builds again.
fn the_watchdog_fails_a_stalled_rollback_and_the_project_builds_again(k: &Kiln) {
    let (token, id, slug, rollback_id) = stalling_rollback(k, "Stalled Rollback");
    // While it is pending, builds are refused.
    let blocked = k.api.send(
        "POST",
        &format!("/api/projects/{id}/builds"),
        Some(&token),
        &[("content-type", "application/json")],
        Some(br#"{"prompt":"a reading list"}"#.to_vec()),
        None,
    );
    assert_eq!(blocked.status, 409, "{}", blocked.body);

    run_watchdog(k);
    let log = events(k, &token, &id);
    let failed: Vec<&Value> = log
        .iter()
        .filter(|e| {
            e["type"] == "RollbackFailed" && e["data"]["rollback_id"] == rollback_id.as_str()
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", log.last());
    let reason = failed[0]["data"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no progress")
            && reason.contains("BUILD_STALL_MINUTES")
            && reason.contains("version 2 stays live"),
        "{reason}"
    );
    assert!(failed[0]["actor"] == "kiln:watchdog", "{:#}", failed[0]);
    let p = k
        .api
        .get(&format!("/api/projects/{id}"), Some(&token))
        .json();
    assert!(p["project"]["rollback"].is_null(), "{p:#}");
    assert_eq!(served_version(k, &slug), Some(2));
    // A second pass finds nothing more to do.
    let before = events(k, &token, &id).len();
    run_watchdog(k);
    assert_eq!(events(k, &token, &id).len(), before);

    let next = request_build(k, &token, &id, "a reading list with genres", &[]);
    assert_eq!(wait_for_build(k, &token, &next)["status"], "succeeded");
    assert_eq!(served_version(k, &slug), Some(3));
}

/// The rollback's `switch` step stalls the first time (test hook), the dev server is killed
/// meanwhile, and the pending rollback is resumed by the next isolate: the older version goes live.
fn a_rollback_interrupted_by_a_dev_server_restart_completes(k: &Kiln) {
    let (token, id, slug, rollback_id) = stalling_rollback(k, "Interrupted Rollback");
    let p = k
        .api
        .get(&format!("/api/projects/{id}"), Some(&token))
        .json();
    assert!(!p["project"]["rollback"].is_null(), "{p:#}");
    k.restart();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let p = k
            .api
            .get(&format!("/api/projects/{id}"), Some(&token))
            .json();
        if p["project"]["live"]["rollback_id"] == rollback_id.as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollback never completed: {p:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(served_version(k, &slug), Some(1));
    let log = events(k, &token, &id);
    assert_eq!(
        log.iter()
            .filter(
                |e| e["type"] == "RolledBack" && e["data"]["rollback_id"] == rollback_id.as_str()
            )
            .count(),
        1
    );
}
