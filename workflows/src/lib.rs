//! Kiln build pipeline as pure logic. No `worker` dependency: everything here runs natively in tests.
#![forbid(unsafe_code)]
