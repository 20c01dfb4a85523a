//! The telephony configuration (`[sip]` in switchboard.toml).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Where SIP (UDP) is heard. Port 0 lets the system choose (tests).
    pub listen: SocketAddr,
    /// The address put in SDP for RTP; the listen address when unset (it must not be
    /// 0.0.0.0 then).
    pub media_ip: Option<IpAddr>,
    /// RTP ports to use, `[first, last]`; the system chooses when unset.
    pub rtp_ports: Option<[u16; 2]>,
    /// The digest realm and the host part of the center's own URIs.
    pub domain: String,
    /// Dialled number (the Request-URI's user part) → queue id.
    pub numbers: BTreeMap<String, u64>,
    /// Call-takers' softphones: the SIP user of each ACD agent is its `user` in the ACD
    /// configuration.
    pub accounts: Vec<SipAccount>,
    /// Calls in progress at most; beyond it INVITEs get 503 with Retry-After.
    pub max_calls: usize,
    /// Seconds a refused caller is asked to wait before trying again.
    pub retry_after: u32,
    /// Where call detail records are appended (one JSON object per line); none when unset.
    pub cdr_file: Option<PathBuf>,
    /// Hold audio: an 8 kHz mono 16-bit WAV file; a built-in melody when unset.
    pub hold_file: Option<PathBuf>,
    /// Milliseconds of ringback a caller hears before hold audio.
    pub ringback_ms: u32,
    /// RFC 3261 T1 in milliseconds (500 by default; every transaction timer follows it).
    pub t1_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipAccount {
    pub user: String,
    /// The digest password a softphone registers with. From the environment or a file in
    /// production (`SWITCHBOARD_SIP__ACCOUNTS`), never the repository.
    #[serde(default)]
    pub password: Option<String>,
    /// A fixed contact for a phone that does not register (a desk phone on a static
    /// address, or a load generator).
    #[serde(default)]
    pub contact: Option<String>,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5060".parse().expect("an address"),
            media_ip: None,
            rtp_ports: None,
            domain: "switchboard.invalid".to_owned(),
            numbers: BTreeMap::from([("1000".to_owned(), 1), ("1001".to_owned(), 2)]),
            accounts: Vec::new(),
            max_calls: 500,
            retry_after: 5,
            cdr_file: None,
            hold_file: None,
            ringback_ms: 4_000,
            t1_ms: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("sip.media_ip must be set when sip.listen is the unspecified address")]
    MediaIp,
    #[error("sip.rtp_ports must be [first, last] with first <= last")]
    Ports,
    #[error("sip.accounts: {0} has neither a password nor a contact")]
    Account(String),
    #[error("sip.accounts: {0} appears twice")]
    Duplicate(String),
    #[error("sip.max_calls must be at least 1")]
    MaxCalls,
    #[error(transparent)]
    Sound(#[from] switchboard_media::sound::SoundError),
}

impl SipConfig {
    pub fn media_ip(&self) -> Result<IpAddr, ConfigError> {
        match self.media_ip {
            Some(ip) => Ok(ip),
            None if self.listen.ip().is_unspecified() => Err(ConfigError::MediaIp),
            None => Ok(self.listen.ip()),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.media_ip()?;
        if let Some([a, b]) = self.rtp_ports
            && a > b
        {
            return Err(ConfigError::Ports);
        }
        if self.max_calls == 0 {
            return Err(ConfigError::MaxCalls);
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.password.is_none() && a.contact.is_none() {
                return Err(ConfigError::Account(a.user.clone()));
            }
            if !seen.insert(&a.user) {
                return Err(ConfigError::Duplicate(a.user.clone()));
            }
        }
        Ok(())
    }
}
