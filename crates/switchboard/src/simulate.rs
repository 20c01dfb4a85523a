//! Simulated callers for the demo: officers (and a few strangers) phoning the center.
//!
//! Each simulated call arrives with a calling number, is identified against the registry the
//! way a real call is (`assess_caller`), is stored, and waits in queue. The center has no
//! agents or routing yet (the ACD comes later), so a waiting caller hangs up after their
//! patience runs out and the call is recorded as abandoned. Only the callers are simulated;
//! identification and storage are the real ones.

use std::sync::Arc;
use std::time::Duration;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_domain::{Call, CallState, E164, NewCall, assess_caller, stored_precision};
use switchboard_store::{Store, StoreError};
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct CallerSim {
    /// Numbers of registered officers; most calls come from these.
    pub known: Vec<E164>,
    pub calls_per_hour: f64,
    /// Mean time a caller waits before hanging up.
    pub mean_patience: Duration,
    pub seed: u64,
}

fn now() -> OffsetDateTime {
    stored_precision(OffsetDateTime::now_utc())
}

/// An exponentially distributed duration with the given mean (Poisson arrivals, patience).
fn exponential(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    mean.mul_f64(-u.ln())
}

impl CallerSim {
    /// Places calls until the task is dropped.
    pub async fn run(self, store: Arc<dyn Store>) {
        if self.calls_per_hour <= 0.0 {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let gap = Duration::from_secs_f64(3600.0 / self.calls_per_hour);
        loop {
            tokio::time::sleep(exponential(&mut rng, gap)).await;
            let roll = rng.random_range(0..100);
            let ani = if roll < 85 && !self.known.is_empty() {
                self.known.choose(&mut rng).expect("not empty").to_string()
            } else if roll < 95 {
                // DC numbers: no demo officer has one, and 555-0100..0199 is reserved for fiction.
                format!("+120255501{:02}", rng.random_range(0..100))
            } else {
                "anonymous".to_owned()
            };
            let patience = exponential(&mut rng, self.mean_patience);
            match arrive(store.as_ref(), &ani).await {
                Ok(call) => {
                    let store = store.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(patience).await;
                        abandon(store.as_ref(), call).await;
                    });
                }
                Err(e) => tracing::warn!(error = ?e, "simulated call could not be stored"),
            }
        }
    }
}

/// A call arrives: identify the caller, store the call, queue it.
async fn arrive(store: &dyn Store, ani_raw: &str) -> Result<Call, StoreError> {
    let officer = match E164::parse(ani_raw) {
        Ok(phone) => store.officer_by_phone(&phone).await?,
        Err(_) => None,
    };
    let verdict = match &officer {
        None => "unknown caller".to_owned(),
        Some(o) => {
            let agency = store.agency(o.agency_id).await?;
            let agreements = store.agreements_of(agency.id).await?;
            let a = assess_caller(Some((o, &agency, &agreements)), now().date());
            if a.authorised {
                format!("{} of {}, authorised", o.display_name(), agency.ori)
            } else {
                let codes: Vec<&str> = a.problems.iter().map(|p| p.code()).collect();
                format!(
                    "{} of {}, NOT authorised: {}",
                    o.display_name(),
                    agency.ori,
                    codes.join(", ")
                )
            }
        }
    };
    let mut call = Call::arrive(
        NewCall {
            ani_raw: ani_raw.to_owned(),
            officer_id: officer.map(|o| o.id),
        },
        now(),
    );
    store.insert_call(&call).await?;
    call.transition(CallState::Queued, now())
        .expect("a new call can queue");
    store.update_call(&call, CallState::Arriving).await?;
    metrics::counter!("switchboard_simulated_calls_total").increment(1);
    tracing::info!(call = %call.id, ani = ani_raw, "call arrived: {verdict}; queued");
    Ok(call)
}

/// The caller gives up waiting, unless something else has moved the call on.
async fn abandon(store: &dyn Store, mut call: Call) {
    if call.transition(CallState::Abandoned, now()).is_err() {
        return;
    }
    match store.update_call(&call, CallState::Queued).await {
        Ok(()) => tracing::info!(call = %call.id, "caller hung up while queued (no agents yet)"),
        Err(StoreError::Stale { .. }) => {}
        Err(e) => tracing::warn!(call = %call.id, error = ?e, "could not record abandonment"),
    }
}
