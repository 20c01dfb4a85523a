//! The tamper-evident audit log, pure.
//!
//! Every audited action is an entry: its bytes are a leaf of an RFC 9162 Merkle tree
//! ([`merkle`]). The log periodically signs a [`Checkpoint`] (origin, size, root hash, time)
//! with Ed25519. Anyone holding the public key can then check, with [`verify_log`], that every
//! stored entry is in the tree every checkpoint signed, that each checkpoint's signature holds,
//! and that each checkpoint's tree extends the one before (consistency); the first thing that
//! does not hold is named precisely. A flipped byte, a deleted, reordered or truncated entry, or
//! a history re-signed with another key is found.
//!
//! No I/O and no clock: entries, checkpoints and key seeds come from the edges.

#![forbid(unsafe_code)]

pub mod entry;
pub mod merkle;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _};

pub use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

pub use entry::{Actor, Caller, Disclosure, Entry, Outcome, Purpose, RuleHit};
pub use merkle::{Accumulator, Hash, leaf_hash};

/// Lowercase hex of a hash or signature.
pub fn to_hex(bytes: &[u8]) -> String {
    hex(bytes)
}

/// Parses 64 hex digits (a hash, a key seed).
pub fn hash_from_hex(s: &str) -> Option<Hash> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A signed statement of the log's size and root at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Which log (e.g. the center's name).
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Milliseconds since the Unix epoch, when it was signed.
    pub at_ms: u64,
    /// Ed25519 over [`Checkpoint::body`].
    #[serde(with = "sig_bytes")]
    pub signature: [u8; 64],
}

mod sig_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v: Vec<u8> = Vec::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("a signature is 64 bytes"))
    }
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

impl Checkpoint {
    /// The signed text: origin, size, root (hex) and time, one per line.
    pub fn body(origin: &str, size: u64, root: &Hash, at_ms: u64) -> Vec<u8> {
        format!("{origin}\n{size}\n{}\n{at_ms}\n", hex(root)).into_bytes()
    }

    /// Signs the log's state with the key from `seed`.
    pub fn sign(origin: &str, size: u64, root: Hash, at_ms: u64, seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let signature = key.sign(&Self::body(origin, size, &root, at_ms)).to_bytes();
        Self {
            origin: origin.to_owned(),
            size,
            root,
            at_ms,
            signature,
        }
    }

    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let body = Self::body(&self.origin, self.size, &self.root, self.at_ms);
        key.verify(&body, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

/// A public key from its 64 hex digits, if they are one.
pub fn parse_public_key(hex: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&hash_from_hex(hex)?).ok()
}

/// The public key for a seed (what verifiers are given).
pub fn public_key(seed: &[u8; 32]) -> VerifyingKey {
    SigningKey::from_bytes(seed).verifying_key()
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    #[error(
        "checkpoint {index} (size {size}) has a signature that does not verify with the log's key"
    )]
    BadSignature { index: usize, size: u64 },
    #[error("checkpoint {index} signs {size} entries but the log holds only {have}")]
    Truncated { index: usize, size: u64, have: u64 },
    #[error(
        "checkpoint {index} signs root {signed} for the first {size} entries, but they hash to {computed}: an entry at or before position {size} was changed, removed, inserted or reordered"
    )]
    RootMismatch {
        index: usize,
        size: u64,
        signed: String,
        computed: String,
    },
    #[error(
        "checkpoint {index} (size {size}) does not extend checkpoint {previous} (size {previous_size}): the history was rewritten"
    )]
    NotConsistent {
        index: usize,
        size: u64,
        previous: usize,
        previous_size: u64,
    },
    #[error("checkpoint {index} is for log {origin:?}, not {expected:?}")]
    WrongOrigin {
        index: usize,
        origin: String,
        expected: String,
    },
}

/// What a verification found good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: usize,
    /// Entries after the last checkpoint (not yet signed).
    pub unsigned_tail: u64,
}

/// Verifies a whole log: every entry's leaf, every checkpoint's signature, each checkpoint's
/// root against the entries, and consistency between consecutive checkpoints. Checkpoints
/// must be in increasing size order (as stored). One pass over the entries.
pub fn verify_log<'a>(
    origin: &str,
    key: &VerifyingKey,
    entries: impl IntoIterator<Item = &'a [u8]>,
    checkpoints: &[Checkpoint],
) -> Result<Verified, Inconsistency> {
    let mut v = Verifier::new(origin, key, checkpoints)?;
    for e in entries {
        v.push(e)?;
    }
    v.finish()
}

/// [`verify_log`] one entry at a time, for logs read in pages: the checkpoints are checked
/// when it is made, each entry as it is pushed, and truncation at [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier<'c> {
    checkpoints: &'c [Checkpoint],
    acc: Accumulator,
    next: usize,
}

impl<'c> Verifier<'c> {
    /// Checks every checkpoint's origin, signature and order.
    pub fn new(
        origin: &str,
        key: &VerifyingKey,
        checkpoints: &'c [Checkpoint],
    ) -> Result<Self, Inconsistency> {
        for (i, c) in checkpoints.iter().enumerate() {
            if c.origin != origin {
                return Err(Inconsistency::WrongOrigin {
                    index: i,
                    origin: c.origin.clone(),
                    expected: origin.to_owned(),
                });
            }
            if !c.verify(key) {
                return Err(Inconsistency::BadSignature {
                    index: i,
                    size: c.size,
                });
            }
            if i > 0 && c.size < checkpoints[i - 1].size {
                return Err(Inconsistency::NotConsistent {
                    index: i,
                    size: c.size,
                    previous: i - 1,
                    previous_size: checkpoints[i - 1].size,
                });
            }
        }
        let mut v = Self {
            checkpoints,
            acc: Accumulator::default(),
            next: 0,
        };
        v.check()?;
        Ok(v)
    }

    /// Entries pushed so far.
    pub fn size(&self) -> u64 {
        self.acc.size()
    }

    /// The next entry, in log order.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), Inconsistency> {
        self.push_leaf(leaf_hash(entry))
    }

    /// The next entry's leaf hash, already computed from its bytes.
    pub fn push_leaf(&mut self, leaf: Hash) -> Result<(), Inconsistency> {
        self.acc.push(leaf);
        self.check()
    }

    /// Checks the checkpoints that sign exactly the entries pushed so far.
    fn check(&mut self) -> Result<(), Inconsistency> {
        while let Some(c) = self.checkpoints.get(self.next) {
            if c.size != self.acc.size() {
                break;
            }
            let computed = self.acc.root();
            if computed != c.root {
                // Every earlier checkpoint matched these same entries, so a mismatch here is
                // a change to an entry after the previous checkpoint (or a re-signed history).
                return Err(Inconsistency::RootMismatch {
                    index: self.next,
                    size: c.size,
                    signed: hex(&c.root),
                    computed: hex(&computed),
                });
            }
            self.next += 1;
        }
        Ok(())
    }

    /// Ends the pass: a checkpoint signing more entries than were pushed is truncation.
    pub fn finish(self) -> Result<Verified, Inconsistency> {
        if let Some(c) = self.checkpoints.get(self.next) {
            return Err(Inconsistency::Truncated {
                index: self.next,
                size: c.size,
                have: self.acc.size(),
            });
        }
        let signed = self.checkpoints.last().map_or(0, |c| c.size);
        Ok(Verified {
            entries: self.acc.size(),
            checkpoints: self.checkpoints.len(),
            unsigned_tail: self.acc.size() - signed,
        })
    }

    /// The root of the entries pushed so far.
    pub fn root(&self) -> Hash {
        self.acc.root()
    }
}

#[cfg(test)]
mod tests;
