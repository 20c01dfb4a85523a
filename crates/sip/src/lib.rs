//! The center's telephony, and the only crate that knows SIP.
//!
//! [`Telephony`] listens for SIP over UDP and is a back-to-back user agent in front of the
//! ACD:
//!
//! - **Registrar** ([`registrar`]): call-takers' softphones REGISTER with digest
//!   authentication; an ACD agent's SIP user is its `user` in the ACD configuration.
//! - **Inbound calls**: an INVITE to one of the center's numbers is given early media (183
//!   with SDP): ringback, then hold audio. The caller's number is identified through the
//!   registry and the call is queued through [`AcdHost::arrive`], exactly as an API-injected
//!   call is; from then on the ACD's commands (read from its feed) decide what the caller hears
//!   (announcements, the callback offer, whose DTMF key 1 (RFC 4733) accepts it) and where the
//!   call goes.
//! - **Agents**: an offer becomes an INVITE to the agent's registered contact; its 200 answers
//!   the caller (200 with the same SDP) and bridges the two media legs; a refusal is
//!   `AgentRejected`; the ACD's ring timeout becomes a CANCEL. BYE on either leg ends both.
//!   CANCEL (or BYE) from a caller not yet connected is an abandoned call. A caller who never
//!   ACKs the answer is ended by the stack's timers (64·T1). REFER from an agent transfers the
//!   caller blind to another queue (`sip:<number>@`) or agent (`sip:<user>@`).
//! - **Call detail records** ([`cdr`]) for every leg; **capacity**: beyond `max_calls` an
//!   INVITE gets 503 with Retry-After; malformed messages are dropped by the stack or answered
//!   400/488, never a crash or a leaked dialog.
//!
//! The SIP stack (rsipstack, pinned exactly) is named only here. The production edge
//! (Kamailio, rtpengine) sits in front and speaks the same plain SIP and RTP.

#![forbid(unsafe_code)]

pub mod cdr;
pub mod config;
pub mod registrar;
pub mod sdp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::{DialogState, DialogStateSender, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, StatusCodeKind, Uri};
use rsipstack::transaction::endpoint::EndpointOption;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::udp::UdpConnection;
use switchboard_acd::{AgentId, CallId, CloseReason, Command, Event, QueueId};
use switchboard_acd_host::{AcdHost, HostError};
use switchboard_media::{Media, MediaEvent, MediaLeg, Sound, tone};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use cdr::{Cdr, CdrWriter, Outcome, Side};
pub use config::{ConfigError, SipAccount, SipConfig};

/// Why telephony could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("SIP could not listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("sip.accounts: contact of {user} is not a SIP URI: {message}")]
    Contact { user: String, message: String },
    #[error("the CDR file {path}: {source}")]
    Cdr {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What is in use now: tests check that every dialog and port is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub calls: usize,
    pub dialogs: usize,
    pub media_legs: usize,
    pub registered: usize,
    pub offers_ringing: usize,
}

/// Sounds every call shares.
struct Sounds {
    ringback: Sound,
    hold: Sound,
    announce: Sound,
    callback_offer: Sound,
    goodbye: Sound,
}

struct AgentLeg {
    agent: AgentId,
    sip_call_id: String,
    dialog: InviteDialog,
    media: MediaLeg,
    answered: bool,
    /// We withdrew the offer (ring timeout, caller left): its final answer means nothing.
    withdrawn: bool,
    cdr: Cdr,
}

struct CallState {
    acd: Option<CallId>,
    queue: QueueId,
    /// 200 sent to the caller.
    answered: bool,
    callback_offered: bool,
    agent: Option<AgentLeg>,
    ended: bool,
    cdr: Cdr,
}

/// One caller and, when offered or connected, the agent's leg.
struct SipCall {
    key: u64,
    caller: InviteDialog,
    media: MediaLeg,
    answer_sdp: Vec<u8>,
    ani: String,
    st: Mutex<CallState>,
}

#[derive(Default)]
struct Table {
    calls: HashMap<u64, Arc<SipCall>>,
    by_acd: HashMap<CallId, u64>,
    by_sip: HashMap<String, (u64, Side)>,
}

struct Inner {
    cfg: SipConfig,
    dialogs: Arc<DialogLayer>,
    states: DialogStateSender,
    host: Arc<AcdHost>,
    media: Media,
    registrar: registrar::Registrar,
    contact: Uri,
    local: SocketAddr,
    table: Mutex<Table>,
    users: Mutex<HashMap<AgentId, String>>,
    cdr: Option<CdrWriter>,
    sounds: Sounds,
    next: AtomicU64,
    /// Arrivals between the INVITE and their ACD number being known: the feed waits for them.
    /// Microseconds from a caller's INVITE to the agent's INVITE, for the benchmark.
    offer_latency: Mutex<Vec<u32>>,
    token: CancellationToken,
}

/// The running telephony. Dropping it does not stop it: call [`Telephony::shutdown`].
#[derive(Clone)]
pub struct Telephony {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telephony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telephony")
            .field("local", &self.inner.local)
            .finish_non_exhaustive()
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the operating system's random numbers");
    u64::from_le_bytes(b)
}

