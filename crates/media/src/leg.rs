//! Media legs: one UDP socket per call leg, playing sounds to the peer or relaying what it
//! sends to another leg (the back-to-back user agent's media half).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};

use crate::g711::{Codec, transcode};
use crate::rtp::{KeyDetector, Packet, TelephoneEvent};
use crate::sound::Sound;
use crate::tone::FRAME;

/// Opens media legs on one address, from a port range or from ports the system picks, and
/// counts the legs still open (so tests can check that every port was released).
#[derive(Debug)]
pub struct Media {
    ip: IpAddr,
    ports: Option<RangeInclusive<u16>>,
    next: AtomicU16,
    open: Arc<AtomicUsize>,
}

/// What a leg reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The peer pressed a key (RFC 4733).
    Key(char),
    /// A sound played with [`MediaLeg::play`] (without a loop) finished.
    Played,
}

/// The far end of a leg, from its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub addr: SocketAddr,
    pub codec: Codec,
    /// The payload type the peer uses for telephone events, if it offered them.
    pub events: Option<u8>,
}

enum Mode {
    Silent,
    Play {
        queue: VecDeque<Sound>,
        pos: usize,
        then: Option<Sound>,
    },
    Bridge(Weak<Shared>),
}

struct State {
    remote: Option<Remote>,
    latched: bool,
    mode: Mode,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
}

