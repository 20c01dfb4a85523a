//! sipp as callers and as agents' phones.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use switchboard_acd::QueueConfig;
use switchboard_sip::{Outcome, Side, SipAccount};
use tokio::process::{Child, Command};

use super::*;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(format!("{name}.xml"))
}

/// One sipp process running one scenario once.
pub struct Sipp {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Sipp {
    /// Runs scenario `name` with its `[key]`s replaced (sipp itself does not replace keys in
    /// attributes such as a pause's length or the file rtp_stream plays).
    fn spawn(dir: &Path, name: &str, args: &[String], keys: &[(&str, String)]) -> Self {
        let n = free_port();
        let log = dir.join(format!("{name}-{n}.log"));
        let mut text = std::fs::read_to_string(scenario(name)).unwrap();
        for (k, v) in keys {
            text = text.replace(&format!("[{k}]"), v);
        }
        let file = dir.join(format!("{name}-{n}.xml"));
        std::fs::write(&file, text).unwrap();
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&file)
            .args([
                "-m",
                "1",
                "-i",
                "127.0.0.1",
                "-nostdin",
                "-timeout",
                "60",
                "-timeout_error",
            ])
            .args(["-trace_msg", "-message_file"])
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp is installed (Debian package sip-tester)");
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// A caller dialling `number` at the center.
    pub fn caller(center: &Center, name: &str, number: &str, keys: &[(&str, String)]) -> Self {
        let rtp = tone_file(center.dir.path());
        let mut all = vec![
            ("caller", "+12025550100".to_owned()),
            ("rtp_file", rtp.display().to_string()),
            ("talk", "2000".to_owned()),
        ];
        all.extend(keys.iter().cloned());
        let args = vec![
            format!("127.0.0.1:{}", center.port()),
            "-p".into(),
            free_port().to_string(),
            "-mp".into(),
            free_port().to_string(),
            "-s".into(),
            number.into(),
        ];
        Self::spawn(center.dir.path(), name, &args, &all)
    }

    /// An agent's phone on `port` (the account's fixed contact).
    pub fn agent(center: &Center, name: &str, port: u16, keys: &[(&str, String)]) -> Self {
        let mut all = vec![("center", format!("127.0.0.1:{}", center.port()))];
        all.extend(keys.iter().cloned());
        let args = vec![
            "-p".into(),
            port.to_string(),
            "-mp".into(),
            free_port().to_string(),
            "-rtp_echo".into(),
        ];
        Self::spawn(center.dir.path(), name, &args, &all)
    }

    /// Waits for the scenario to end and asserts that it succeeded.
    pub async fn success(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(90), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not finish", self.name))
            .unwrap();
        if !status.success() {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = e.read_to_string(&mut err).await;
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "{} failed ({status}): {err}\n--- messages ---\n{}",
                self.name,
                &log[log.len().saturating_sub(6_000)..]
            );
        }
    }
}

/// Three seconds of a 1 kHz tone in μ-law, what sipp's rtp_stream plays.
fn tone_file(dir: &Path) -> PathBuf {
    let path = dir.join("tone.ulaw");
    if !path.exists() {
        let bytes: Vec<u8> = switchboard_media::tone::tone(&[1_000.0], 0.3, 3_000)
            .into_iter()
            .map(switchboard_media::g711::ulaw_encode)
            .collect();
        std::fs::write(&path, bytes).unwrap();
    }
    path
}

/// Accounts whose phones are sipp processes at fixed ports.
fn fixed(ports: &[(u64, u16)]) -> impl FnOnce(&mut SipConfig) {
    let ports = ports.to_vec();
    move |cfg| {
        for (agent, port) in ports {
            let user = format!("ct{agent:02}");
            let a = cfg.accounts.iter_mut().find(|a| a.user == user).unwrap();
            *a = SipAccount {
                user: user.clone(),
                password: None,
                contact: Some(format!("sip:{user}@127.0.0.1:{port}")),
            };
        }
    }
}