fn sip_uri(user: &str, host: &str) -> Option<Uri> {
    Uri::try_from(format!("sip:{user}@{host}").as_str()).ok()
}

impl Telephony {
    /// Binds SIP and starts answering.
    pub async fn start(cfg: SipConfig, host: Arc<AcdHost>) -> Result<Self, StartError> {
        cfg.validate()?;
        let media_ip = cfg.media_ip()?;
        let hold = match &cfg.hold_file {
            Some(p) => switchboard_media::sound::read_wav(p).map_err(ConfigError::from)?,
            None => tone::hold_melody().into(),
        };
        let cdr = match &cfg.cdr_file {
            Some(p) => Some(CdrWriter::open(p).map_err(|source| StartError::Cdr {
                path: p.display().to_string(),
                source,
            })?),
            None => None,
        };
        let mut fixed = Vec::new();
        for a in &cfg.accounts {
            if let Some(c) = &a.contact {
                let uri = Uri::try_from(c.as_str()).map_err(|e| StartError::Contact {
                    user: a.user.clone(),
                    message: e.to_string(),
                })?;
                fixed.push((a.user.clone(), uri));
            }
        }
        let registrar = registrar::Registrar::new(
            cfg.domain.clone(),
            cfg.accounts
                .iter()
                .filter_map(|a| a.password.clone().map(|p| (a.user.clone(), p))),
            fixed,
        );

        let token = CancellationToken::new();
        let listen_err = |message: String| StartError::Listen {
            addr: cfg.listen,
            message,
        };
        let transport = TransportLayer::new(token.clone());
        let udp = UdpConnection::create_connection(cfg.listen, None, Some(token.child_token()))
            .await
            .map_err(|e| listen_err(e.to_string()))?;
        transport.add_transport(udp.into());
        let t1 = Duration::from_millis(cfg.t1_ms.max(1));
        let option = EndpointOption {
            t1,
            t1x64: t1 * 64,
            ..EndpointOption::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(token.clone())
            .with_transport_layer(transport)
            .with_user_agent("Switchboard")
            .with_option(option)
            .build();
        let addr = endpoint
            .get_addrs()
            .first()
            .cloned()
            .ok_or_else(|| listen_err("no address".to_owned()))?;
        let local: SocketAddr = addr
            .get_socketaddr()
            .map_err(|e| listen_err(e.to_string()))?;
        let contact = sip_uri("switchboard", &local.to_string())
            .ok_or_else(|| listen_err("no contact URI".to_owned()))?;
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| listen_err(e.to_string()))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (states, state_rx) = dialogs.new_dialog_state_channel();
        let users = host
            .read(|acd, _| {
                acd.config()
                    .agents
                    .iter()
                    .filter_map(|a| a.user.clone().map(|u| (a.id, u)))
                    .collect()
            })
            .await;
        let ports = cfg.rtp_ports.map(|[a, b]| a..=b);
        let inner = Arc::new(Inner {
            media: Media::new(media_ip, ports),
            registrar,
            contact,
            local,
            dialogs,
            states,
            host: host.clone(),
            table: Mutex::new(Table::default()),
            users: Mutex::new(users),
            cdr,
            sounds: Sounds {
                ringback: tone::ringback().into(),
                hold,
                announce: tone::beeps(1).into(),
                callback_offer: tone::beeps(2).into(),
                goodbye: tone::beeps(3).into(),
            },
            next: AtomicU64::new(1),
            offer_latency: Mutex::new(Vec::new()),
            token: token.clone(),
            cfg,
        });
        let feed = host.subscribe();
        tokio::spawn(async move { endpoint.serve().await });
        tokio::spawn(incoming_loop(inner.clone(), incoming));
        tokio::spawn(state_loop(inner.clone(), state_rx));
        tokio::spawn(feed_loop(inner.clone(), feed));
        tracing::info!(%local, "SIP listening");
        Ok(Self { inner })
    }

    /// The SIP address (UDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    pub fn stats(&self) -> Stats {
        let t = self.inner.table.lock().expect("table");
        Stats {
            calls: t.calls.len(),
            dialogs: self.inner.dialogs.len(),
            media_legs: self.inner.media.open_legs(),
            registered: self.inner.registrar.registered(),
            offers_ringing: t
                .calls
                .values()
                .filter(|c| {
                    c.st.lock()
                        .expect("call")
                        .agent
                        .as_ref()
                        .is_some_and(|a| !a.answered)
                })
                .count(),
        }
    }

    /// Microseconds from each caller's INVITE to its agent's INVITE, since the last call.
    pub fn take_offer_latencies(&self) -> Vec<u32> {
        std::mem::take(&mut *self.inner.offer_latency.lock().expect("latency"))
    }

    /// Ends every call (BYE or 503 to each leg) and stops listening.
    pub async fn shutdown(&self) {
        let calls: Vec<Arc<SipCall>> = self
            .inner
            .table
            .lock()
            .expect("table")
            .calls
            .values()
            .cloned()
            .collect();
        for c in calls {
            end_call(&self.inner, &c, Outcome::Ended, "shutdown", EndBy::Center).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.inner.token.cancel();
    }
}

fn header_other(name: &str, value: impl Into<String>) -> Header {
    Header::Other(name.into(), value.into())
}

