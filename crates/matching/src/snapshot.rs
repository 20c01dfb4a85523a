//! The record index as a file: written whole with the change-log position it reflects, read
//! back in seconds instead of rebuilt and retrained in minutes.
//!
//! Format (version [`FORMAT`]): the magic `SBINDEX\n`, the format version (u32), then sections
//! in a fixed order, each a four-byte tag, its length in bytes (u64), its bytes and their
//! CRC-32 (u32); every number little-endian. `META` is JSON (the change log and the position
//! in it, the model, the
//! term frequencies, the counts); `ARNA` and `TAIL` the records' text; `STOR` 17 bytes a row
//! (start u64, length u32, system u8, updated day i32); `BLKB`/`BLKD` and `IDSB`/`IDSD` the
//! sorted postings (u64 each) of the blocking keys and the record ids, base and delta; `DEAD`
//! the dead-row bitset (u64 words); `CODE` the phonetic cache (word length u16, the word, ten
//! bytes of codes); `END.` empty.
//!
//! Reading checks everything before trusting it: the magic and version, every section's tag,
//! length and checksum, and that every row, posting and code points where it may. A file of
//! another version or a damaged one is an error, never a misread index: the caller rebuilds.
//! This module does no I/O of its own; it reads and writes what it is given.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::block::{BlockIndex, Postings};
use crate::index::{BuildReport, RecordIndex, Stored, TAIL};
use crate::model::{Model, Params, TermFrequencies};
use crate::text::{Code, PhoneticCache};

/// The snapshot format this build writes and reads.
pub const FORMAT: u32 = 1;
const MAGIC: &[u8; 8] = b"SBINDEX\n";
/// The most any one section may claim, so a damaged length cannot ask for all memory.
const MAX_SECTION: u64 = 64 << 30;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("reading the snapshot: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an index snapshot")]
    NotASnapshot,
    #[error("snapshot format {found}, this build reads format {FORMAT}")]
    Format { found: u32 },
    #[error("damaged snapshot: {0}")]
    Damaged(String),
}

fn damaged(s: impl Into<String>) -> SnapshotError {
    SnapshotError::Damaged(s.into())
}

/// Term frequencies as kept: (value, share bits) sorted by value, and the unseen share's bits.
type TfBits = (Vec<(String, u64)>, u64);

/// The description of the index. Numbers the lookups compute with are kept as their bits
/// (`f64::to_bits`): a decimal round trip may change the last bit, and with it a score.
#[derive(Serialize, Deserialize)]
struct Meta {
    /// Which change log `position` is a position of.
    log: String,
    position: i64,
    /// Per field: m and u.
    params: Vec<(Vec<u64>, Vec<u64>)>,
    prior: u64,
    /// Per field: its term frequencies (value, share) and the unseen share, if it has them.
    tf: Vec<Option<TfBits>>,
    years: (i32, i32),
    threshold: u64,
    id_counts: [u64; 3],
    added: usize,
    report: BuildReport,
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn floats(v: &[u64]) -> Vec<f64> {
    v.iter().map(|x| f64::from_bits(*x)).collect()
}

/// Writes one section, checksummed.
fn section(w: &mut impl Write, tag: &[u8; 4], bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(tag)?;
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)?;
    w.write_all(&crc32fast::hash(bytes).to_le_bytes())
}

fn words_le(v: &[u64]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(v))
    } else {
        std::borrow::Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
}

