//! Accounts, pure: how passwords are hashed and which are refused, how a TOTP code is checked
//! (once per time step), how TOTP seeds are sealed at rest, when repeated failures lock an
//! account, when a session locks or ends, and what each role may do.
//!
//! No I/O, no clock and no random numbers of its own: instants, salts and secrets are passed
//! in, so every rule is reproducible in a test. The web layer stores what these functions
//! decide.

#![forbid(unsafe_code)]

pub mod password;
pub mod permissions;
pub mod policy;
pub mod sealed;
pub mod totp;

pub use permissions::{Permission, allows, needs_second_administrator};
pub use policy::{SessionState, session_state};
