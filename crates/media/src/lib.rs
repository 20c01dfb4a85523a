//! RTP media for the center's calls, and the only crate (with `sip`) that knows RTP.
//!
//! - [`g711`]: μ-law and A-law companding (PCMU, PCMA).
//! - [`rtp`]: RTP packets (RFC 3550) and telephone events (RFC 4733) turned into key presses.
//! - [`tone`]: ringback, beeps, the default hold melody, and a Goertzel detector.
//! - [`sound`]: prompts and hold audio from 8 kHz WAV files.
//! - [`leg`]: [`Media`] opens one UDP port per call leg; a [`MediaLeg`] plays sounds to its
//!   peer, reports keys pressed, or relays audio to another leg (transcoding PCMU and PCMA
//!   where the two legs differ). Dropping a leg releases its port; [`Media::open_legs`]
//!   counts what is still open.
//!
//! It never decides what a caller hears: the `sip` crate does, from the ACD's commands.

#![forbid(unsafe_code)]

pub mod g711;
pub mod leg;
pub mod rtp;
pub mod sound;
pub mod tone;

pub use g711::Codec;
pub use leg::{Media, MediaEvent, MediaLeg, Remote};
pub use sound::Sound;
