//! The audit log at work.
//!
//! [`AuditLog`] owns the only writer of the store's audit log: actions hand it entries, one
//! task gathers every entry waiting into one durable commit (so a thousand concurrent actions
//! cost a handful of fsyncs, not a thousand), assigns their sequence numbers, and answers each
//! action only once its entry is on disk. A write that fails is answered with an error and
//! advances nothing: the action must then fail. The Merkle leaves are kept in memory for
//! proofs; checkpoints are signed every so many entries or seconds and at shutdown.
//!
//! [`verify_store`] checks a stored log end to end, and [`prove`] produces and checks an
//! inclusion proof, both for `switchboard audit verify|prove` and the auditor's page.
//!
//! It must never let an entry be acknowledged before it is durable, nor rewrite one.

#![forbid(unsafe_code)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchboard_audit::merkle::{self, Hash};
use switchboard_audit::{
    Accumulator, Checkpoint, Entry, Inconsistency, Verified, Verifier, leaf_hash, public_key,
};
use switchboard_store::{AuditRow, CheckpointRow, NewAuditRow, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

pub use switchboard_audit::VerifyingKey;

/// Milliseconds since the Unix epoch, from the edge.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the log signs and batches.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The log's name, signed into every checkpoint.
    pub origin: String,
    /// The Ed25519 signing key's seed.
    pub seed: [u8; 32],
    /// Sign a checkpoint once this many entries are unsigned.
    pub checkpoint_every: u64,
    /// ... or once the oldest unsigned entry is this old.
    pub checkpoint_interval: Duration,
    /// The most entries in one commit.
    pub max_batch: usize,
}

impl AuditConfig {
    pub fn new(origin: impl Into<String>, seed: [u8; 32]) -> Self {
        Self {
            origin: origin.into(),
            seed,
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 4_096,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The entry could not be made durable; the action must fail.
    #[error("the audit log could not be written")]
    Write(#[source] StoreError),
    #[error("the audit log could not be read")]
    Read(#[source] StoreError),
    /// The writer has stopped (shutdown, or it found the log inconsistent).
    #[error("the audit log is closed")]
    Closed,
    /// The stored log does not match its own signed checkpoints.
    #[error("the stored audit log is inconsistent: {0}")]
    Inconsistent(String),
    #[error("{0}")]
    BadRequest(String),
}

/// An inclusion proof of one entry in the tree of the first `tree_size` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub seq: u64,
    pub tree_size: u64,
    pub leaf: Hash,
    pub path: Vec<Hash>,
    pub root: Hash,
}

impl InclusionProof {
    pub fn verify(&self) -> bool {
        merkle::verify_inclusion(
            &self.leaf,
            self.seq - 1,
            self.tree_size,
            &self.path,
            &self.root,
        )
    }
}

/// A consistency proof between the trees of the first `from` and `to` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: Hash,
    pub to_root: Hash,
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    pub fn verify(&self) -> bool {
        merkle::verify_consistency(
            self.from,
            self.to,
            &self.path,
            &self.from_root,
            &self.to_root,
        )
    }
}

struct Shared {
    /// Every leaf hash, in order: leaf `i` is entry `seq = i + 1`.
    leaves: Vec<Hash>,
    checkpoints: Vec<Checkpoint>,
}

/// Who waits for an append: told the entries' `seq`s once durable, or why not.
type AppendReply = oneshot::Sender<Result<Vec<u64>, AuditError>>;

/// What an appended entry does to the actions still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Plain,
    /// It begins an action whose end is not yet known.
    Opens,
    /// It ends the action entry `seq` began.
    Closes(u64),
}

enum Request {
    Append(Vec<(Entry, Mark)>, AppendReply),
    /// The action entry `seq` began was carried out: its mark goes, no entry is written.
    Close(u64),
    Checkpoint(oneshot::Sender<Result<Option<Checkpoint>, AuditError>>),
}

/// The note of a "failed" entry written for an action a stop of the server cut off.
pub const CUT_OFF_BY_STOP: &str = "cut off by a stop of the server before its end was recorded";
/// The note of a "failed" entry written for an action whose request was abandoned.
pub const CUT_OFF_BY_CLIENT: &str = "cut off before its end: the request was abandoned (the client left, or the server is stopping)";

/// An audited action begun ([`AuditLog::begin`]) whose end is not yet recorded. End it with
/// [`OpenAction::done`] or [`OpenAction::failed`]; dropped without either (the request's
/// future was dropped), it writes its "failed" entry itself. One a crash leaves open gets its
/// "failed" entry when the log is next opened.
#[must_use = "an open action is ended with done() or failed()"]
pub struct OpenAction {
    log: AuditLog,
    seq: u64,
    entry: Entry,
    ended: bool,
}

impl std::fmt::Debug for OpenAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAction")
            .field("seq", &self.seq)
            .field("action", &self.entry.action)
            .finish_non_exhaustive()
    }
}

