//! Measures how fast a project stream is rebuilt: MessagePack decoding versus folding.
//!
//! Run with `cargo run -p events --release --example bench_fold`.
//!
//! It seals 100,000 synthetic events (a project with many complete builds, so the fold does real
//! work: build lookup, step attempts, versions), encodes them as storage blobs, then times:
//! - decode (raw): bytes → schema-agnostic envelope, including the canonical-form check;
//! - decode (full): what `EventStore::read` does: raw decode + upcast + typed payload;
//! - fold: `ProjectState::apply` over the decoded envelopes;
//! - verify: hash-chain verification of the decoded envelopes.
//!
//! Each phase runs a few times and the best run is reported, to damp noise on a shared machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use events::{
    decode_storage, decode_storage_raw, encode_storage, seal, verify_chain, Decoded, Envelope,
    Event, Metadata, ProjectState, Role, GENESIS_HASH,
};

const EVENTS: usize = 100_000;
const RUNS: usize = 5;

/// One complete build: 16 events.
fn build_events(n: u32) -> Vec<Event> {
    let b = format!("b{n}");
    let step = |name: &str| {
        [
            Event::StepStarted {
                build_id: b.clone(),
                step: name.into(),
                attempt: 1,
            },
            Event::StepSucceeded {
                build_id: b.clone(),
                step: name.into(),
                attempt: 1,
                duration_ms: 1200,
                output_ref: Some(format!("sha256:{n:08x}")),
            },
        ]
    };
    let mut events = vec![
        Event::MessagePosted {
            message_id: format!("m{n}"),
            role: Role::User,
            content: "Add a page that lists overdue todos, sorted by due date".into(),
        },
        Event::BuildRequested {
            build_id: b.clone(),
            prompt: "Add a page that lists overdue todos, sorted by due date".into(),
            idempotency_key: Some(format!("req-{n}")),
            replay_of: None,
            from_step: None,
        },
        Event::BuildStarted {
            build_id: b.clone(),
        },
    ];
    events.extend(step("plan"));
    events.push(Event::PlanProposed {
        build_id: b.clone(),
        plan_hash: format!("{n:064x}"),
        summary: "One new page, one query".into(),
    });
    events.extend(step("codegen"));
    events.push(Event::CodeGenerated {
        build_id: b.clone(),
        version: n,
        files: 9,
        bytes: 24_000,
        prompt_hash: Some("e3b0c44298fc1c14".into()),
    });
    events.push(Event::ValidationPassed {
        build_id: b.clone(),
    });
    events.push(Event::MigrationApplied {
        build_id: b.clone(),
        names: vec![format!("{n:04}_overdue.sql")],
    });
    events.push(Event::AssetsUploaded {
        build_id: b.clone(),
        count: 5,
        bytes: 80_000,
    });
    events.push(Event::Deployed {
        build_id: b.clone(),
        version: n,
    });
    events.push(Event::BuildSucceeded {
        build_id: b,
        version: n,
    });
    events
}

fn synthetic() -> Vec<Event> {
    let mut events = vec![Event::ProjectCreated {
        name: "Todo".into(),
        slug: "todo".into(),
        owner: "u1".into(),
    }];
    let mut n = 1;
    while events.len() < EVENTS {
        events.extend(build_events(n));
        n += 1;
    }
    events.truncate(EVENTS);
    events
}

/// Best wall time of `RUNS` runs of `f`.
fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let value = black_box(f());
        best = best.min(start.elapsed());
        out = Some(value);
    }
    (best, out.expect("RUNS > 0"))
}

fn per_second(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

fn main() {
    let events = synthetic();
    let start = Instant::now();
    let mut prev = GENESIS_HASH.to_owned();
    let mut envelopes: Vec<Envelope> = Vec::with_capacity(EVENTS);
    for (i, event) in events.into_iter().enumerate() {
        let meta = Metadata::new(1_700_000_000_000 + i as i64, "workflow");
        let meta = match event.build_id() {
            Some(b) => meta.correlated(b),
            None => meta,
        };
        let envelope = seal("p1", i as u64 + 1, &prev, meta, event).expect("valid chain");
        prev.clone_from(&envelope.hash);
        envelopes.push(envelope);
    }
    let blobs: Vec<Vec<u8>> = envelopes.iter().map(encode_storage).collect();
    let seal_time = start.elapsed();
    let total_bytes: usize = blobs.iter().map(Vec::len).sum();

    let (raw_time, _) = best(|| {
        blobs
            .iter()
            .map(|b| decode_storage_raw(b).expect("valid blob"))
            .collect::<Vec<_>>()
    });
    let (decode_time, decoded) = best(|| {
        blobs
            .iter()
            .map(|b| decode_storage(b).expect("valid blob"))
            .collect::<Vec<Decoded>>()
    });
    let typed: Vec<Envelope> = decoded
        .into_iter()
        .filter_map(Decoded::into_envelope)
        .collect();
    assert_eq!(typed, envelopes, "decoding must give back what was sealed");
    let (fold_time, state) = best(|| ProjectState::from_envelopes(&typed));
    let (verify_time, verified) = best(|| verify_chain(&typed));
    verified.expect("the synthetic chain verifies");

    let raw_rate = per_second(EVENTS, raw_time);
    let decode_rate = per_second(EVENTS, decode_time);
    let fold_rate = per_second(EVENTS, fold_time);
    println!(
        "{EVENTS} events, {} builds, {:.1} MiB of MessagePack ({} bytes/event); sealed + encoded in {:.2?}",
        state.builds.len(),
        total_bytes as f64 / (1024.0 * 1024.0),
        total_bytes / EVENTS,
        seal_time
    );
    println!(
        "decode (raw MessagePack + canonical check): {raw_rate:>12.0} events/s  ({raw_time:.2?})"
    );
    println!("decode (full: raw + upcast + typed):        {decode_rate:>12.0} events/s  ({decode_time:.2?})");
    println!(
        "fold (ProjectState::apply):                 {fold_rate:>12.0} events/s  ({fold_time:.2?})"
    );
    println!(
        "verify (hash chain):                        {:>12.0} events/s  ({verify_time:.2?})",
        per_second(EVENTS, verify_time)
    );
    println!(
        "fold / raw decode = {:.1}x, fold / full decode = {:.1}x",
        fold_rate / raw_rate,
        fold_rate / decode_rate
    );
}