/// Writes the index, naming the change log its position belongs to. The caller makes the file
/// durable and moves it into place.
pub fn write(index: &RecordIndex, log: &str, w: &mut impl Write) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&FORMAT.to_le_bytes())?;
    let meta = Meta {
        log: log.to_owned(),
        position: index.position,
        params: index
            .model
            .params
            .iter()
            .map(|p| (bits(&p.m), bits(&p.u)))
            .collect(),
        prior: index.model.prior.to_bits(),
        tf: index
            .model
            .tf
            .iter()
            .map(|t| {
                t.as_ref().map(|t| {
                    let mut v: Vec<(String, u64)> = t
                        .share
                        .iter()
                        .map(|(k, x)| (k.clone(), x.to_bits()))
                        .collect();
                    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    (v, t.unseen.to_bits())
                })
            })
            .collect(),
        years: (*index.years.start(), *index.years.end()),
        threshold: index.threshold.to_bits(),
        id_counts: index.id_counts,
        added: index.added,
        report: index.report.clone(),
    };
    let meta = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    section(w, b"META", &meta)?;
    section(w, b"ARNA", index.arena.as_bytes())?;
    section(w, b"TAIL", index.tail.as_bytes())?;
    let mut stored = Vec::with_capacity(index.stored.len() * 17);
    for s in &index.stored {
        stored.extend_from_slice(&s.start.to_le_bytes());
        stored.extend_from_slice(&s.len.to_le_bytes());
        stored.push(s.system);
        stored.extend_from_slice(&s.updated.to_le_bytes());
    }
    section(w, b"STOR", &stored)?;
    drop(stored);
    section(w, b"BLKB", &words_le(index.blocks.base().as_slice()))?;
    section(w, b"BLKD", &words_le(index.blocks.delta().as_slice()))?;
    section(w, b"IDSB", &words_le(index.ids.base().as_slice()))?;
    section(w, b"IDSD", &words_le(index.ids.delta().as_slice()))?;
    section(w, b"DEAD", &words_le(&index.dead))?;
    let mut codes = Vec::new();
    let mut entries: Vec<_> = index.codes.entries().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (word, (a, b)) in entries {
        let len = u16::try_from(word.len()).map_err(std::io::Error::other)?;
        codes.extend_from_slice(&len.to_le_bytes());
        codes.extend_from_slice(word.as_bytes());
        codes.extend_from_slice(&a.to_bytes());
        codes.extend_from_slice(&b.to_bytes());
    }
    section(w, b"CODE", &codes)?;
    section(w, b"END.", &[])
}

struct Reader<'a, R: Read> {
    r: &'a mut R,
}

impl<R: Read> Reader<'_, R> {
    fn header(&mut self, tag: &[u8; 4]) -> Result<usize, SnapshotError> {
        let mut t = [0u8; 4];
        self.r.read_exact(&mut t)?;
        if &t != tag {
            return Err(damaged(format!(
                "expected section {}, found {}",
                String::from_utf8_lossy(tag),
                String::from_utf8_lossy(&t)
            )));
        }
        let mut n = [0u8; 8];
        self.r.read_exact(&mut n)?;
        let n = u64::from_le_bytes(n);
        if n > MAX_SECTION {
            return Err(damaged(format!(
                "section {} claims {n} bytes",
                String::from_utf8_lossy(tag)
            )));
        }
        Ok(n as usize)
    }

    fn check(&mut self, tag: &[u8; 4], bytes: &[u8]) -> Result<(), SnapshotError> {
        let mut c = [0u8; 4];
        self.r.read_exact(&mut c)?;
        if u32::from_le_bytes(c) != crc32fast::hash(bytes) {
            return Err(damaged(format!(
                "section {} fails its checksum",
                String::from_utf8_lossy(tag)
            )));
        }
        Ok(())
    }

    fn bytes(&mut self, tag: &[u8; 4]) -> Result<Vec<u8>, SnapshotError> {
        let n = self.header(tag)?;
        let mut v = Vec::new();
        (&mut *self.r).take(n as u64).read_to_end(&mut v)?;
        if v.len() != n {
            return Err(damaged("the file ends early"));
        }
        self.check(tag, &v)?;
        Ok(v)
    }

    fn words(&mut self, tag: &[u8; 4]) -> Result<Vec<u64>, SnapshotError> {
        let n = self.header(tag)?;
        if n % 8 != 0 {
            return Err(damaged(format!(
                "section {} is not whole words",
                String::from_utf8_lossy(tag)
            )));
        }
        // Grown as the bytes arrive, so a damaged length fails at the end of the file instead
        // of asking for memory the file never had.
        let words = n / 8;
        let mut v: Vec<u64> = Vec::new();
        while v.len() < words {
            let from = v.len();
            v.resize(from + (words - from).min(1 << 23), 0);
            self.r
                .read_exact(bytemuck::cast_slice_mut(&mut v[from..]))
                .map_err(|_| damaged("the file ends early"))?;
        }
        self.check(tag, bytemuck::cast_slice(&v))?;
        if cfg!(target_endian = "big") {
            for x in &mut v {
                *x = u64::from_le(*x);
            }
        }
        Ok(v)
    }
}