impl OpenAction {
    /// The `seq` of the entry that began it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The action was carried out: its open mark goes. Nothing waits for that write; if it
    /// is lost, the next start says the action's end was not recorded.
    pub fn done(mut self) {
        self.ended = true;
        let _ = self.log.tx.try_send(Request::Close(self.seq));
    }

    /// The action failed: appends `entry` (its "failed" entry), which ends it in the same
    /// commit; returns the entry's `seq` once durable.
    pub async fn failed(mut self, entry: Entry) -> Result<u64, AuditError> {
        self.ended = true;
        let seq = self.seq;
        Ok(self
            .log
            .append_marked(vec![(entry, Mark::Closes(seq))])
            .await?[0])
    }
}

impl Drop for OpenAction {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let entry = cut_off(&self.entry, self.seq, (self.log.clock)(), CUT_OFF_BY_CLIENT);
        let (reply, _) = oneshot::channel();
        // Not awaited (a drop cannot wait); if the writer's queue is full the mark stays and
        // the next start writes the entry instead.
        let _ = self.log.tx.try_send(Request::Append(
            vec![(entry, Mark::Closes(self.seq))],
            reply,
        ));
    }
}

/// The entry beginning an action, being written.
struct Beginning {
    answer: Option<oneshot::Receiver<Result<Vec<u64>, AuditError>>>,
    log: AuditLog,
    entry: Entry,
}

impl Drop for Beginning {
    fn drop(&mut self) {
        let Some(answer) = self.answer.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (log, entry) = (self.log.clone(), std::mem::take(&mut self.entry));
        runtime.spawn(async move {
            if let Ok(Ok(seqs)) = answer.await {
                // Dropped unended: writes its "failed" entry.
                drop(OpenAction {
                    log,
                    seq: seqs[0],
                    entry,
                    ended: false,
                });
            }
        });
    }
}

/// The "failed" entry of an action entry `seq` began and something cut off.
fn cut_off(began: &Entry, seq: u64, at_ms: i64, why: &str) -> Entry {
    let mut e = began.clone();
    e.seq = 0;
    e.at_ms = at_ms;
    e.outcome = switchboard_audit::Outcome::Failed;
    e.note = Some(format!(
        "{why} (entry {seq}); whether the change was made is not known"
    ));
    e
}

/// The audit log: cheap to clone, one writer behind it.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Request>,
    store: Arc<dyn Store>,
    clock: Clock,
    shared: Arc<RwLock<Shared>>,
    origin: Arc<str>,
    key: VerifyingKey,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("origin", &self.origin)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

/// Pages through the stored leaf hashes.
async fn load_leaves(store: &dyn Store) -> Result<Vec<Hash>, AuditError> {
    let mut leaves = Vec::new();
    loop {
        let page = store
            .audit_leaf_hashes(
                leaves.len() as i64,
                switchboard_store::AUDIT_HASHES_MAX_LIMIT,
            )
            .await
            .map_err(AuditError::Read)?;
        if page.is_empty() {
            return Ok(leaves);
        }
        for (seq, h) in page {
            let expected = leaves.len() as i64 + 1;
            if seq != expected {
                return Err(AuditError::Inconsistent(format!(
                    "entry {expected} is missing (the next stored is {seq})"
                )));
            }
            let h: Hash = h.try_into().map_err(|_| {
                AuditError::Inconsistent(format!("entry {seq}'s leaf hash is not 32 bytes"))
            })?;
            leaves.push(h);
        }
    }
}

