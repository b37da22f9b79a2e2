//! Test support: `given(events).when(command).then_expect(events)` and a tiny `block_on`.
//!
//! Key decision: this lives in the library (not only under `tests/`) so the `workflows` crate
//! and the platform Worker can test their use of the project aggregate and of [`crate::MemStore`]
//! the same way. Everything here panics with a descriptive message on mismatch, as test helpers
//! should; nothing in production code calls it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::decide::{Command, Rejection};
use crate::envelope::{seal, Envelope, Metadata, GENESIS_HASH};
use crate::event::Event;
use crate::fold::ProjectState;

/// Seals `events` as a fresh stream `test` (seq 1, 2, ... from genesis) with fixed metadata.
pub fn sealed(events: impl IntoIterator<Item = Event>) -> Vec<Envelope> {
    let mut prev = GENESIS_HASH.to_owned();
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let seq = i as u64 + 1;
            let envelope = seal("test", seq, &prev, Metadata::new(seq as i64, "test"), event)
                .expect("sealing onto a valid chain cannot fail");
            prev.clone_from(&envelope.hash);
            envelope
        })
        .collect()
}

/// Starts a scenario: the project has already recorded `events`.
pub fn given(events: impl IntoIterator<Item = Event>) -> Given {
    Given {
        state: ProjectState::from_envelopes(&sealed(events)),
    }
}

/// A scenario's recorded history, folded.
#[derive(Debug)]
pub struct Given {
    /// The folded state.
    pub state: ProjectState,
}

impl Given {
    /// Decides `command` against the history.
    pub fn when(self, command: Command) -> Then {
        let result = self.state.handle(command.clone());
        Then { command, result }
    }
}

/// A scenario's outcome.
#[derive(Debug)]
pub struct Then {
    command: Command,
    /// What `handle` decided.
    pub result: Result<Vec<Event>, Rejection>,
}

impl Then {
    /// Asserts the command was accepted and decided exactly `expected`.
    pub fn then_expect(self, expected: Vec<Event>) {
        match self.result {
            Ok(events) => assert_eq!(
                events, expected,
                "command {:?} decided other events than expected",
                self.command
            ),
            Err(rejection) => panic!(
                "command {:?} was rejected ({rejection}) but should decide {expected:?}",
                self.command
            ),
        }
    }

    /// Asserts the command was refused with `expected`.
    pub fn then_reject(self, expected: Rejection) {
        match self.result {
            Ok(events) => panic!(
                "command {:?} decided {events:?} but should be rejected with '{expected}'",
                self.command
            ),
            Err(rejection) => assert_eq!(
                rejection, expected,
                "command {:?} was rejected for another reason",
                self.command
            ),
        }
    }
}

/// Runs a future that completes without waiting, such as every [`crate::MemStore`] call.
/// Panics if it would wait: there is no executor here to wake it.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("block_on only runs futures that are immediately ready"),
    }
}