async fn incoming_loop(
    inner: Arc<Inner>,
    mut incoming: rsipstack::transaction::TransactionReceiver,
) {
    while let Some(mut tx) = incoming.recv().await {
        let inner = inner.clone();
        match tx.original.method {
            Method::Invite => {
                let in_dialog = tx
                    .original
                    .to_header()
                    .ok()
                    .and_then(|t| t.tag().ok().flatten())
                    .is_some();
                if in_dialog {
                    in_dialog_request(&inner, tx).await;
                } else {
                    tokio::spawn(async move { new_call(inner, tx).await });
                }
            }
            Method::Register => {
                let (status, headers) =
                    registrar::response(&inner.registrar.register(&tx.original));
                tokio::spawn(async move {
                    let _ = tx.reply_with(status, headers, None).await;
                });
            }
            Method::Options
                if tx
                    .original
                    .to_header()
                    .ok()
                    .and_then(|t| t.tag().ok().flatten())
                    .is_none() =>
            {
                tokio::spawn(async move {
                    let _ = tx
                        .reply_with(
                            StatusCode::OK,
                            vec![header_other(
                                "Allow",
                                "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, NOTIFY, INFO",
                            )],
                            None,
                        )
                        .await;
                });
            }
            _ => in_dialog_request(&inner, tx).await,
        }
    }
}

/// A request inside a dialog goes to its dialog, or gets 481.
async fn in_dialog_request(inner: &Arc<Inner>, mut tx: Transaction) {
    match inner.dialogs.match_dialog(&tx) {
        Some(mut d) => {
            tokio::spawn(async move {
                if let Err(e) = d.handle(&mut tx).await {
                    tracing::debug!(error = %e, "in-dialog request failed");
                }
            });
        }
        None => {
            if tx.original.method != Method::Ack {
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                });
            }
        }
    }
}

fn reject_with(status: StatusCode, warning: &str) -> (StatusCode, Vec<Header>) {
    (
        status,
        vec![header_other(
            "Warning",
            format!("399 switchboard \"{warning}\""),
        )],
    )
}

async fn new_call(inner: Arc<Inner>, mut tx: Transaction) {
    let req = &tx.original;
    let number = req.uri.user().unwrap_or_default().to_owned();
    let ani = req
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .and_then(|u| u.user().map(str::to_owned))
        .unwrap_or_else(|| "anonymous".to_owned());
    let Some(sip_call_id) = req.call_id_header().ok().map(|c| c.value().to_owned()) else {
        return;
    };
    let refusal = if inner.table.lock().expect("table").calls.len() >= inner.cfg.max_calls {
        metrics::counter!("switchboard_sip_refused_total", "reason" => "capacity").increment(1);
        Some((
            StatusCode::ServiceUnavailable,
            vec![Header::RetryAfter(inner.cfg.retry_after.to_string().into())],
        ))
    } else if !inner.cfg.numbers.contains_key(&number) {
        Some(reject_with(
            StatusCode::NotFound,
            "no such number at this center",
        ))
    } else {
        None
    };
    if let Some((status, headers)) = refusal {
        let _ = tx.reply_with(status, headers, None).await;
        return;
    }
    let queue = QueueId(inner.cfg.numbers[&number]);
    let offer = match sdp::parse(&req.body) {
        Ok(o) => o,
        Err(e) => {
            let (s, h) = reject_with(StatusCode::NotAcceptableHere, &e.to_string());
            let _ = tx.reply_with(s, h, None).await;
            return;
        }
    };
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let media = match inner.media.open(events_tx).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "no RTP port for a new call");
            let _ = tx
                .reply_with(
                    StatusCode::ServiceUnavailable,
                    vec![Header::RetryAfter(inner.cfg.retry_after.to_string().into())],
                    None,
                )
                .await;
            return;
        }
    };
    let dialog: InviteDialog = match inner.dialogs.get_or_create_server_invite(
        &tx,
        inner.states.clone(),
        None,
        Some(inner.contact.clone()),
    ) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.reply(StatusCode::BadRequest).await;
            tracing::debug!(error = %e, "INVITE without a usable dialog");
            return;
        }
    };
    media.set_remote(offer.remote());
    let answer_sdp = sdp::answer(media.local(), random_u64() >> 1, &offer);
    let key = inner.next.fetch_add(1, Ordering::Relaxed);
    let mut cdr = Cdr::start(
        Side::Caller,
        sip_call_id.clone(),
        ani.clone(),
        number.clone(),
    );
    cdr.queue = Some(queue.0);
    let call = Arc::new(SipCall {
        key,
        caller: dialog.clone(),
        media,
        answer_sdp,
        ani: ani.clone(),
        st: Mutex::new(CallState {
            acd: None,
            queue,
            answered: false,
            callback_offered: false,
            agent: None,
            ended: false,
            cdr,
        }),
    });
    {
        let mut t = inner.table.lock().expect("table");
        t.calls.insert(key, call.clone());
        t.by_sip.insert(sip_call_id, (key, Side::Caller));
    }
    let mut handle = dialog.clone();
    tokio::spawn(async move {
        if let Err(e) = handle.handle(&mut tx).await {
            tracing::debug!(error = %e, "caller INVITE transaction");
        }
    });
    // Early media: the caller hears ringback, then hold audio, until an agent answers.
    let _ = dialog.ringing(
        Some(vec![Header::ContentType("application/sdp".into())]),
        Some(call.answer_sdp.clone()),
    );
    let ringback_cycles = (inner.cfg.ringback_ms as usize).div_ceil(6_000).max(1);
    let mut first = vec![inner.sounds.ringback.clone(); ringback_cycles];
    if inner.cfg.ringback_ms < 6_000 {
        let n = (inner.cfg.ringback_ms as usize * 8).min(inner.sounds.ringback.len());
        first = vec![inner.sounds.ringback[..n].into()];
    }
    call.media.play(first, Some(inner.sounds.hold.clone()));
    tokio::spawn(media_events(
        inner.clone(),
        Arc::downgrade(&call),
        events_rx,
    ));

    let arrival = inner
        .host
        .arrive_numbered(&ani, queue, 0, |acd| map_acd(&inner, &call, acd, queue))
        .await;
    let queued = match arrival {
        Ok(a) => {
            tracing::info!(call = a.call.0, %ani, number, "SIP call queued");
            metrics::counter!("switchboard_sip_calls_total").increment(1);
            left_while_queued(&inner, &call, a.call).await;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "a SIP call could not be queued");
            false
        }
    };
    if !queued {
        end_call(
            &inner,
            &call,
            Outcome::Rejected,
            "not queued",
            EndBy::Center,
        )
        .await;
    }
}

