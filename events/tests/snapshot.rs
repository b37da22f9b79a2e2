//! Folded state is cached as a MessagePack snapshot by the platform; a snapshot must decode to
//! exactly the state it was made from, and folding the rest of the stream on top of it must equal
//! a full replay.

use events::envelope::{Metadata, NewEvent};
use events::testing::block_on;
use events::{Command, EventStore, MemStore, ProjectState, Role};

#[test]
fn a_snapshot_plus_the_tail_equals_a_full_replay() {
    let store = MemStore::new();
    let meta = Metadata::new(1_700_000_000_000, "u1");
    let mut state = ProjectState::default();
    let commands = [
        Command::CreateProject {
            name: "Todo".into(),
            slug: "todo".into(),
            owner: "u1".into(),
        },
        Command::PostMessage {
            message_id: "m1".into(),
            role: Role::User,
            content: "hi".into(),
        },
        Command::RenameProject {
            name: "Tasks".into(),
        },
        Command::PostMessage {
            message_id: "m2".into(),
            role: Role::User,
            content: "more".into(),
        },
    ];
    let mut snapshot = None;
    for (i, c) in commands.into_iter().enumerate() {
        let events = state.handle(c).unwrap();
        for e in
            block_on(store.append("p", state.last_seq, NewEvent::batch(events, &meta))).unwrap()
        {
            state.apply(&e);
        }
        if i == 1 {
            snapshot = Some(rmp_serde::to_vec_named(&state).unwrap());
        }
    }
    let mut restored: ProjectState = rmp_serde::from_slice(&snapshot.unwrap()).unwrap();
    for d in block_on(store.read("p", restored.last_seq, 100)).unwrap() {
        restored.apply_decoded(&d);
    }
    let (full, _) = ProjectState::replay(&block_on(store.read("p", 0, 100)).unwrap());
    assert_eq!(restored, full);
    assert_eq!(full, state);
}