fn checkpoint_from_row(r: &CheckpointRow) -> Result<Checkpoint, String> {
    let root: Hash = r.root.clone().try_into().map_err(|_| {
        format!(
            "checkpoint of size {} has a root that is not 32 bytes",
            r.size
        )
    })?;
    let signature: [u8; 64] = r.signature.clone().try_into().map_err(|_| {
        format!(
            "checkpoint of size {} has a signature that is not 64 bytes",
            r.size
        )
    })?;
    Ok(Checkpoint {
        origin: r.origin.clone(),
        size: u64::try_from(r.size).map_err(|_| format!("checkpoint size {} < 0", r.size))?,
        root,
        at_ms: u64::try_from(r.at_ms).unwrap_or(0),
        signature,
    })
}

async fn load_checkpoints(store: &dyn Store) -> Result<Vec<Checkpoint>, AuditError> {
    store
        .audit_checkpoints()
        .await
        .map_err(AuditError::Read)?
        .iter()
        .map(|r| checkpoint_from_row(r).map_err(AuditError::Inconsistent))
        .collect()
}

impl AuditLog {
    /// Loads the stored log's leaves and checkpoints, checks that the newest checkpoint still
    /// signs the stored leaves (a log changed behind the server's back is refused), and starts
    /// the writer.
    pub async fn open(
        store: Arc<dyn Store>,
        config: AuditConfig,
        clock: Clock,
    ) -> Result<Self, AuditError> {
        let leaves = load_leaves(store.as_ref()).await?;
        let checkpoints = load_checkpoints(store.as_ref()).await?;
        let key = public_key(&config.seed);
        if let Some(last) = checkpoints.last() {
            if !last.verify(&key) || last.origin != config.origin {
                return Err(AuditError::Inconsistent(format!(
                    "the newest checkpoint (size {}) is not signed by this log's key for {:?}",
                    last.size, config.origin
                )));
            }
            let size = last.size as usize;
            if size > leaves.len() || merkle::root(&leaves[..size]) != last.root {
                return Err(AuditError::Inconsistent(format!(
                    "the stored entries do not hash to the root the newest checkpoint (size {size}) signed; run `switchboard audit verify`"
                )));
            }
        }
        let mut acc = Accumulator::default();
        for l in &leaves {
            acc.push(*l);
        }
        let shared = Arc::new(RwLock::new(Shared {
            leaves,
            checkpoints,
        }));
        let (tx, rx) = mpsc::channel(16_384);
        let origin: Arc<str> = config.origin.clone().into();
        let writer = Writer {
            store: store.clone(),
            config,
            clock: clock.clone(),
            shared: shared.clone(),
            acc,
            unsigned_since_ms: None,
            closes: Vec::new(),
        };
        tokio::spawn(writer.run(rx));
        let log = Self {
            tx,
            store,
            clock,
            shared,
            origin,
            key,
        };
        // Entries a crash left unsigned are signed now, not whenever the next checkpoint
        // falls due.
        if let Err(e) = log.checkpoint().await {
            tracing::error!(error = %e, "could not sign the unsigned tail of the audit log at start");
        }
        Ok(log)
    }

    /// Writes the "failed" entry of every action a stop of the server left open (begun, its
    /// end never recorded), each ending its action in the same commit; how many. Only the
    /// server calls it, as it starts: a command run beside a running server opens the same
    /// log, and the server's actions in flight are not cut off.
    pub async fn fail_cut_off_actions(&self) -> Result<usize, AuditError> {
        let mut failed = 0usize;
        loop {
            let open = self
                .store
                .open_audit_actions(1_000)
                .await
                .map_err(AuditError::Read)?;
            if open.is_empty() {
                break;
            }
            let now = (self.clock)();
            let entries = open
                .iter()
                .map(|row| {
                    let seq = row.seq as u64;
                    let began = Entry::from_bytes(row.entry.as_bytes()).unwrap_or_else(|_| {
                        Entry::new(
                            row.action.clone(),
                            switchboard_audit::Actor {
                                username: row.actor.clone(),
                                ..Default::default()
                            },
                            row.at_ms,
                        )
                    });
                    (
                        cut_off(&began, seq, now, CUT_OFF_BY_STOP),
                        Mark::Closes(seq),
                    )
                })
                .collect::<Vec<_>>();
            failed += entries.len();
            self.append_marked(entries).await?;
        }
        if failed > 0 {
            tracing::warn!(
                actions = failed,
                "actions cut off by the last stop of the server are recorded as failed in the audit log"
            );
        }
        Ok(failed)
    }

