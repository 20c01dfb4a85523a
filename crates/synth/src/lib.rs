//! Synthetic data for Switchboard.
//!
//! This crate owns the generators of made-up data: for now the partner registry (agencies,
//! 287(g) agreements and officers) that the demo and tests use. Everything is generated from
//! a seed, so the same seed gives the same content. Names are drawn from invented place names
//! and common name parts; phone numbers are in the 555-0100..0199 range reserved for fiction.
//! It must never read or embed data about real people or real agencies, and does no I/O.

#![forbid(unsafe_code)]

pub mod names;
pub mod noise;
pub mod output;
pub mod people;
pub mod records;
pub mod registry;
