//! Identity resolution: who, in the record systems, is the person the officer asks about?
//!
//! This crate owns normalisation ([`text`]), comparison levels ([`compare`]), the
//! Fellegi–Sunter model and its explanations ([`model`]), unlabelled training ([`train`]),
//! candidate generation ([`block`]), batch linkage of tables ([`linker`]) and the in-memory index
//! over the record systems for single-subject lookups ([`index`]).
//!
//! It must never do I/O: tables and records arrive already read, and the clock's "today"
//! arrives as an argument. That keeps every score reproducible in a test.

#![forbid(unsafe_code)]

pub mod block;
pub mod compare;
pub mod index;
pub mod linker;
pub mod model;
pub mod snapshot;
pub mod text;
pub mod train;

pub use compare::Kind;
pub use index::{Candidate, Change, Lookup, LookupOptions, Query, RecordIndex};
pub use linker::{Band, Linked, Table, dedupe, link};
pub use model::{Evidence, Model, ModelError, ModelSpec};