    /// Appends one entry; returns its `seq` once it is durable.
    pub async fn append(&self, entry: Entry) -> Result<u64, AuditError> {
        Ok(self.append_all(vec![entry]).await?[0])
    }

    /// Appends the entry that begins an action whose end is not yet known (a change about to
    /// be made): durable and marked open in one commit. The action is then ended with the
    /// [`OpenAction`].
    pub async fn begin(&self, entry: Entry) -> Result<OpenAction, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Append(vec![(entry.clone(), Mark::Opens)], reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        // If this future is dropped while the entry is being written (the request abandoned),
        // the action it opens is ended as cut off once the entry is durable.
        let mut pending = Beginning {
            answer: Some(answer),
            log: self.clone(),
            entry,
        };
        let answer = pending.answer.as_mut().expect("set above");
        let written = answer.await;
        pending.answer = None;
        let seq = written.map_err(|_| AuditError::Closed)??[0];
        Ok(OpenAction {
            log: self.clone(),
            seq,
            entry: std::mem::take(&mut pending.entry),
            ended: false,
        })
    }

    /// Appends entries, all in one commit, in order; returns their `seq`s once durable.
    pub async fn append_all(&self, entries: Vec<Entry>) -> Result<Vec<u64>, AuditError> {
        self.append_marked(entries.into_iter().map(|e| (e, Mark::Plain)).collect())
            .await
    }

    async fn append_marked(&self, entries: Vec<(Entry, Mark)>) -> Result<Vec<u64>, AuditError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Append(entries, reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Signs a checkpoint now if any entry is unsigned; the newest checkpoint.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Checkpoint(reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the writer still takes entries.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key
    }

    /// Entries durable so far.
    pub fn size(&self) -> u64 {
        self.shared.read().expect("audit state").leaves.len() as u64
    }

    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.shared.read().expect("audit state").checkpoints.clone()
    }

    /// The proof that entry `seq` is in the tree of the first `tree_size` entries (the
    /// newest checkpoint's size when `None`).
    pub fn inclusion_proof(
        &self,
        seq: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, AuditError> {
        let s = self.shared.read().expect("audit state");
        let size = match tree_size {
            Some(n) => n,
            None => s.checkpoints.last().map_or(0, |c| c.size),
        };
        inclusion(&s.leaves, seq, size)
    }

    /// The proof that the tree of `to` entries extends the tree of `from` entries.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, AuditError> {
        let s = self.shared.read().expect("audit state");
        consistency(&s.leaves, from, to)
    }
}

fn inclusion(leaves: &[Hash], seq: u64, size: u64) -> Result<InclusionProof, AuditError> {
    if size as usize > leaves.len() {
        return Err(AuditError::BadRequest(format!(
            "the log holds {} entries, not {size}",
            leaves.len()
        )));
    }
    if seq == 0 || seq > size {
        return Err(AuditError::BadRequest(format!(
            "entry {seq} is not in a tree of {size} entries (sign a checkpoint first, or name a larger tree)"
        )));
    }
    let tree = &leaves[..size as usize];
    let path = merkle::inclusion_path(tree, (seq - 1) as usize).expect("seq is in range");
    Ok(InclusionProof {
        seq,
        tree_size: size,
        leaf: tree[(seq - 1) as usize],
        path,
        root: merkle::root(tree),
    })
}

fn consistency(leaves: &[Hash], from: u64, to: u64) -> Result<ConsistencyProof, AuditError> {
    if from == 0 || from > to || to as usize > leaves.len() {
        return Err(AuditError::BadRequest(format!(
            "a consistency proof needs 0 < from ≤ to ≤ {} (the log's size)",
            leaves.len()
        )));
    }
    let tree = &leaves[..to as usize];
    Ok(ConsistencyProof {
        from,
        to,
        from_root: merkle::root(&tree[..from as usize]),
        to_root: merkle::root(tree),
        path: merkle::consistency_proof(tree, from as usize).expect("from is in range"),
    })
}

