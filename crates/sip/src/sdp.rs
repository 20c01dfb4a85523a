//! The little SDP (RFC 4566, offer/answer per RFC 3264) an audio-only G.711 call needs: the
//! peer's address and port, its codecs in order of preference, and its telephone-event
//! payload type; and our offers and answers.

use std::net::{IpAddr, SocketAddr};

use switchboard_media::{Codec, Remote};

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("no audio stream in the SDP")]
    NoAudio,
    #[error("no connection address for the audio stream")]
    NoAddress,
    #[error("the audio stream offers neither PCMU nor PCMA")]
    NoCodec,
    #[error("the SDP is not text")]
    NotText,
    #[error("malformed SDP line: {0}")]
    Malformed(String),
}

/// The peer's audio stream, as its SDP describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub addr: SocketAddr,
    /// The G.711 codecs offered, in the peer's order.
    pub codecs: Vec<Codec>,
    pub events: Option<u8>,
}

impl Audio {
    /// What we send to: the peer's first G.711 codec.
    pub fn remote(&self) -> Remote {
        Remote {
            addr: self.addr,
            codec: self.codecs[0],
            events: self.events,
        }
    }
}

pub fn parse(body: &[u8]) -> Result<Audio, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut in_audio = false;
    let mut events = None;
    let mut seen_audio = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (kind, value) = line
            .split_once('=')
            .filter(|(k, _)| k.len() == 1)
            .ok_or_else(|| SdpError::Malformed(line.chars().take(60).collect()))?;
        match kind {
            "m" => {
                in_audio = false;
                let mut parts = value.split_whitespace();
                if parts.next() == Some("audio") && !seen_audio {
                    let port = parts
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or_else(|| SdpError::Malformed(line.to_owned()))?;
                    let _proto = parts.next();
                    let pts = parts.filter_map(|p| p.parse::<u8>().ok()).collect();
                    audio = Some((port, pts));
                    in_audio = true;
                    seen_audio = true;
                }
            }
            "c" => {
                let ip = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .ok_or_else(|| SdpError::Malformed(line.to_owned()))?;
                if in_audio {
                    media_ip = Some(ip);
                } else if !seen_audio {
                    session_ip = Some(ip);
                }
            }
            "a" if in_audio => {
                if let Some(rest) = value.strip_prefix("rtpmap:")
                    && let Some((pt, name)) = rest.split_once(' ')
                    && name
                        .to_ascii_lowercase()
                        .starts_with("telephone-event/8000")
                {
                    events = pt.parse::<u8>().ok();
                }
            }
            _ => {}
        }
    }
    let (port, pts) = audio.ok_or(SdpError::NoAudio)?;
    let ip = media_ip.or(session_ip).ok_or(SdpError::NoAddress)?;
    let codecs: Vec<Codec> = pts
        .iter()
        .filter_map(|pt| Codec::from_payload_type(*pt))
        .collect();
    if codecs.is_empty() {
        return Err(SdpError::NoCodec);
    }
    let events = events.filter(|e| pts.contains(e));
    Ok(Audio {
        addr: SocketAddr::new(ip, port),
        codecs,
        events,
    })
}

/// Our telephone-event payload type.
pub const EVENTS: u8 = 101;

/// An offer of PCMU, PCMA and telephone events on `local`.
pub fn offer(local: SocketAddr, session: u64) -> Vec<u8> {
    describe(local, session, &[Codec::Pcmu, Codec::Pcma], Some(EVENTS))
}

/// The answer to `offer`: its first G.711 codec, and telephone events if it offered them.
pub fn answer(local: SocketAddr, session: u64, offer: &Audio) -> Vec<u8> {
    describe(local, session, &offer.codecs[..1], offer.events)
}

fn describe(local: SocketAddr, session: u64, codecs: &[Codec], events: Option<u8>) -> Vec<u8> {
    let ip = local.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    if let Some(e) = events {
        pts.push(e.to_string());
    }
    let mut s = format!(
        "v=0\r\no=switchboard {session} {session} IN {family} {ip}\r\ns=switchboard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        local.port(),
        pts.join(" ")
    );
    for c in codecs {
        s.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            c.payload_type(),
            c.name()
        ));
    }
    if let Some(e) = events {
        s.push_str(&format!(
            "a=rtpmap:{e} telephone-event/8000\r\na=fmtp:{e} 0-15\r\n"
        ));
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn a_softphone_offer() {
        let a = parse(BARESIP.as_bytes()).unwrap();
        assert_eq!(a.addr, "127.0.0.1:10000".parse().unwrap());
        assert_eq!(a.codecs, vec![Codec::Pcma, Codec::Pcmu]);
        assert_eq!(a.events, Some(101));
        let ans = String::from_utf8(answer("127.0.0.1:20000".parse().unwrap(), 7, &a)).unwrap();
        assert!(ans.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{ans}");
        let back = parse(ans.as_bytes()).unwrap();
        assert_eq!(back.codecs, vec![Codec::Pcma]);
        assert_eq!(back.events, Some(101));
    }

    #[test]
    fn media_level_address_wins_and_other_streams_are_ignored() {
        let sdp = "v=0\nc=IN IP4 10.0.0.1\nm=video 5000 RTP/AVP 96\nm=audio 4000 RTP/AVP 0\nc=IN IP4 10.0.0.2\n";
        let a = parse(sdp.as_bytes()).unwrap();
        assert_eq!(a.addr, "10.0.0.2:4000".parse().unwrap());
        assert_eq!(a.events, None);
        let ours = String::from_utf8(offer("[::1]:3000".parse().unwrap(), 1)).unwrap();
        assert!(ours.contains("c=IN IP6 ::1"));
        assert_eq!(
            parse(ours.as_bytes()).unwrap().codecs,
            vec![Codec::Pcmu, Codec::Pcma]
        );
    }

    #[test]
    fn unusable_offers_are_named() {
        assert_eq!(
            parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(
            parse(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Err(SdpError::NoAddress)
        );
        assert_eq!(
            parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18 9\r\n"),
            Err(SdpError::NoCodec)
        );
        assert!(matches!(parse(b"garbage"), Err(SdpError::Malformed(_))));
        assert!(matches!(
            parse(b"c=IN IP4 nonsense\r\n"),
            Err(SdpError::Malformed(_))
        ));
        assert_eq!(parse(&[0xFF, 0xFE]), Err(SdpError::NotText));
        assert!(matches!(
            parse(b"m=audio port RTP/AVP 0\r\n"),
            Err(SdpError::Malformed(_))
        ));
    }
}
