//! The record index behind lookups: built from the store's records when the server starts,
//! while the server already answers everything else, and swapped in whole when ready.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use switchboard_domain::records::SourceRecord;
use switchboard_matching::RecordIndex;
use switchboard_store::Store;

/// Where lookups find the index: empty until the first build finishes.
#[derive(Debug, Default)]
pub struct IndexSlot {
    index: RwLock<Option<Arc<RecordIndex>>>,
    state: RwLock<IndexState>,
}

/// What the slot is doing, as `/readyz` and the lookup errors report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IndexState {
    #[default]
    NotStarted,
    Loading {
        records: u64,
    },
    Ready {
        records: u64,
    },
    Failed(String),
}

impl IndexSlot {
    pub fn get(&self) -> Option<Arc<RecordIndex>> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn state(&self) -> IndexState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_state(&self, s: IndexState) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = s;
    }

    /// Installs a built index (tests, or a rebuild).
    pub fn install(&self, index: RecordIndex) {
        let records = index.len() as u64;
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(index));
        self.set_state(IndexState::Ready { records });
    }

    /// Builds the index from every record in the store, streaming pages to a builder thread
    /// so the records are never all in memory twice.
    pub async fn load(&self, store: Arc<dyn Store>, seed: u64) -> anyhow::Result<()> {
        const PAGE: u32 = 5_000;
        let started = Instant::now();
        self.set_state(IndexState::Loading { records: 0 });
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SourceRecord>>(4);
        let builder = tokio::task::spawn_blocking(move || {
            let records = std::iter::from_fn(move || rx.blocking_recv()).flatten();
            RecordIndex::build(records, seed)
        });
        let mut after = None;
        let mut loaded = 0u64;
        let outcome: anyhow::Result<()> = async {
            loop {
                let page = store.source_records(None, after, PAGE).await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(*last);
                loaded += page.len() as u64;
                self.set_state(IndexState::Loading { records: loaded });
                let done = page.len() < PAGE as usize;
                if tx
                    .send(page.into_iter().map(|(_, r)| r).collect())
                    .await
                    .is_err()
                {
                    anyhow::bail!("the index builder stopped early");
                }
                if done {
                    break;
                }
            }
            Ok(())
        }
        .await;
        drop(tx);
        // A failed read leaves the builder with part of the records: wait for it to stop, but
        // never install what it made.
        let built = builder
            .await
            .map_err(|e| anyhow::anyhow!("the index builder failed: {e}"));
        let index = match (outcome, built) {
            (Ok(()), Ok(index)) => index,
            (Err(e), _) | (_, Err(e)) => {
                self.set_state(IndexState::Failed(format!("{e:#}")));
                return Err(e);
            }
        };
        tracing::info!(
            records = index.len(),
            seconds = started.elapsed().as_secs_f64(),
            threshold = index.strong_threshold(),
            "record index ready"
        );
        self.install(index);
        Ok(())
    }
}