struct Writer {
    store: Arc<dyn Store>,
    config: AuditConfig,
    clock: Clock,
    shared: Arc<RwLock<Shared>>,
    acc: Accumulator,
    /// When the oldest unsigned entry was written.
    unsigned_since_ms: Option<i64>,
    /// Actions carried out whose open marks are still to be removed: with the next append's
    /// commit, or on their own when nothing is appended.
    closes: Vec<i64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        loop {
            let wait = self.config.checkpoint_interval;
            let first = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => {
                    self.sign_if_due(true).await.ok();
                    continue;
                }
            };
            let mut appends = Vec::new();
            let mut checkpoints = Vec::new();
            let mut count = 0;
            let mut next = Some(first);
            while let Some(r) = next.take() {
                match r {
                    Request::Append(entries, reply) => {
                        count += entries.len();
                        appends.push((entries, reply));
                    }
                    Request::Close(seq) => self.closes.push(seq as i64),
                    Request::Checkpoint(reply) => checkpoints.push(reply),
                }
                if count < self.config.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if appends.is_empty() {
                self.close_marks().await;
            } else {
                self.write(appends).await;
            }
            let due = self.sign_if_due(!checkpoints.is_empty()).await;
            for reply in checkpoints {
                let answer = match &due {
                    Ok(()) => Ok(self
                        .shared
                        .read()
                        .expect("audit state")
                        .checkpoints
                        .last()
                        .cloned()),
                    Err(e) => Err(AuditError::Write(StoreError::Backend(e.to_string().into()))),
                };
                let _ = reply.send(answer);
            }
        }
        // Shutdown: sign what is unsigned, so the whole log is covered by a checkpoint. The
        // storage may be failing just then: a few tries, then say plainly what is left.
        self.close_marks().await;
        for attempt in 0..3 {
            match self.sign_if_due(true).await {
                Ok(()) => return,
                Err(e) if attempt < 2 => {
                    tracing::warn!(error = %e, attempt, "the final audit checkpoint is not signed yet; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        unsigned = self.acc.size() - self.signed_size(),
                        "stopping with audit entries no signed checkpoint covers; they are signed when the log is next opened"
                    );
                }
            }
        }
    }

    /// Removes the open marks of actions carried out; on a failure they are kept for the
    /// next try.
    async fn close_marks(&mut self) {
        if self.closes.is_empty() {
            return;
        }
        match self.store.close_audit_actions(&self.closes).await {
            Ok(()) => self.closes.clear(),
            Err(e) => {
                tracing::warn!(error = %e, actions = self.closes.len(), "open audit actions not closed yet; trying again with the next write");
                // Bounded: a store failing for long keeps the newest marks only; the others
                // are reported as cut off at the next start.
                if self.closes.len() > 100_000 {
                    let excess = self.closes.len() - 100_000;
                    self.closes.drain(..excess);
                }
            }
        }
    }

    /// Writes every entry of `appends` in one commit and answers each sender. When the commit
    /// fails because another process appended to the log meanwhile (a command run on the
    /// server's machine), the writer takes those entries in and tries once more, numbered
    /// after them, so the server goes on without a restart.
    async fn write(&mut self, appends: Vec<(Vec<(Entry, Mark)>, AppendReply)>) {
        let mut caught_up = false;
        loop {
            let start = self.acc.size();
            let count: usize = appends.iter().map(|(e, _)| e.len()).sum();
            let mut rows = Vec::with_capacity(count);
            let mut hashes = Vec::with_capacity(count);
            let mut seqs = Vec::with_capacity(appends.len());
            for (entries, _) in &appends {
                let first = start + rows.len() as u64 + 1;
                for (e, mark) in entries {
                    let mut e = e.clone();
                    let seq = start + rows.len() as u64 + 1;
                    e.seq = seq;
                    let bytes = e.to_bytes();
                    let h = leaf_hash(&bytes);
                    hashes.push(h);
                    let subjects = e.subject_keys();
                    rows.push(NewAuditRow {
                        subjects,
                        opens: *mark == Mark::Opens,
                        closes: match mark {
                            Mark::Closes(seq) => vec![*seq as i64],
                            _ => Vec::new(),
                        },
                        row: AuditRow {
                            seq: seq as i64,
                            at_ms: e.at_ms,
                            action: e.action,
                            actor: e.actor.username,
                            entry: String::from_utf8(bytes).expect("JSON is UTF-8"),
                            leaf_hash: h.to_vec(),
                        },
                    });
                }
                let last = start + rows.len() as u64;
                seqs.push((first..=last).collect::<Vec<u64>>());
            }
            // Marks of actions carried out go in the same commit (no write of their own).
            let closes = self.closes.len();
            rows[0].closes.extend_from_slice(&self.closes);
            match self.store.append_audit(&rows).await {
                Ok(()) => {
                    self.closes.drain(..closes);
                    {
                        let mut s = self.shared.write().expect("audit state");
                        for h in &hashes {
                            self.acc.push(*h);
                            s.leaves.push(*h);
                        }
                    }
                    self.unsigned_since_ms.get_or_insert((self.clock)());
                    for ((_, reply), seqs) in appends.into_iter().zip(seqs) {
                        let _ = reply.send(Ok(seqs));
                    }
                    return;
                }
                Err(e) => {
                    if !caught_up {
                        caught_up = true;
                        // A command may be between its append and its checkpoint: a few tries.
                        let mut taken = 0;
                        for attempt in 0..5 {
                            match self.take_in_foreign_entries().await {
                                Ok(n) => {
                                    taken = n;
                                    break;
                                }
                                Err(why) => {
                                    tracing::warn!(error = %why, attempt, "entries another process appended are not taken in (yet)");
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                            }
                        }
                        if taken > 0 {
                            tracing::warn!(
                                entries = taken,
                                "another process appended to the audit log; taken in, writing again after them"
                            );
                            continue;
                        }
                    }
                    tracing::error!(error = %e, entries = rows.len(), "audit write failed; the actions fail");
                    let text = e.to_string();
                    for (_, reply) in appends {
                        let _ = reply.send(Err(AuditError::Write(StoreError::Backend(
                            text.clone().into(),
                        ))));
                    }
                    return;
                }
            }
        }
    }

    /// Reads the entries stored after the ones this writer knows, written by another process
    /// with the same key (a command on the server's machine), and takes them in only if they
    /// are sound: each entry's text hashes to its stored leaf, and a checkpoint signed with
    /// this log's key covers exactly the log they make, with its root. Anything else (rows put
    /// in the database by hand, a command that has not signed yet) is refused: the write fails
    /// as before, and the next one looks again. How many entries were taken in.
    async fn take_in_foreign_entries(&mut self) -> Result<usize, AuditError> {
        let mut leaves: Vec<Hash> = Vec::new();
        let known = self.acc.size();
        loop {
            let from = (known + leaves.len() as u64) as i64;
            let page = self
                .store
                .audit_after(from, 1_000)
                .await
                .map_err(AuditError::Read)?;
            if page.is_empty() {
                break;
            }
            for row in page {
                let expected = known as i64 + leaves.len() as i64 + 1;
                if row.seq != expected {
                    return Err(AuditError::Inconsistent(format!(
                        "entry {expected} is missing (the next stored is {})",
                        row.seq
                    )));
                }
                let h = leaf_hash(row.entry.as_bytes());
                if row.leaf_hash != h.to_vec() {
                    return Err(AuditError::Inconsistent(format!(
                        "entry {}'s text does not hash to its stored leaf",
                        row.seq
                    )));
                }
                leaves.push(h);
            }
            if leaves.len() > 100_000 {
                return Err(AuditError::Inconsistent(
                    "more than 100,000 entries appeared behind the writer's back".to_owned(),
                ));
            }
        }
        if leaves.is_empty() {
            return Ok(0);
        }
        let size = known + leaves.len() as u64;
        let checkpoints = load_checkpoints(self.store.as_ref()).await?;
        let key = public_key(&self.config.seed);
        let all: Vec<Hash> = {
            let s = self.shared.read().expect("audit state");
            s.leaves.iter().chain(leaves.iter()).copied().collect()
        };
        let covered = checkpoints.last().is_some_and(|c| {
            c.size == size
                && c.origin == self.config.origin
                && c.verify(&key)
                && c.root == merkle::root(&all)
        });
        if !covered {
            return Err(AuditError::Inconsistent(format!(
                "{} entries appeared behind the writer's back without a checkpoint of this log's key covering them",
                leaves.len()
            )));
        }
        {
            let mut s = self.shared.write().expect("audit state");
            for h in &leaves {
                self.acc.push(*h);
                s.leaves.push(*h);
            }
            s.checkpoints = checkpoints;
        }
        self.unsigned_since_ms = None;
        Ok(leaves.len())
    }

    /// The size the newest checkpoint signs.
    fn signed_size(&self) -> u64 {
        self.shared
            .read()
            .expect("audit state")
            .checkpoints
            .last()
            .map_or(0, |c| c.size)
    }

    /// Signs and stores a checkpoint when entries are unsigned and one is due (or `force`).
    async fn sign_if_due(&mut self, force: bool) -> Result<(), StoreError> {
        let size = self.acc.size();
        let signed = self.signed_size();
        if size == signed {
            return Ok(());
        }
        let now = (self.clock)();
        let old = self
            .unsigned_since_ms
            .is_some_and(|t| now - t >= self.config.checkpoint_interval.as_millis() as i64);
        if !(force || old || size - signed >= self.config.checkpoint_every) {
            return Ok(());
        }
        let cp = Checkpoint::sign(
            &self.config.origin,
            size,
            self.acc.root(),
            u64::try_from(now).unwrap_or(0),
            &self.config.seed,
        );
        let row = CheckpointRow {
            size: size as i64,
            at_ms: now,
            origin: cp.origin.clone(),
            root: cp.root.to_vec(),
            signature: cp.signature.to_vec(),
        };
        match self.store.put_audit_checkpoint(&row).await {
            Ok(()) => {
                self.shared
                    .write()
                    .expect("audit state")
                    .checkpoints
                    .push(cp);
                self.unsigned_since_ms = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, size, "could not store an audit checkpoint; will retry");
                Err(e)
            }
        }
    }
}

