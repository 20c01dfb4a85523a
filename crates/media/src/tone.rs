//! Tones: the sounds a caller hears (ringback, the callback prompt's beeps, the hold melody)
//! and the Goertzel detector the tests use to check that a tone arrived.

use std::f64::consts::TAU;

pub const RATE: u32 = 8_000;
/// Samples in one 20 ms frame.
pub const FRAME: usize = 160;

/// `ms` milliseconds of the sum of `freqs` (each at `level` of full scale), or of silence.
pub fn tone(freqs: &[f64], level: f64, ms: u32) -> Vec<i16> {
    let n = (RATE * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let v: f64 = freqs.iter().map(|f| (TAU * f * t).sin()).sum();
            (v * level * 32_767.0 / freqs.len().max(1) as f64) as i16
        })
        .collect()
}

/// North American ringback: 440 + 480 Hz, two seconds on, four off.
pub fn ringback() -> Vec<i16> {
    let mut s = tone(&[440.0, 480.0], 0.25, 2_000);
    s.extend(tone(&[], 0.0, 4_000));
    s
}

/// A soft four-note phrase for hold when no hold file is configured.
pub fn hold_melody() -> Vec<i16> {
    let mut s = Vec::new();
    for f in [392.0, 494.0, 587.0, 494.0] {
        s.extend(tone(&[f], 0.15, 450));
        s.extend(tone(&[], 0.0, 50));
    }
    s.extend(tone(&[], 0.0, 1_000));
    s
}

/// Two short beeps: said before an announcement and as the callback offer's cue.
pub fn beeps(count: usize) -> Vec<i16> {
    let mut s = Vec::new();
    for _ in 0..count {
        s.extend(tone(&[1_000.0], 0.3, 150));
        s.extend(tone(&[], 0.0, 150));
    }
    s
}

/// The power of `freq` in `samples` relative to their total power (0 to 1): the Goertzel
/// algorithm, one frequency bin.
pub fn relative_power(samples: &[i16], freq: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let n = samples.len() as f64;
    let k = (n * freq / f64::from(RATE)).round();
    let w = TAU * k / n;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &x in samples {
        let x = f64::from(x);
        energy += x * x;
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        (2.0 * power / (n * energy)).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goertzel_finds_the_tone_and_not_others() {
        let a = tone(&[1_000.0], 0.5, 500);
        assert!(relative_power(&a, 1_000.0) > 0.9);
        assert!(relative_power(&a, 1_400.0) < 0.01);
        let pair = tone(&[440.0, 480.0], 0.5, 500);
        assert!(relative_power(&pair, 440.0) > 0.4);
        assert!(relative_power(&pair, 480.0) > 0.4);
        assert!(relative_power(&pair, 1_000.0) < 0.01);
        assert_eq!(relative_power(&tone(&[], 0.0, 100), 440.0), 0.0);
        assert_eq!(relative_power(&[], 440.0), 0.0);
    }

    #[test]
    fn through_g711_the_tone_survives() {
        use crate::g711::Codec;
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let back: Vec<i16> = tone(&[1_000.0], 0.3, 500)
                .into_iter()
                .map(|s| codec.decode(codec.encode(s)))
                .collect();
            assert!(relative_power(&back, 1_000.0) > 0.9, "{codec:?}");
        }
    }

    #[test]
    fn ringback_has_its_cadence() {
        let r = ringback();
        assert_eq!(r.len(), 6 * RATE as usize);
        assert!(relative_power(&r[..16_000], 440.0) > 0.3);
        assert!(r[16_000..].iter().all(|s| *s == 0));
    }
}