/// Keys the caller presses: 1 accepts a callback offer.
async fn media_events(
    inner: Arc<Inner>,
    call: std::sync::Weak<SipCall>,
    mut events: mpsc::UnboundedReceiver<MediaEvent>,
) {
    // Weak: the call owns its media leg, whose task owns the sender; a strong reference here
    // would keep all three alive after the call ended.
    while let Some(ev) = events.recv().await {
        let MediaEvent::Key(key) = ev else { continue };
        let Some(call) = call.upgrade() else { return };
        let (acd, offered) = {
            let st = call.st.lock().expect("call");
            (st.acd, st.callback_offered)
        };
        tracing::debug!(call = call.key, %key, "caller pressed a key");
        if key == '1'
            && offered
            && let Some(acd) = acd
        {
            match inner
                .host
                .submit(Event::CallbackRequested { call: acd })
                .await
            {
                Ok(_) => {}
                Err(e) => tracing::info!(error = %e, "callback request refused"),
            }
        }
    }
}

/// The ACD's commands for SIP calls.
async fn feed_loop(
    inner: Arc<Inner>,
    mut feed: tokio::sync::broadcast::Receiver<Arc<switchboard_acd_host::FeedItem>>,
) {
    loop {
        let item = tokio::select! {
            r = feed.recv() => r,
            _ = inner.token.cancelled() => return,
        };
        let item = match item {
            Ok(i) => i,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "telephony fell behind the ACD feed");
                continue;
            }
            Err(_) => return,
        };
        if let Event::ConfigChanged { config } = &item.event {
            *inner.users.lock().expect("users") = config
                .agents
                .iter()
                .filter_map(|a| a.user.clone().map(|u| (a.id, u)))
                .collect();
        }
        for cmd in &item.commands {
            let Some(acd) = command_call(cmd) else {
                continue;
            };
            let Some(call) = find(&inner, acd) else {
                continue;
            };
            apply(&inner, &call, acd, cmd.clone()).await;
        }
    }
}

fn command_call(cmd: &Command) -> Option<CallId> {
    match cmd {
        Command::OfferCall { call, .. }
        | Command::CancelOffer { call, .. }
        | Command::PlayAnnouncement { call, .. }
        | Command::OfferCallback { call, .. }
        | Command::SendToCallback { call }
        | Command::SendToVoicemail { call }
        | Command::Close { call, .. } => Some(*call),
        _ => None,
    }
}

/// The SIP call the ACD numbers `acd` (none for calls that are not telephony's, or that
/// have ended). Arrivals are mapped before their commands are published, so there is
/// nothing to wait for.
fn find(inner: &Inner, acd: CallId) -> Option<Arc<SipCall>> {
    let t = inner.table.lock().expect("table");
    t.by_acd.get(&acd).and_then(|k| t.calls.get(k)).cloned()
}

/// Ties the ACD's number for a call to the SIP call (called by the ACD host before the
/// call's first commands are published).
fn map_acd(inner: &Inner, call: &SipCall, acd: CallId, queue: QueueId) {
    let mut st = call.st.lock().expect("call");
    if st.ended {
        // The caller left while the call was being queued: see `left_while_queued`.
        return;
    }
    st.acd = Some(acd);
    st.queue = queue;
    st.cdr.queue = Some(queue.0);
    if st.cdr.acd_calls.last() != Some(&acd.0) {
        st.cdr.acd_calls.push(acd.0);
    }
    drop(st);
    inner
        .table
        .lock()
        .expect("table")
        .by_acd
        .insert(acd, call.key);
}