/// The first thing wrong with a stored log, precisely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("entry {expected} is missing: the next stored entry is {found}")]
    Missing { expected: u64, found: u64 },
    #[error("entry {seq} does not parse as an audit entry: {message}")]
    Unreadable { seq: u64, message: String },
    #[error("entry {seq} says it is entry {says}: entries were reordered or renumbered")]
    Renumbered { seq: u64, says: u64 },
    #[error("entry {seq}'s stored leaf hash does not match its bytes: the entry was changed")]
    LeafMismatch { seq: u64 },
    #[error("checkpoint of size {size} is unreadable: {message}")]
    BadCheckpoint { size: i64, message: String },
    #[error(transparent)]
    Merkle(#[from] Inconsistency),
}

/// What [`verify_store`] found.
#[derive(Debug)]
pub enum Verification {
    Good(Verified),
    Bad(VerifyError),
}

/// Checks a stored log end to end: the entries are numbered 1, 2, 3… with no gap, each parses
/// and names its own position, each stored leaf hash matches the entry's bytes, every
/// checkpoint's signature holds with `key` for `origin`, every checkpoint's root matches the
/// entries it signs, and the checkpoints extend one another. The first failure is returned.
pub async fn verify_store(
    store: &dyn Store,
    origin: &str,
    key: &VerifyingKey,
) -> Result<Verification, AuditError> {
    let rows = store.audit_checkpoints().await.map_err(AuditError::Read)?;
    let mut checkpoints = Vec::with_capacity(rows.len());
    for r in &rows {
        match checkpoint_from_row(r) {
            Ok(c) => checkpoints.push(c),
            Err(message) => {
                return Ok(Verification::Bad(VerifyError::BadCheckpoint {
                    size: r.size,
                    message,
                }));
            }
        }
    }
    let mut v = match Verifier::new(origin, key, &checkpoints) {
        Ok(v) => v,
        Err(e) => return Ok(Verification::Bad(e.into())),
    };
    // The next page is read while this one is hashed and checked.
    let fetch = |after: i64| async move {
        store
            .audit_after(after, switchboard_store::AUDIT_MAX_LIMIT)
            .await
            .map_err(AuditError::Read)
    };
    let mut page = fetch(0).await?;
    while !page.is_empty() {
        let after = page.last().map_or(0, |r| r.seq);
        let from = v.size() + 1;
        let work = tokio::task::spawn_blocking(move || check_page(&page, from));
        let (checked, next) = tokio::join!(work, fetch(after));
        let checked = checked
            .map_err(|e| AuditError::Inconsistent(format!("the verifier's task failed: {e}")))?;
        match checked {
            Ok(leaves) => {
                for leaf in leaves {
                    if let Err(e) = v.push_leaf(leaf) {
                        return Ok(Verification::Bad(e.into()));
                    }
                }
            }
            Err(bad) => return Ok(Verification::Bad(bad)),
        }
        page = next?;
    }
    Ok(match v.finish() {
        Ok(done) => Verification::Good(done),
        Err(e) => Verification::Bad(e.into()),
    })
}