struct Shared {
    socket: UdpSocket,
    local: SocketAddr,
    state: Mutex<State>,
    /// Wakes the leg's task when it starts playing (it keeps no 20 ms timer otherwise).
    playing: Notify,
    open: Arc<AtomicUsize>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One leg. Dropping it (or [`MediaLeg::close`]) stops its task and releases its port.
pub struct MediaLeg {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MediaLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLeg")
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl Drop for MediaLeg {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Media {
    /// `ports`: an even-numbered range to take RTP ports from; `None` lets the system choose.
    pub fn new(ip: IpAddr, ports: Option<RangeInclusive<u16>>) -> Self {
        let start = ports.as_ref().map_or(0, |r| *r.start());
        Self {
            ip,
            ports,
            next: AtomicU16::new(start),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Legs open now.
    pub fn open_legs(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    async fn bind(&self) -> std::io::Result<UdpSocket> {
        let Some(range) = &self.ports else {
            return UdpSocket::bind(SocketAddr::new(self.ip, 0)).await;
        };
        let span = (u32::from(*range.end()) - u32::from(*range.start())) / 2 + 1;
        for _ in 0..span {
            let mut port = self.next.fetch_add(2, Ordering::Relaxed);
            if port < *range.start() || port > *range.end() {
                self.next.store(*range.start() + 2, Ordering::Relaxed);
                port = *range.start();
            }
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(self.ip, port & !1)).await {
                return Ok(s);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "every RTP port in the range is in use",
        ))
    }

    /// Opens a leg; what it hears of note arrives on `events`.
    pub async fn open(
        &self,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> std::io::Result<MediaLeg> {
        let socket = self.bind().await?;
        let local = socket.local_addr()?;
        self.open.fetch_add(1, Ordering::SeqCst);
        let seed = local.port() as u32 ^ (std::process::id() << 16);
        let shared = Arc::new(Shared {
            socket,
            local,
            state: Mutex::new(State {
                remote: None,
                latched: false,
                mode: Mode::Silent,
                seq: seed as u16,
                timestamp: seed.wrapping_mul(2_654_435_761),
                ssrc: seed.wrapping_mul(40_503) | 1,
            }),
            playing: Notify::new(),
            open: self.open.clone(),
        });
        let task = tokio::spawn(run(Arc::downgrade(&shared), events));
        Ok(MediaLeg { shared, task })
    }
}

impl MediaLeg {
    pub fn local(&self) -> SocketAddr {
        self.shared.local
    }

    /// Where to send (from the peer's SDP; the first packet received from elsewhere wins, for
    /// peers behind NAT).
    pub fn set_remote(&self, remote: Remote) {
        let mut s = self.shared.state.lock().expect("media state");
        s.remote = Some(remote);
        s.latched = false;
    }

    pub fn remote(&self) -> Option<Remote> {
        self.shared.state.lock().expect("media state").remote
    }

    /// Plays `sounds` one after another, then `then` in a loop (or silence, with
    /// [`MediaEvent::Played`]).
    pub fn play(&self, sounds: Vec<Sound>, then: Option<Sound>) {
        let mut s = self.shared.state.lock().expect("media state");
        s.mode = Mode::Play {
            queue: sounds.into(),
            pos: 0,
            then,
        };
        drop(s);
        self.shared.playing.notify_one();
    }

    pub fn silence(&self) {
        self.shared.state.lock().expect("media state").mode = Mode::Silent;
    }

    /// Relays what each of the two legs receives to the other's peer.
    pub fn bridge(&self, other: &MediaLeg) {
        self.shared.state.lock().expect("media state").mode =
            Mode::Bridge(Arc::downgrade(&other.shared));
        other.shared.state.lock().expect("media state").mode =
            Mode::Bridge(Arc::downgrade(&self.shared));
    }

    /// Stops the leg and releases its port.
    pub fn close(self) {}
}

async fn run(shared: Weak<Shared>, events: mpsc::UnboundedSender<MediaEvent>) {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(FRAME + 12);
    let mut keys = KeyDetector::default();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(me) = shared.upgrade() else { return };
        // A bridged or silent leg only wakes for packets: hundreds of relayed calls would
        // otherwise cost 50 timer wake-ups a second each.
        let playing = matches!(
            me.state.lock().expect("media state").mode,
            Mode::Play { .. }
        );
        tokio::select! {
            r = me.socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                received(&me, &buf[..n], from, &mut keys, &events, &mut out).await;
            }
            () = me.playing.notified(), if !playing => {
                // The first frame of a sound goes out at once, then every 20 ms.
                ticker.reset_immediately();
            }
            _ = ticker.tick(), if playing => {
                if let Some((to, frame)) = next_frame(&me, &events, &mut out) {
                    let _ = me.socket.send_to(&frame, to).await;
                    out = frame;
                }
            }
        }
    }
}

async fn received(
    me: &Arc<Shared>,
    datagram: &[u8],
    from: SocketAddr,
    keys: &mut KeyDetector,
    events: &mpsc::UnboundedSender<MediaEvent>,
    out: &mut Vec<u8>,
) {
    let Ok(packet) = Packet::parse(datagram) else {
        return;
    };
    let (remote, peer) = {
        let mut s = me.state.lock().expect("media state");
        if !s.latched
            && let Some(r) = s.remote.as_mut()
        {
            r.addr = from;
            s.latched = true;
        }
        let peer = match &s.mode {
            Mode::Bridge(p) => p.upgrade(),
            _ => None,
        };
        (s.remote, peer)
    };
    let Some(remote) = remote else { return };
    if remote.events == Some(packet.payload_type) {
        if let Some(ev) = TelephoneEvent::parse(packet.payload)
            && let Some(key) = keys.push(packet.timestamp, ev)
        {
            let _ = events.send(MediaEvent::Key(key));
        }
        if let Some(peer) = peer {
            relay_event(&peer, &packet, out).await;
        }
        return;
    }
    let (Some(peer), Some(from_codec)) = (peer, Codec::from_payload_type(packet.payload_type))
    else {
        return;
    };
    // Relayed audio continues the peer-facing stream (its SSRC, sequence and timestamps), so
    // the peer's jitter buffer sees one stream from ringback through the conversation.
    let (target, seq, timestamp, ssrc) = {
        let mut p = peer.state.lock().expect("media state");
        let Some(target) = p.remote else { return };
        p.seq = p.seq.wrapping_add(1);
        p.timestamp = p.timestamp.wrapping_add(packet.payload.len() as u32);
        (target, p.seq, p.timestamp, p.ssrc)
    };
    let payload = transcode(from_codec, target.codec, packet.payload);
    Packet {
        marker: packet.marker,
        payload_type: target.codec.payload_type(),
        seq,
        timestamp,
        ssrc,
        payload: &payload,
    }
    .write(out);
    let _ = peer.socket.send_to(out, target.addr).await;
}

async fn relay_event(peer: &Arc<Shared>, packet: &Packet<'_>, out: &mut Vec<u8>) {
    let (target, seq, timestamp, ssrc) = {
        let mut p = peer.state.lock().expect("media state");
        p.seq = p.seq.wrapping_add(1);
        (p.remote, p.seq, p.timestamp, p.ssrc)
    };
    if let Some(Remote {
        addr,
        events: Some(pt),
        ..
    }) = target
    {
        Packet {
            payload_type: pt,
            seq,
            timestamp,
            ssrc,
            ..packet.clone()
        }
        .write(out);
        let _ = peer.socket.send_to(out, addr).await;
    }
}

/// The next 20 ms frame this leg plays, if it is playing.
fn next_frame(
    me: &Arc<Shared>,
    events: &mpsc::UnboundedSender<MediaEvent>,
    out: &mut Vec<u8>,
) -> Option<(SocketAddr, Vec<u8>)> {
    let mut s = me.state.lock().expect("media state");
    let remote = s.remote?;
    let State {
        mode,
        seq,
        timestamp,
        ssrc,
        ..
    } = &mut *s;
    let Mode::Play { queue, pos, then } = mode else {
        return None;
    };
    let mut samples = [0i16; FRAME];
    let mut filled = 0;
    let mut marker = false;
    while filled < FRAME {
        let sound = match queue.front() {
            Some(s) => s.clone(),
            None => match then {
                Some(t) if !t.is_empty() => t.clone(),
                _ => break,
            },
        };
        let take = (sound.len() - (*pos).min(sound.len())).min(FRAME - filled);
        samples[filled..filled + take].copy_from_slice(&sound[*pos..*pos + take]);
        filled += take;
        *pos += take;
        if *pos >= sound.len() {
            *pos = 0;
            if queue.pop_front().is_some() && queue.is_empty() && then.is_none() {
                let _ = events.send(MediaEvent::Played);
                marker = true;
            }
        }
    }
    if filled == 0 {
        *mode = Mode::Silent;
        return None;
    }
    let payload: Vec<u8> = samples.iter().map(|x| remote.codec.encode(*x)).collect();
    *seq = seq.wrapping_add(1);
    *timestamp = timestamp.wrapping_add(FRAME as u32);
    let mut frame = std::mem::take(out);
    Packet {
        marker,
        payload_type: remote.codec.payload_type(),
        seq: *seq,
        timestamp: *timestamp,
        ssrc: *ssrc,
        payload: &payload,
    }
    .write(&mut frame);
    Some((remote.addr, frame))
}