#[tokio::test]
async fn softphones_register_with_digest_authentication() {
    let center = Center::start(acd_config(5_000), |_| {}).await;
    let keys = [
        ("domain", "center.test".to_owned()),
        ("user", "ct01".to_owned()),
    ];
    let dest = format!("127.0.0.1:{}", center.port());
    let args = |password: &str| -> Vec<String> {
        [
            dest.as_str(),
            "-p",
            &free_port().to_string(),
            "-au",
            "ct01",
            "-ap",
            password,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    Sipp::spawn(center.dir.path(), "register", &args(PASSWORD), &keys)
        .success()
        .await;
    assert_eq!(center.tel.stats().registered, 1);
    Sipp::spawn(center.dir.path(), "register_refused", &args("wrong"), &keys)
        .success()
        .await;
    assert_eq!(center.tel.stats().registered, 1);
    center.stop().await;
}

#[tokio::test]
async fn a_queued_call_is_answered_by_an_agent_and_talks() {
    let port = free_port();
    let center = Center::start(acd_config(5_000), fixed(&[(1, port)])).await;
    let agent = Sipp::agent(&center, "agent_answers", port, &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The caller queues first; the agent logs in and is offered the call.
    let caller = Sipp::caller(&center, "caller_talks", "1000", &[]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(center.tel.stats().calls, 1, "the caller is queued");
    center.log_in(1).await;
    caller.success().await;
    agent.success().await;
    center.assert_released().await;
    let cdrs = center.cdrs();
    assert_eq!(outcomes(&cdrs, Side::Caller), vec![Outcome::Completed]);
    assert_eq!(outcomes(&cdrs, Side::Agent), vec![Outcome::Completed]);
    let caller_cdr = cdrs.iter().find(|c| c.leg == Side::Caller).unwrap();
    assert!(caller_cdr.talk_ms >= 1_500, "{caller_cdr:?}");
    assert_eq!(caller_cdr.from, "+12025550100");
    // The call went through the ACD like any other: recorded, connected, ended.
    let state = center.agent_state(1).await;
    assert!(
        state == "after_call_work" || state == "available",
        "{state}"
    );
    let calls = center
        .store
        .list_calls(switchboard_store::PageRequest {
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 1);
    assert_eq!(calls.items[0].state, switchboard_domain::CallState::Ended);
    let latencies = center.tel.take_offer_latencies();
    assert_eq!(latencies.len(), 1);
    center.stop().await;
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_queued_is_abandoned() {
    let center = Center::start(acd_config(5_000), |_| {}).await;
    Sipp::caller(&center, "caller_cancels", "1000", &[])
        .success()
        .await;
    center.assert_released().await;
    assert_eq!(
        outcomes(&center.cdrs(), Side::Caller),
        vec![Outcome::Abandoned]
    );
    let calls = center
        .store
        .list_calls(switchboard_store::PageRequest {
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(
        calls.items[0].state,
        switchboard_domain::CallState::Abandoned
    );
    center.stop().await;
}

#[tokio::test]
async fn an_agent_who_does_not_answer_passes_the_call_to_the_next() {
    let (p1, p2) = (free_port(), free_port());
    let center = Center::start(acd_config(1_500), fixed(&[(1, p1), (2, p2)])).await;
    let first = Sipp::agent(&center, "agent_rings_out", p1, &[]);
    let second = Sipp::agent(&center, "agent_answers", p2, &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    center.log_in(1).await;
    center.log_in(2).await;
    Sipp::caller(&center, "caller_talks", "1000", &[])
        .success()
        .await;
    first.success().await;
    second.success().await;
    center.assert_released().await;
    let cdrs = center.cdrs();
    assert_eq!(
        outcomes(&cdrs, Side::Agent),
        vec![Outcome::NoAnswer, Outcome::Completed]
    );
    let agents: Vec<Option<u64>> = cdrs
        .iter()
        .filter(|c| c.leg == Side::Agent)
        .map(|c| c.agent)
        .collect();
    assert_eq!(agents, vec![Some(1), Some(2)]);
    center.stop().await;
}

#[tokio::test]
async fn a_caller_who_never_acks_is_ended_by_the_timers() {
    let port = free_port();
    let center = Center::start(acd_config(5_000), fixed(&[(1, port)])).await;
    let agent = Sipp::agent(&center, "agent_answers", port, &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    center.log_in(1).await;
    Sipp::caller(&center, "caller_no_ack", "1000", &[])
        .success()
        .await;
    agent.success().await;
    center.assert_released().await;
    let cdrs = center.cdrs();
    assert_eq!(outcomes(&cdrs, Side::Caller), vec![Outcome::NoAck]);
    center.stop().await;
}

#[tokio::test]
async fn an_agent_transfers_the_caller_to_another_desk() {
    let (p1, p3) = (free_port(), free_port());
    let center = Center::start(acd_config(5_000), fixed(&[(1, p1), (3, p3)])).await;
    let first = Sipp::agent(
        &center,
        "agent_transfers",
        p1,
        &[("target", "1001".to_owned())],
    );
    let second = Sipp::agent(&center, "agent_hangs_up", p3, &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    center.log_in(1).await;
    center.log_in(3).await;
    Sipp::caller(&center, "caller_waits", "1000", &[])
        .success()
        .await;
    first.success().await;
    second.success().await;
    center.assert_released().await;
    let cdrs = center.cdrs();
    assert_eq!(
        outcomes(&cdrs, Side::Agent),
        vec![Outcome::Transferred, Outcome::Completed]
    );
    let caller = cdrs.iter().find(|c| c.leg == Side::Caller).unwrap();
    assert_eq!(caller.acd_calls.len(), 2, "queued again after the transfer");
    assert_eq!(caller.queue, Some(JUVENILE.0));
    center.stop().await;
}

#[tokio::test]
async fn a_caller_accepts_the_callback_offer_with_dtmf() {
    let mut acd = acd_config(5_000);
    let q: &mut QueueConfig = &mut acd.queues[0];
    q.announcements = announcements(500);
    q.callback_after = Some(0);
    let center = Center::start(acd, |_| {}).await;
    Sipp::caller(&center, "caller_callback", "1000", &[])
        .success()
        .await;
    center.assert_released().await;
    assert_eq!(
        outcomes(&center.cdrs(), Side::Caller),
        vec![Outcome::Callback]
    );
    // The call keeps its place in line as a callback.
    let calls = center.host.read(|acd, _| acd.calls()).await;
    assert_eq!(calls.len(), 1);
    assert!(calls[0].callback, "{calls:?}");
    center.stop().await;
}