/// Reads an index back, checking it whole; with the change log it names.
pub fn read(r: &mut impl Read) -> Result<(RecordIndex, String), SnapshotError> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| SnapshotError::NotASnapshot)?;
    if &magic != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let mut v = [0u8; 4];
    r.read_exact(&mut v)?;
    let found = u32::from_le_bytes(v);
    if found != FORMAT {
        return Err(SnapshotError::Format { found });
    }
    let mut rd = Reader { r };
    let meta: Meta = serde_json::from_slice(&rd.bytes(b"META")?)
        .map_err(|e| damaged(format!("its description does not read: {e}")))?;
    let arena = String::from_utf8(rd.bytes(b"ARNA")?).map_err(|_| damaged("text is not UTF-8"))?;
    let tail = String::from_utf8(rd.bytes(b"TAIL")?).map_err(|_| damaged("text is not UTF-8"))?;
    let raw = rd.bytes(b"STOR")?;
    if raw.len() % 17 != 0 {
        return Err(damaged("rows are not whole"));
    }
    let mut stored = Vec::with_capacity(raw.len() / 17);
    for c in raw.chunks_exact(17) {
        let s = Stored {
            start: u64::from_le_bytes(c[0..8].try_into().unwrap_or_default()),
            len: u32::from_le_bytes(c[8..12].try_into().unwrap_or_default()),
            system: c[12],
            updated: i32::from_le_bytes(c[13..17].try_into().unwrap_or_default()),
        };
        let (text, start) = if s.start & TAIL != 0 {
            (&tail, (s.start & !TAIL) as usize)
        } else {
            (&arena, s.start as usize)
        };
        let end = start.checked_add(s.len as usize);
        let fits = end.is_some_and(|end| {
            end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end)
        });
        if !fits || usize::from(s.system) >= switchboard_domain::records::System::ALL.len() {
            return Err(damaged("a row points outside its text"));
        }
        stored.push(s);
    }
    drop(raw);
    let rows = stored.len() as u64;
    let mut postings = |tag: &[u8; 4]| -> Result<BlockIndex, SnapshotError> {
        let v = rd.words(tag)?;
        if v.iter().any(|p| (p & 0xffff_ffff) >= rows) {
            return Err(damaged("a posting names a row that is not there"));
        }
        BlockIndex::from_snapshot(v).ok_or_else(|| damaged("postings out of order"))
    };
    let blocks = Postings::from_parts(postings(b"BLKB")?, postings(b"BLKD")?);
    let ids = Postings::from_parts(postings(b"IDSB")?, postings(b"IDSD")?);
    let dead = rd.words(b"DEAD")?;
    if dead.len() != stored.len().div_ceil(64) {
        return Err(damaged("the dead-row set does not fit the rows"));
    }
    if stored.len() % 64 != 0 && dead.last().is_some_and(|w| w >> (stored.len() % 64) != 0) {
        return Err(damaged("the dead-row set names rows that are not there"));
    }
    let dead_rows = dead.iter().map(|w| w.count_ones() as usize).sum();
    let raw = rd.bytes(b"CODE")?;
    let mut codes = PhoneticCache::default();
    let mut at = 0;
    while at < raw.len() {
        let bad = || damaged("the phonetic codes do not read");
        let len = raw
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(bad)?;
        let word = raw.get(at + 2..at + 2 + len).ok_or_else(bad)?;
        let word = std::str::from_utf8(word).map_err(|_| bad())?.to_owned();
        let c = raw.get(at + 2 + len..at + 12 + len).ok_or_else(bad)?;
        let code = |b: &[u8]| Code::from_bytes([b[0], b[1], b[2], b[3], b[4]]).ok_or_else(bad);
        codes.insert(word, (code(&c[..5])?, code(&c[5..])?));
        at += 12 + len;
    }
    drop(raw);
    rd.bytes(b"END.")?;

    let fields = crate::index::record_fields();
    let shapes_fit = meta.params.len() == fields.len()
        && meta.tf.len() == fields.len()
        && meta.params.iter().zip(&fields).all(|((m, u), f)| {
            let n = f.kind.levels().len();
            m.len() == n && u.len() == n
        });
    if !shapes_fit {
        return Err(damaged("the model does not fit the record fields"));
    }
    let mut model = Model::untrained(fields.clone());
    model.params = meta
        .params
        .iter()
        .map(|(m, u)| Params {
            m: floats(m),
            u: floats(u),
        })
        .collect();
    model.prior = f64::from_bits(meta.prior);
    model.tf = meta
        .tf
        .into_iter()
        .map(|t| {
            t.map(|(v, unseen)| TermFrequencies {
                share: v.into_iter().map(|(k, x)| (k, f64::from_bits(x))).collect(),
                unseen: f64::from_bits(unseen),
            })
        })
        .collect();
    let log = meta.log;
    Ok((
        RecordIndex {
            fields,
            model,
            arena,
            tail,
            stored,
            blocks,
            ids,
            dead,
            dead_rows,
            added: meta.added,
            years: meta.years.0..=meta.years.1,
            threshold: f64::from_bits(meta.threshold),
            codes,
            id_counts: meta.id_counts,
            report: meta.report,
            position: meta.position,
        },
        log,
    ))
}
