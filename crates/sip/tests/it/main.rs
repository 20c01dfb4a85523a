//! The telephony end to end, with real SIP peers from Debian's packages (sipp, `sip-tester`;
//! baresip) on loopback: the real ACD host on a fresh SQLite database, the real SIP stack and
//! RTP. Every test ends by checking that no call, dialog or RTP port is left behind.

#![allow(missing_debug_implementations)]

mod baresip;
mod robust;
mod sipp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_acd::{
    AgentConfig, AgentId, Announcements, Config, Event, QueueConfig, QueueId, Requested, SkillId,
};
use switchboard_acd_host::AcdHost;
use switchboard_sip::{Cdr, Outcome, SipAccount, SipConfig, Telephony, cdr};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;

pub const INQUIRY: QueueId = QueueId(1);
pub const JUVENILE: QueueId = QueueId(2);
pub const PASSWORD: &str = "correct-horse-battery";

/// Two desks; ct01 and ct02 take the inquiry desk, ct03 the juvenile desk.
pub fn acd_config(ring_timeout: u64) -> Config {
    let mut inquiry = QueueConfig::new(INQUIRY, "inquiry desk", SkillId(1));
    inquiry.ring_timeout = ring_timeout;
    let mut juvenile = QueueConfig::new(JUVENILE, "juvenile liaison", SkillId(2));
    juvenile.ring_timeout = ring_timeout;
    let agent = |id: u64, skill: u64| AgentConfig {
        id: AgentId(id),
        name: format!("call-taker {id}"),
        skills: vec![(SkillId(skill), 5)],
        after_call_limit: 1_000,
        user: Some(format!("ct{id:02}")),
    };
    Config {
        queues: vec![inquiry, juvenile],
        agents: vec![agent(1, 1), agent(2, 1), agent(3, 2)],
        ..Config::default()
    }
}

pub struct Center {
    pub tel: Telephony,
    pub host: Arc<AcdHost>,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    ticker: tokio::task::JoinHandle<()>,
}

/// A free UDP port on loopback (for a peer that must be told its port).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Center {
    pub async fn start(acd: Config, configure: impl FnOnce(&mut SipConfig)) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("center.db"))
                .await
                .unwrap(),
        );
        let host = AcdHost::open(store.clone(), acd, switchboard_acd_host::system_clock())
            .await
            .unwrap();
        let ticker = tokio::spawn(host.clone().run_ticker());
        let mut cfg = SipConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            domain: "center.test".to_owned(),
            cdr_file: Some(dir.path().join("cdr.jsonl")),
            ringback_ms: 1_000,
            t1_ms: 50,
            accounts: (1..=3)
                .map(|i| SipAccount {
                    user: format!("ct{i:02}"),
                    password: Some(PASSWORD.to_owned()),
                    contact: None,
                })
                .collect(),
            ..SipConfig::default()
        };
        configure(&mut cfg);
        let tel = Telephony::start(cfg, host.clone()).await.unwrap();
        Self {
            tel,
            host,
            store,
            dir,
            ticker,
        }
    }

    pub fn port(&self) -> u16 {
        self.tel.local_addr().port()
    }

    pub async fn log_in(&self, agent: u64) {
        self.host
            .submit(Event::AgentStateChanged {
                agent: AgentId(agent),
                to: Requested::LogIn,
                forced: false,
            })
            .await
            .unwrap();
        // Longest idle is offered first: keep the order of logging in distinct.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    pub fn cdr_path(&self) -> PathBuf {
        self.dir.path().join("cdr.jsonl")
    }

    pub fn cdrs(&self) -> Vec<Cdr> {
        cdr::read(&self.cdr_path()).unwrap_or_default()
    }

    /// Waits until nothing is in use: no call, no dialog, no RTP port.
    pub async fn assert_released(&self) {
        let mut last = self.tel.stats();
        for _ in 0..200 {
            last = self.tel.stats();
            if last.calls == 0 && last.dialogs == 0 && last.media_legs == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("left behind after the test: {last:?}");
    }

    /// The ACD's view of the agents' states.
    pub async fn agent_state(&self, agent: u64) -> String {
        self.host
            .read(|acd, now| {
                acd.agent_status(now)
                    .into_iter()
                    .find(|a| a.agent == AgentId(agent))
                    .map(|a| a.state.name().to_owned())
                    .unwrap_or_default()
            })
            .await
    }

    pub async fn stop(self) {
        self.assert_released().await;
        self.tel.shutdown().await;
        self.ticker.abort();
    }
}

/// The outcomes of the CDRs of one side, in the order written.
pub fn outcomes(cdrs: &[Cdr], side: switchboard_sip::Side) -> Vec<Outcome> {
    cdrs.iter()
        .filter(|c| c.leg == side)
        .filter_map(|c| c.outcome)
        .collect()
}

pub fn announcements(every: u64) -> Option<Announcements> {
    Some(Announcements {
        first_after: every,
        every,
    })
}