/// A caller who hung up while their call was being queued ended before the ACD numbered it,
/// so the ACD must still hear that they left (or it would offer a call nobody is on).
async fn left_while_queued(inner: &Inner, call: &SipCall, acd: CallId) {
    let left = {
        let st = call.st.lock().expect("call");
        st.ended && st.acd != Some(acd)
    };
    if left && let Err(e) = inner.host.submit(Event::CallerHungUp { call: acd }).await {
        log_refused(e);
    }
}

async fn apply(inner: &Arc<Inner>, call: &Arc<SipCall>, acd: CallId, cmd: Command) {
    let s = &inner.sounds;
    match cmd {
        Command::OfferCall {
            agent, callback, ..
        } => {
            if callback {
                // A callback's caller leg has ended; the center has no outbound trunk to dial
                // them back on, so the agent's desktop does it.
                return;
            }
            ring_agent(inner, call, acd, agent).await;
        }
        Command::CancelOffer { agent, .. } => {
            let leg = {
                let mut st = call.st.lock().expect("call");
                match st.agent.as_mut() {
                    Some(a) if a.agent == agent && !a.answered => {
                        a.withdrawn = true;
                        st.agent.take()
                    }
                    _ => None,
                }
            };
            if let Some(leg) = leg {
                withdraw(inner, leg, Outcome::NoAnswer, "offer withdrawn").await;
            }
        }
        Command::PlayAnnouncement { .. } => {
            call.media
                .play(vec![s.announce.clone()], Some(s.hold.clone()));
        }
        Command::OfferCallback { .. } => {
            call.st.lock().expect("call").callback_offered = true;
            call.media
                .play(vec![s.callback_offer.clone()], Some(s.hold.clone()));
        }
        Command::SendToCallback { .. } => {
            forget_acd(inner, call, acd);
            call.media.play(vec![s.goodbye.clone()], None);
            let inner = inner.clone();
            let call = call.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(900)).await;
                end_call(
                    &inner,
                    &call,
                    Outcome::Callback,
                    "callback accepted",
                    EndBy::Center,
                )
                .await;
            });
        }
        Command::SendToVoicemail { .. } => {
            forget_acd(inner, call, acd);
            end_call(inner, call, Outcome::Ended, "voicemail", EndBy::Center).await;
        }
        Command::Close { reason, .. } => {
            forget_acd(inner, call, acd);
            let (outcome, cause) = match reason {
                CloseReason::Completed => (Outcome::Completed, "completed"),
                CloseReason::Abandoned => (Outcome::Abandoned, "abandoned"),
                CloseReason::NoSuchQueue => (Outcome::Rejected, "no such queue"),
                CloseReason::Forced => (Outcome::Ended, "forced by a supervisor"),
                CloseReason::Voicemail => (Outcome::Ended, "voicemail"),
                CloseReason::CallbackCancelled => (Outcome::Callback, "callback cancelled"),
            };
            // A transfer re-queues the caller under a new number: the old one's close is
            // not the end of the caller's leg.
            let current = call.st.lock().expect("call").acd == Some(acd);
            if current {
                end_call(inner, call, outcome, cause, EndBy::Center).await;
            }
        }
        _ => {}
    }
}

/// Unties `acd` from `call` (only if it still names this call: a failed arrival's number is
/// given to the next one).
fn forget_acd(inner: &Inner, call: &SipCall, acd: CallId) {
    let mut t = inner.table.lock().expect("table");
    if t.by_acd.get(&acd) == Some(&call.key) {
        t.by_acd.remove(&acd);
    }
}

async fn ring_agent(inner: &Arc<Inner>, call: &Arc<SipCall>, acd: CallId, agent: AgentId) {
    let user = inner.users.lock().expect("users").get(&agent).cloned();
    let contact = user.as_ref().and_then(|u| inner.registrar.lookup(u));
    let Some(contact) = contact else {
        tracing::info!(
            agent = agent.0,
            ?user,
            "agent has no registered phone: offer refused"
        );
        refuse_offer(inner, agent, acd).await;
        return;
    };
    let user = user.unwrap_or_default();
    let (events_tx, _events_rx) = mpsc::unbounded_channel();
    let media = match inner.media.open(events_tx).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "no RTP port for an agent leg");
            refuse_offer(inner, agent, acd).await;
            return;
        }
    };
    let sip_call_id = format!("sb-{:016x}", random_u64());
    let offer = sdp::offer(media.local(), random_u64() >> 1);
    let caller = sip_uri(&call.ani, &inner.cfg.domain)
        .or_else(|| sip_uri("anonymous", &inner.cfg.domain))
        .expect("a URI");
    let opt = InviteOption {
        caller,
        callee: contact,
        contact: inner.contact.clone(),
        content_type: Some("application/sdp".to_owned()),
        offer: Some(offer),
        call_id: Some(sip_call_id.clone()),
        headers: Some(vec![header_other("X-Switchboard-Call", acd.0.to_string())]),
        ..Default::default()
    };
    let (dialog, outcome) = match inner.dialogs.do_invite_async(opt, inner.states.clone()) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "agent INVITE could not be sent");
            refuse_offer(inner, agent, acd).await;
            return;
        }
    };
    let latency = call.st.lock().expect("call").cdr.started;
    let micros = (time::OffsetDateTime::now_utc() - latency).whole_microseconds();
    metrics::histogram!("switchboard_sip_offer_seconds").record(micros as f64 / 1e6);
    if call.st.lock().expect("call").cdr.acd_calls.len() == 1 {
        let mut l = inner.offer_latency.lock().expect("latency");
        if l.len() < 1_000_000 {
            l.push(micros.clamp(0, i128::from(u32::MAX)) as u32);
        }
    }
    let mut cdr = Cdr::start(Side::Agent, sip_call_id.clone(), call.ani.clone(), user);
    cdr.acd_calls.push(acd.0);
    cdr.agent = Some(agent.0);
    cdr.queue = Some(call.st.lock().expect("call").queue.0);
    {
        let mut st = call.st.lock().expect("call");
        if st.ended {
            drop(st);
            let d = dialog.clone();
            tokio::spawn(async move { d.cancel().await });
            return;
        }
        st.agent = Some(AgentLeg {
            agent,
            sip_call_id: sip_call_id.clone(),
            dialog,
            media,
            answered: false,
            withdrawn: false,
            cdr,
        });
    }
    inner
        .table
        .lock()
        .expect("table")
        .by_sip
        .insert(sip_call_id.clone(), (call.key, Side::Agent));
    let inner = inner.clone();
    let call = call.clone();
    tokio::spawn(async move {
        let result = outcome.await;
        let response = match result {
            Ok(Ok((_, r))) => r,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "agent INVITE failed");
                None
            }
            Err(_) => None,
        };
        agent_answer(&inner, &call, acd, agent, &sip_call_id, response).await;
    });
}

