//! RTP packets (RFC 3550) and RFC 4733 telephone events.

/// Why a datagram is not an RTP packet we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("shorter than an RTP header")]
    Short,
    #[error("not RTP version 2")]
    Version,
    #[error("the header's lengths run past the datagram")]
    Truncated,
}

/// A parsed RTP packet, borrowing its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < 12 {
            return Err(RtpError::Short);
        }
        if buf[0] >> 6 != 2 {
            return Err(RtpError::Version);
        }
        let padding = buf[0] & 0x20 != 0;
        let extension = buf[0] & 0x10 != 0;
        let csrc = usize::from(buf[0] & 0x0F);
        let mut start = 12 + 4 * csrc;
        if extension {
            let words = buf.get(start + 2..start + 4).ok_or(RtpError::Truncated)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        let mut end = buf.len();
        if padding {
            let pad = usize::from(*buf.last().expect("at least 12 bytes"));
            end = end.checked_sub(pad).ok_or(RtpError::Truncated)?;
        }
        if start > end {
            return Err(RtpError::Truncated);
        }
        Ok(Packet {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7F,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            payload: &buf[start..end],
        })
    }

    /// Writes the packet (no CSRCs, extension or padding) into `out`, replacing its contents.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(self.payload);
    }
}

/// An RFC 4733 telephone event (a DTMF key) from one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0-9 are the digits, 10 is `*`, 11 is `#`, 12-15 are A-D.
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        if payload.len() < 4 {
            return None;
        }
        Some(TelephoneEvent {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3F,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The key it stands for.
    pub fn key(self) -> Option<char> {
        match self.event {
            0..=9 => Some(char::from(b'0' + self.event)),
            10 => Some('*'),
            11 => Some('#'),
            12..=15 => Some(char::from(b'A' + self.event - 12)),
            _ => None,
        }
    }
}

/// Turns a stream of telephone-event packets into key presses: an event is one press however
/// many packets (and retransmitted end packets) carry it; RFC 4733 ties them by timestamp.
#[derive(Debug, Default)]
pub struct KeyDetector {
    last: Option<u32>,
}

impl KeyDetector {
    /// The key this packet starts, if it starts one.
    pub fn push(&mut self, timestamp: u32, event: TelephoneEvent) -> Option<char> {
        if self.last == Some(timestamp) {
            return None;
        }
        self.last = Some(timestamp);
        event.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let payload = [1u8, 2, 3];
        let p = Packet {
            marker: true,
            payload_type: 8,
            seq: 65_535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 42,
            payload: &payload,
        };
        let mut buf = Vec::new();
        p.write(&mut buf);
        assert_eq!(Packet::parse(&buf), Ok(p));
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let mut buf = vec![0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        buf.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        buf.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension of one word
        buf.extend_from_slice(&[0xAA, 0xBB]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = Packet::parse(&buf).unwrap();
        assert_eq!(p.payload, &[0xAA, 0xBB]);
    }

    #[test]
    fn malformed_packets_are_refused() {
        assert_eq!(Packet::parse(&[0x80; 11]), Err(RtpError::Short));
        assert_eq!(Packet::parse(&[0x40; 12]), Err(RtpError::Version));
        let mut csrc = vec![0x8F; 1];
        csrc.extend_from_slice(&[0; 11]);
        assert_eq!(Packet::parse(&csrc), Err(RtpError::Truncated));
        let mut pad = vec![0xA0];
        pad.extend_from_slice(&[0; 10]);
        pad.push(200);
        assert_eq!(Packet::parse(&pad), Err(RtpError::Truncated));
    }

    #[test]
    fn dtmf_events_become_one_press_each() {
        let mut d = KeyDetector::default();
        let one = TelephoneEvent {
            event: 1,
            end: false,
            volume: 10,
            duration: 160,
        };
        assert_eq!(TelephoneEvent::parse(&one.to_bytes()), Some(one));
        assert_eq!(d.push(1000, one), Some('1'));
        assert_eq!(
            d.push(
                1000,
                TelephoneEvent {
                    duration: 320,
                    ..one
                }
            ),
            None
        );
        assert_eq!(d.push(1000, TelephoneEvent { end: true, ..one }), None);
        assert_eq!(d.push(1000, TelephoneEvent { end: true, ..one }), None);
        let star = TelephoneEvent { event: 10, ..one };
        assert_eq!(d.push(2000, star), Some('*'));
        assert_eq!(TelephoneEvent { event: 11, ..one }.key(), Some('#'));
        assert_eq!(TelephoneEvent { event: 15, ..one }.key(), Some('D'));
        assert_eq!(TelephoneEvent { event: 16, ..one }.key(), None);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Packet::parse(&buf);
        }
    }
}
