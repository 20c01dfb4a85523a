//! Simulated callers and call-takers for the demo.
//!
//! Callers (officers, and a few strangers) phone the center: each call is identified against
//! the registry, recorded and queued by the real ACD host, exactly as an API-injected call is.
//! Callers hang up when their patience runs out and accept half of the callbacks offered.
//! Simulated call-takers log in, answer what the ACD offers them after a few rings, talk, and
//! hang up. Only the people are simulated; routing, statistics and storage are the real ones.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_acd::{AgentId, CallId, Command, Event, Phase, QueueId, Requested};
use switchboard_acd_host::AcdHost;
use switchboard_domain::E164;
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub struct CallerSim {
    /// Numbers of registered officers; most calls come from these.
    pub known: Vec<E164>,
    pub calls_per_hour: f64,
    /// Mean time a caller waits before hanging up.
    pub mean_patience: Duration,
    /// Mean talk time of the simulated call-takers.
    pub mean_handle: Duration,
    pub seed: u64,
    /// Usernames whose agents people work: the simulation neither logs them in nor answers
    /// their calls.
    pub reserved: Vec<String>,
}

/// The inquiry desk and the juvenile-liaison desk of the default configuration.
const INQUIRY: QueueId = QueueId(1);
const JUVENILE: QueueId = QueueId(2);

/// An exponentially distributed duration with the given mean (Poisson arrivals, patience).
fn exponential(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    mean.mul_f64(-u.ln())
}

impl CallerSim {
    /// Logs the configured agents in and runs callers and call-takers until the task is dropped.
    pub async fn run(self, host: Arc<AcdHost>) {
        let rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(self.seed)));
        let reserved = self.reserved.clone();
        let agents: Vec<AgentId> = host
            .read(|acd, _| {
                acd.config()
                    .agents
                    .iter()
                    .filter(|a| a.user.as_ref().is_none_or(|u| !reserved.contains(u)))
                    .map(|a| a.id)
                    .collect()
            })
            .await;
        let queues: HashSet<QueueId> = host
            .read(|acd, _| acd.config().queues.iter().map(|q| q.id).collect())
            .await;
        for agent in &agents {
            let event = Event::AgentStateChanged {
                agent: *agent,
                to: Requested::LogIn,
                forced: false,
            };
            if let Err(e) = host.submit(event).await {
                tracing::warn!(agent = agent.0, error = %e, "simulated agent could not log in");
            }
        }
        let simulated: HashSet<AgentId> = agents.iter().copied().collect();
        let people = tokio::spawn(respond(
            host.clone(),
            rng.clone(),
            self.mean_handle,
            simulated,
        ));
        if self.calls_per_hour > 0.0 {
            let gap = Duration::from_secs_f64(3600.0 / self.calls_per_hour);
            loop {
                let (wait, ani, queue, patience) = {
                    let mut rng = rng.lock().await;
                    let wait = exponential(&mut rng, gap);
                    let roll = rng.random_range(0..100);
                    let ani = if roll < 85 && !self.known.is_empty() {
                        self.known.choose(&mut *rng).expect("not empty").to_string()
                    } else if roll < 95 {
                        // DC numbers: no demo officer has one; 555-0100..0199 is for fiction.
                        format!("+120255501{:02}", rng.random_range(0..100))
                    } else {
                        "anonymous".to_owned()
                    };
                    let queue = if rng.random_range(0..100) < 8 && queues.contains(&JUVENILE) {
                        JUVENILE
                    } else {
                        INQUIRY
                    };
                    (wait, ani, queue, exponential(&mut rng, self.mean_patience))
                };
                tokio::time::sleep(wait).await;
                match host.arrive(&ani, queue, 0).await {
                    Ok(a) => {
                        metrics::counter!("switchboard_simulated_calls_total").increment(1);
                        tracing::info!(call = a.call.0, ani, "simulated call arrived");
                        let host = host.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(patience).await;
                            give_up(&host, a.call).await;
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "simulated call could not be placed"),
                }
            }
        }
        let _ = people.await;
    }
}

/// The caller hangs up if still waiting on the line.
async fn give_up(host: &AcdHost, call: CallId) {
    let waiting = host
        .read(|acd, _| {
            acd.call(call)
                .is_some_and(|c| c.phase == Phase::Waiting && !c.callback)
        })
        .await;
    if waiting {
        let _ = host.submit(Event::CallerHungUp { call }).await;
    }
}

/// Simulated people reacting to the ACD: call-takers answer offers after a few rings and hang
/// up after talking; callers take half the callbacks offered.
async fn respond(
    host: Arc<AcdHost>,
    rng: Arc<Mutex<ChaCha8Rng>>,
    mean_handle: Duration,
    simulated: HashSet<AgentId>,
) {
    let mut feed = host.subscribe();
    loop {
        let item = match feed.recv().await {
            Ok(item) => item,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        for c in &item.commands {
            match c {
                Command::OfferCall { call, agent, .. } if simulated.contains(agent) => {
                    let (ring, talk) = {
                        let mut rng = rng.lock().await;
                        (
                            Duration::from_millis(rng.random_range(1_500..6_000)),
                            exponential(&mut rng, mean_handle),
                        )
                    };
                    let (host, call, agent) = (host.clone(), *call, *agent);
                    tokio::spawn(async move {
                        tokio::time::sleep(ring).await;
                        let answered = host
                            .submit(Event::AgentAnswered { agent, call })
                            .await
                            .is_ok();
                        if answered {
                            tokio::time::sleep(talk).await;
                            let _ = host.submit(Event::CallEnded { call }).await;
                        }
                    });
                }
                Command::OfferCallback { call, .. } => {
                    let accept = rng.lock().await.random_bool(0.5);
                    if accept {
                        let _ = host.submit(Event::CallbackRequested { call: *call }).await;
                    }
                }
                _ => {}
            }
        }
    }
}
