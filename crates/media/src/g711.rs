//! G.711 (ITU-T): 8-bit μ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8)
//! companding of 16-bit linear samples.

/// A G.711 law, by its static RTP payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn from_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(sample),
            Codec::Pcma => alaw_encode(sample),
        }
    }

    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_decode(byte),
            Codec::Pcma => alaw_decode(byte),
        }
    }
}

// The reference algorithms (ITU-T G.711 as in the Sun reference implementation).
const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8_159;
const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

fn segment(value: i32, ends: &[i32; 8]) -> i32 {
    ends.iter()
        .position(|e| value <= *e)
        .map_or(8, |i| i as i32)
}

pub fn ulaw_encode(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    let v = v.min(ULAW_CLIP) + (ULAW_BIAS >> 2);
    let seg = segment(v, &SEG_UEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    (((seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask) as u8
}

pub fn ulaw_decode(byte: u8) -> i16 {
    let u = i32::from(!byte);
    let t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

pub fn alaw_encode(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = segment(v, &SEG_AEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mantissa = if seg < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> seg) & 0x0F
    };
    (((seg << 4) | mantissa) ^ mask) as u8
}

pub fn alaw_decode(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Re-encodes one frame from one law to the other (the relay's only transcoding).
pub fn transcode(from: Codec, to: Codec, payload: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if from == to {
        return payload.into();
    }
    payload
        .iter()
        .map(|b| to.encode(from.decode(*b)))
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        // ITU-T G.711 reference points.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_round_trips_through_linear() {
        for b in 0..=255u8 {
            assert_eq!(
                ulaw_decode(ulaw_encode(ulaw_decode(b))),
                ulaw_decode(b),
                "μ {b:#x}"
            );
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A {b:#x}");
        }
    }

    proptest! {
        #[test]
        fn error_is_within_the_segment_step(s in any::<i16>()) {
            for codec in [Codec::Pcmu, Codec::Pcma] {
                let back = i32::from(codec.decode(codec.encode(s)));
                let err = (back - i32::from(s)).abs();
                // The quantisation step grows with the magnitude: at most 1/16 of it, plus the
                // smallest step.
                prop_assert!(err <= (i32::from(s).abs() / 16) + 16, "{codec:?} {s} -> {back}");
            }
        }

        #[test]
        fn encoding_is_monotonic(a in any::<i16>(), b in any::<i16>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for codec in [Codec::Pcmu, Codec::Pcma] {
                prop_assert!(codec.decode(codec.encode(lo)) <= codec.decode(codec.encode(hi)));
            }
        }
    }
}