/// The offer could not ring or was refused: the ACD offers the call to someone else.
async fn refuse_offer(inner: &Inner, agent: AgentId, call: CallId) {
    if let Err(e) = inner
        .host
        .submit(Event::AgentRejected { agent, call })
        .await
    {
        log_refused(e);
    }
}

/// The agent's final answer to an offer.
async fn agent_answer(
    inner: &Arc<Inner>,
    call: &Arc<SipCall>,
    acd: CallId,
    agent: AgentId,
    sip_call_id: &str,
    response: Option<rsipstack::sip::Response>,
) {
    let ok = response
        .as_ref()
        .filter(|r| r.status_code.kind() == StatusCodeKind::Successful);
    let status = response
        .as_ref()
        .map_or_else(|| "no response".to_owned(), |r| r.status_code.to_string());
    let is_current = |st: &CallState| {
        st.agent
            .as_ref()
            .is_some_and(|a| a.sip_call_id == sip_call_id && !a.withdrawn)
    };
    let Some(resp) = ok else {
        // Refused, unreachable or timed out at the transaction layer.
        let leg = {
            let mut st = call.st.lock().expect("call");
            if is_current(&st) {
                st.agent.take()
            } else {
                None
            }
        };
        if let Some(leg) = leg {
            finish_leg(inner, leg, Outcome::Refused, status).await;
            refuse_offer(inner, agent, acd).await;
        }
        return;
    };
    let remote = sdp::parse(&resp.body).map(|a| a.remote());
    let current = is_current(&call.st.lock().expect("call"));
    if !current {
        // The offer was withdrawn while the phone answered: the stack BYEs a cancelled
        // INVITE's 2xx; the leg is already gone.
        return;
    }
    let remote = match remote {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "agent answered with unusable SDP");
            let leg = call.st.lock().expect("call").agent.take();
            if let Some(leg) = leg {
                let _ = leg.dialog.bye().await;
                finish_leg(inner, leg, Outcome::Refused, format!("bad SDP: {e}")).await;
            }
            refuse_offer(inner, agent, acd).await;
            return;
        }
    };
    match inner
        .host
        .submit(Event::AgentAnswered { agent, call: acd })
        .await
    {
        Ok(_) => {}
        Err(e) => {
            tracing::info!(error = %e, "agent answered an offer the ACD no longer holds");
            let leg = call.st.lock().expect("call").agent.take();
            if let Some(leg) = leg {
                let _ = leg.dialog.bye().await;
                finish_leg(inner, leg, Outcome::NoAnswer, "offer no longer held").await;
            }
            return;
        }
    }
    let answer_caller = {
        let mut st = call.st.lock().expect("call");
        let Some(leg) = st.agent.as_mut() else { return };
        leg.answered = true;
        leg.cdr.answer();
        leg.media.set_remote(remote);
        call.media.bridge(&leg.media);
        let first = !st.answered;
        st.answered = true;
        st.cdr.answer();
        first
    };
    if answer_caller
        && let Err(e) = call.caller.accept(
            Some(vec![Header::ContentType("application/sdp".into())]),
            Some(call.answer_sdp.clone()),
        )
    {
        tracing::warn!(error = %e, "the caller could not be answered");
    }
    tracing::info!(call = acd.0, agent = agent.0, "agent connected");
}

/// Cancels an offer still ringing.
async fn withdraw(inner: &Arc<Inner>, leg: AgentLeg, outcome: Outcome, cause: &str) {
    let d = leg.dialog.clone();
    let _ = d.cancel().await;
    finish_leg(inner, leg, outcome, cause).await;
}