/// Checks a page of rows that should hold entries `from`, `from + 1`, …; their leaf hashes.
fn check_page(page: &[AuditRow], from: u64) -> Result<Vec<Hash>, VerifyError> {
    page.iter()
        .enumerate()
        .map(|(i, row)| check_row(row, from + i as u64))
        .collect()
}

/// The number an entry written by [`Entry::to_bytes`] gives itself, read from its first field
/// (`{"seq":N,`) without parsing the rest; `None` for any other shape (then it is parsed).
fn leading_seq(bytes: &[u8]) -> Option<u64> {
    let rest = bytes.strip_prefix(br#"{"seq":"#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || rest.get(digits) != Some(&b',') {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// The checks of one stored row beyond the Merkle tree's; its leaf hash.
fn check_row(row: &AuditRow, expected: u64) -> Result<Hash, VerifyError> {
    /// Only the number an entry gives itself (the rest is skipped, not built).
    #[derive(serde::Deserialize)]
    struct Numbered {
        seq: u64,
    }
    let seq = row.seq as u64;
    if seq != expected {
        return Err(VerifyError::Missing {
            expected,
            found: seq,
        });
    }
    let says = match leading_seq(row.entry.as_bytes()) {
        Some(n) => n,
        None => {
            serde_json::from_slice::<Numbered>(row.entry.as_bytes())
                .map_err(|e| VerifyError::Unreadable {
                    seq,
                    message: e.to_string(),
                })?
                .seq
        }
    };
    if says != seq {
        return Err(VerifyError::Renumbered { seq, says });
    }
    let leaf = leaf_hash(row.entry.as_bytes());
    if row.leaf_hash != leaf {
        return Err(VerifyError::LeafMismatch { seq });
    }
    Ok(leaf)
}

/// Produces the inclusion proof of entry `seq` from the stored log, against the newest stored
/// checkpoint that covers it, and checks it: the leaf is hashed from the entry's own bytes and
/// the root is the one the checkpoint signed (whose signature is checked with `key`).
pub async fn prove(
    store: &dyn Store,
    origin: &str,
    key: &VerifyingKey,
    seq: u64,
) -> Result<(Entry, Checkpoint, InclusionProof, bool), AuditError> {
    let checkpoints = load_checkpoints(store).await?;
    let Some(cp) = checkpoints.iter().rev().find(|c| c.size >= seq).cloned() else {
        return Err(AuditError::BadRequest(format!(
            "no signed checkpoint covers entry {seq} yet"
        )));
    };
    let row = store
        .audit_after(seq as i64 - 1, 1)
        .await
        .map_err(AuditError::Read)?
        .into_iter()
        .next()
        .filter(|r| r.seq as u64 == seq)
        .ok_or_else(|| AuditError::BadRequest(format!("the log holds no entry {seq}")))?;
    let entry = Entry::from_bytes(row.entry.as_bytes())
        .map_err(|e| AuditError::Inconsistent(format!("entry {seq} does not parse: {e}")))?;
    let leaves = load_leaves(store).await?;
    let mut proof = inclusion(&leaves, seq, cp.size)?;
    // The proof must hold for the entry as it reads now, against the root that was signed.
    proof.leaf = leaf_hash(row.entry.as_bytes());
    proof.root = cp.root;
    let good = cp.origin == origin && cp.verify(key) && proof.verify();
    Ok((entry, cp, proof, good))
}

/// Lowercase hex, for printing proofs.
pub use switchboard_audit::to_hex as hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_seq_is_read_only_from_the_shape_entries_are_written_in() {
        let e = Entry::new("logon", switchboard_audit::Actor::default(), 5);
        let mut numbered = e.clone();
        numbered.seq = 42;
        assert_eq!(leading_seq(&numbered.to_bytes()), Some(42));
        for other in [
            &br#"{"seq":,"#[..],
            br#"{"seq":12"#,
            br#"{ "seq":12,"#,
            br#"{"seq":-1,"#,
            br#"{"seq":99999999999999999999,"#,
            b"[]",
        ] {
            assert_eq!(
                leading_seq(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
