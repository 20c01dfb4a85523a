//! Sounds to play: 8 kHz linear samples, from WAV files or made by [`crate::tone`].

use std::path::Path;
use std::sync::Arc;

use crate::tone::RATE;

/// A sound, shared between every call that plays it.
pub type Sound = Arc<[i16]>;

#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: hound::Error,
    },
    #[error(
        "{path}: must be 8,000 Hz mono 16-bit PCM (it is {rate} Hz, {channels} channels, {bits}-bit)"
    )]
    Format {
        path: String,
        rate: u32,
        channels: u16,
        bits: u16,
    },
}

/// Reads an 8 kHz mono 16-bit PCM WAV file (what telephony prompts are recorded as).
pub fn read_wav(path: &Path) -> Result<Sound, SoundError> {
    let name = path.display().to_string();
    let reader = hound::WavReader::open(path).map_err(|source| SoundError::Read {
        path: name.clone(),
        source,
    })?;
    let spec = reader.spec();
    if spec.sample_rate != RATE
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(SoundError::Format {
            path: name,
            rate: spec.sample_rate,
            channels: spec.channels,
            bits: spec.bits_per_sample,
        });
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map(Sound::from)
        .map_err(|source| SoundError::Read { path: name, source })
}

/// Writes samples as an 8 kHz mono 16-bit WAV file (the tests record what a leg hears).
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for s in samples {
        w.write_sample(*s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_and_wrong_formats_are_named() {
        let dir = std::env::temp_dir().join(format!("sb-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.wav");
        let samples = crate::tone::tone(&[440.0], 0.5, 100);
        write_wav(&path, &samples).unwrap();
        assert_eq!(&*read_wav(&path).unwrap(), &samples[..]);

        let stereo = dir.join("s.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        let e = read_wav(&stereo).unwrap_err().to_string();
        assert!(e.contains("44100 Hz, 2 channels"), "{e}");
        assert!(read_wav(&dir.join("missing.wav")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
