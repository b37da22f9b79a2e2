//! Pure domain types of the platform: parsed at the edge, trusted inside.
//!
//! Nothing in this module touches JavaScript or the `worker` crate, so all of it is covered by
//! native `cargo test`. Handlers turn raw request bodies into these types with `parse`; an input
//! that does not parse never reaches storage.

pub mod api_token;
pub mod email;
pub mod limits;
pub mod password;
pub mod project;
pub mod slug;
pub mod token;
pub mod webhook;

pub use email::Email;
pub use password::{Password, PasswordHash};
pub use project::ProjectName;
pub use slug::Slug;