async fn finish_leg(
    inner: &Arc<Inner>,
    mut leg: AgentLeg,
    outcome: Outcome,
    cause: impl Into<String>,
) {
    inner
        .table
        .lock()
        .expect("table")
        .by_sip
        .remove(&leg.sip_call_id);
    if leg.cdr.end(outcome, cause) {
        write_cdr(inner, leg.cdr.clone()).await;
    }
    leg.media.close();
}

async fn write_cdr(inner: &Arc<Inner>, cdr: Cdr) {
    tracing::info!(leg = ?cdr.leg, sip_call_id = cdr.sip_call_id, outcome = ?cdr.outcome, talk_ms = cdr.talk_ms, "CDR");
    if let Some(w) = &inner.cdr
        && let Err(e) = w.write(cdr).await
    {
        tracing::error!(error = %e, "CDR not written");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndBy {
    /// The caller left (CANCEL, BYE, no ACK): tell the ACD.
    Caller,
    /// The agent hung up a connected call: tell the ACD.
    Agent,
    /// The ACD or the center ended it: the ACD knows.
    Center,
}

/// Ends a call: both legs, the ACD's view when it does not know yet, and the CDRs.
async fn end_call(
    inner: &Arc<Inner>,
    call: &Arc<SipCall>,
    outcome: Outcome,
    cause: &str,
    by: EndBy,
) {
    let (acd, agent, answered) = {
        let mut st = call.st.lock().expect("call");
        if st.ended {
            return;
        }
        st.ended = true;
        let connected = st.agent.as_ref().is_some_and(|a| a.answered);
        // A connected caller who hangs up completed the call; they did not abandon it.
        let caller_outcome = if by == EndBy::Caller && connected && outcome == Outcome::Abandoned {
            Outcome::Completed
        } else {
            outcome
        };
        st.cdr.end(caller_outcome, cause);
        (st.acd.take(), st.agent.take(), st.answered)
    };
    if let Some(acd) = acd {
        forget_acd(inner, call, acd);
        if by != EndBy::Center {
            let connected = agent.as_ref().is_some_and(|a| a.answered);
            let event = if connected || by == EndBy::Agent {
                Event::CallEnded { call: acd }
            } else {
                Event::CallerHungUp { call: acd }
            };
            if let Err(e) = inner.host.submit(event).await {
                log_refused(e);
            }
        }
    }
    if let Some(leg) = agent {
        if leg.answered {
            if by != EndBy::Agent {
                let _ = leg.dialog.bye().await;
            }
            let o = if outcome == Outcome::Transferred {
                outcome
            } else {
                Outcome::Completed
            };
            finish_leg(inner, leg, o, cause.to_owned()).await;
        } else {
            withdraw(inner, leg, Outcome::NoAnswer, "caller left").await;
        }
    }
    if by != EndBy::Caller {
        if answered {
            let _ = call.caller.bye().await;
        } else {
            let code = if outcome == Outcome::Rejected {
                StatusCode::ServiceUnavailable
            } else {
                StatusCode::TemporarilyUnavailable
            };
            let _ = call.caller.reject(Some(code), Some(cause.to_owned()));
        }
    }
    let cdr = {
        let mut t = inner.table.lock().expect("table");
        t.calls.remove(&call.key);
        let st = call.st.lock().expect("call");
        t.by_sip.remove(&st.cdr.sip_call_id);
        st.cdr.clone()
    };
    call.media.silence();
    // The caller's outcome as recorded (a connected caller's hang-up is a completed call).
    tracing::info!(call = call.key, outcome = ?cdr.outcome, cause, "SIP call ended");
    write_cdr(inner, cdr).await;
}

fn log_refused(e: HostError) {
    tracing::debug!(error = %e, "the ACD refused a telephony event");
}

/// Dialog changes: ends, in-dialog requests, transfers.
async fn state_loop(inner: Arc<Inner>, mut states: mpsc::UnboundedReceiver<DialogState>) {
    while let Some(state) = states.recv().await {
        let call_id = match &state {
            DialogState::Terminated(id, _)
            | DialogState::Confirmed(id, _)
            | DialogState::Refer(id, _, _)
            | DialogState::Info(id, _, _)
            | DialogState::Options(id, _, _)
            | DialogState::Notify(id, _, _)
            | DialogState::Message(id, _, _)
            | DialogState::Updated(id, _, _) => id.call_id.clone(),
            _ => continue,
        };
        let found = {
            let t = inner.table.lock().expect("table");
            t.by_sip
                .get(&call_id)
                .and_then(|(k, side)| t.calls.get(k).map(|c| (c.clone(), *side)))
        };
        match state {
            DialogState::Terminated(id, reason) => {
                inner.dialogs.remove_dialog(&id);
                let Some((call, side)) = found else { continue };
                let inner = inner.clone();
                tokio::spawn(async move { terminated(&inner, &call, side, reason).await });
            }
            DialogState::Refer(_, req, handle) => match found {
                Some((call, Side::Agent)) => {
                    let inner = inner.clone();
                    tokio::spawn(async move { transfer(&inner, &call, req, handle).await });
                }
                _ => {
                    let _ = handle.reply(StatusCode::Forbidden).await;
                }
            },
            DialogState::Updated(_, _, handle) => {
                // A re-INVITE (hold, refresh): the media stay as they are; answer with our
                // description of the leg.
                let body = found.map(|(call, side)| match side {
                    Side::Caller => call.answer_sdp.clone(),
                    Side::Agent => {
                        let st = call.st.lock().expect("call");
                        st.agent
                            .as_ref()
                            .map(|a| sdp::offer(a.media.local(), 1))
                            .unwrap_or_default()
                    }
                });
                let _ = handle
                    .respond(
                        StatusCode::OK,
                        Some(vec![Header::ContentType("application/sdp".into())]),
                        body,
                    )
                    .await;
            }
            DialogState::Info(_, _, handle)
            | DialogState::Options(_, _, handle)
            | DialogState::Notify(_, _, handle)
            | DialogState::Message(_, _, handle) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            _ => {}
        }
    }
}

async fn terminated(inner: &Arc<Inner>, call: &Arc<SipCall>, side: Side, reason: TerminatedReason) {
    match side {
        Side::Caller => {
            let outcome = match reason {
                TerminatedReason::Timeout => Outcome::NoAck,
                _ => Outcome::Abandoned,
            };
            let cause = format!("{reason:?}");
            end_call(inner, call, outcome, &cause, EndBy::Caller).await;
        }
        Side::Agent => {
            let connected = call
                .st
                .lock()
                .expect("call")
                .agent
                .as_ref()
                .is_some_and(|a| a.answered);
            if connected {
                end_call(
                    inner,
                    call,
                    Outcome::Completed,
                    "agent hung up",
                    EndBy::Agent,
                )
                .await;
            }
        }
    }
}

/// Blind transfer: the agent's REFER names a number (a queue) or another agent's user.
async fn transfer(
    inner: &Arc<Inner>,
    call: &Arc<SipCall>,
    req: rsipstack::sip::Request,
    handle: rsipstack::dialog::dialog::TransactionHandle,
) {
    let target = req
        .refer_to_header()
        .map(|r| r.value().trim().trim_start_matches('<').to_owned())
        .and_then(|v| {
            let v = v.split('>').next().unwrap_or_default().to_owned();
            Uri::try_from(v.as_str()).ok()
        })
        .and_then(|u| u.user().map(str::to_owned));
    let Some(target) = target else {
        let _ = handle.reply(StatusCode::BadRequest).await;
        return;
    };
    let queue = inner.cfg.numbers.get(&target).map(|q| QueueId(*q));
    let agent_target = if queue.is_none() {
        let users = inner.users.lock().expect("users");
        users.iter().find(|(_, u)| **u == target).map(|(a, _)| *a)
    } else {
        None
    };
    if queue.is_none() && agent_target.is_none() {
        let _ = handle.reply(StatusCode::NotFound).await;
        return;
    }
    let _ = handle.reply(StatusCode::Accepted).await;
    let (old, leg) = {
        let mut st = call.st.lock().expect("call");
        (st.acd.take(), st.agent.take())
    };
    let Some(old) = old else { return };
    forget_acd(inner, call, old);
    if let Some(leg) = leg {
        // The 202 travels through the transaction's task: let it go first (a NOTIFY may
        // overtake it under RFC 3515, but many phones take that badly).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = leg
            .dialog
            .notify_refer(StatusCode::OK, "terminated;reason=noresource")
            .await;
        let _ = leg.dialog.bye().await;
        finish_leg(inner, leg, Outcome::Transferred, format!("to {target}")).await;
    }
    if let Err(e) = inner.host.submit(Event::CallEnded { call: old }).await {
        log_refused(e);
    }
    call.media.play(
        vec![inner.sounds.ringback.clone()],
        Some(inner.sounds.hold.clone()),
    );
    // To an agent: the call queues on the agent's first skill at the highest priority, so
    // it is the next call that agent (or one like them) takes.
    let queue = match (queue, agent_target) {
        (Some(q), _) => q,
        (None, Some(agent)) => {
            let q = inner
                .host
                .read(|acd, _| {
                    let skill = acd
                        .config()
                        .agents
                        .iter()
                        .find(|a| a.id == agent)
                        .and_then(|a| a.skills.first().map(|s| s.0));
                    acd.config()
                        .queues
                        .iter()
                        .find(|q| Some(q.skill) == skill)
                        .map(|q| q.id)
                })
                .await;
            match q {
                Some(q) => q,
                None => {
                    end_call(
                        inner,
                        call,
                        Outcome::Ended,
                        "no queue for the agent",
                        EndBy::Center,
                    )
                    .await;
                    return;
                }
            }
        }
        (None, None) => unreachable!("checked above"),
    };
    let priority = if agent_target.is_some() { u8::MAX } else { 0 };
    let arrival = inner
        .host
        .arrive_numbered(&call.ani, queue, priority, |acd| {
            map_acd(inner, call, acd, queue);
        })
        .await;
    let ok = match arrival {
        Ok(a) => {
            tracing::info!(from = old.0, to = a.call.0, target, "call transferred");
            left_while_queued(inner, call, a.call).await;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "transfer could not queue the call");
            false
        }
    };
    if !ok {
        end_call(
            inner,
            call,
            Outcome::Ended,
            "transfer failed",
            EndBy::Center,
        )
        .await;
    }
}
