//! Configuration: defaults, then `switchboard.toml`, then `SWITCHBOARD_*` environment
//! variables, then command-line flags, each layer overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on (`SWITCHBOARD_LISTEN`).
    pub listen: SocketAddr,
    /// Database URL, `sqlite://…` or `postgres://…` (`SWITCHBOARD_DATABASE_URL`). When unset,
    /// an SQLite file `switchboard.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Folder for the embedded database and other local state (`SWITCHBOARD_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Log filter in `tracing` syntax, e.g. `info,switchboard_web=debug` (`SWITCHBOARD_LOG`).
    pub log: String,
    /// `text` for people, `json` for log collectors (`SWITCHBOARD_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// The call distributor's configuration file (TOML, like `examples/acd.toml`, which is
    /// the default when unset) (`SWITCHBOARD_ACD`).
    pub acd: Option<PathBuf>,
    /// Records last updated longer ago than this many days are stale for the rules: they give
    /// "unable to confirm" (`SWITCHBOARD_MAX_RECORD_AGE_DAYS`, 1 to 3650).
    pub max_record_age_days: i64,
    /// How many days an approved legal determination stands, unless the subject's file
    /// changes first (`SWITCHBOARD_DETERMINATION_DAYS`, 1 to 3650).
    pub determination_days: i64,
    /// The audit log's name, signed into its checkpoints (`SWITCHBOARD_AUDIT_ORIGIN`).
    pub audit_origin: String,
    /// The file holding the audit log's Ed25519 signing seed, 64 hex digits
    /// (`SWITCHBOARD_AUDIT_KEY_FILE`). When unset, `audit.key` in `data_dir`, created with a
    /// fresh random key the first time the server starts. Keep it out of the repository.
    pub audit_key_file: Option<PathBuf>,
    /// The file holding the key that seals the accounts' TOTP seeds in the database, 64 hex
    /// digits (`SWITCHBOARD_TOTP_KEY_FILE`). When unset, `totp.key` in `data_dir`, created
    /// with a fresh random key while no sealed seed exists. Keep it out of the database's
    /// backups' reach, and back it up apart.
    pub totp_key_file: Option<PathBuf>,
    /// A file holding the token that opens `/metrics` to other machines
    /// (`SWITCHBOARD_METRICS_TOKEN_FILE`; `Authorization: Bearer <token>`). Without it,
    /// `/metrics` answers only clients on this machine.
    pub metrics_token_file: Option<PathBuf>,
    /// Whether session cookies carry `Secure` (`SWITCHBOARD_COOKIE_SECURE`). Browsers treat
    /// `http://localhost` as secure, so this stays on except behind odd proxies.
    pub cookie_secure: bool,
    /// Telephony (`[sip]`): where SIP is heard, the center's numbers, the call-takers'
    /// softphone accounts. Off when absent (the demo turns it on at 127.0.0.1:5060).
    #[serde(default)]
    pub sip: Option<switchboard_sip::SipConfig>,
    /// Live records (`[records]`): feed freshness limits and how the record index is kept.
    #[serde(default)]
    pub records: RecordsConfig,
    /// Admission control (`[admission]`): how much the web server takes on at once and how
    /// fast one address or one session may send.
    #[serde(default)]
    pub admission: AdmissionConfig,
}

/// `[admission]`: the web server's bounds. Behind a reverse proxy every request comes from the
/// proxy's address: raise the per-address budget to what the whole center sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// Requests worked on at once (event streams apart); more are answered 503 at once
    /// (1 to 100,000).
    pub max_in_flight: usize,
    /// Event streams open at once (1 to 100,000).
    pub max_streams: usize,
    /// Seconds a read may take before it is answered 503 (1 to 3,600).
    pub read_timeout_seconds: u64,
    /// Requests per second one client address may send on average, and in a burst
    /// (1 to 1,000,000); more are answered 429.
    pub per_address_per_second: u32,
    pub per_address_burst: u32,
    /// Requests per second one session may send on average, and in a burst (1 to 1,000,000).
    pub per_session_per_second: u32,
    pub per_session_burst: u32,
    /// Requests a minute each partner agency's keys may send together (1 to 1,000,000).
    pub partner_requests_per_minute: u32,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        let d = switchboard_web::admission::AdmissionLimits::default();
        Self {
            max_in_flight: d.max_in_flight,
            max_streams: d.max_streams,
            read_timeout_seconds: d.request_timeout.as_secs(),
            per_address_per_second: d.source_rate as u32,
            per_address_burst: d.source_burst as u32,
            per_session_per_second: d.session_rate as u32,
            per_session_burst: d.session_burst as u32,
            partner_requests_per_minute: switchboard_web::api::partner::DEFAULT_PER_MINUTE,
        }
    }
}

impl AdmissionConfig {
    /// Each bound within its documented range.
    fn check(&self) -> anyhow::Result<()> {
        let counts = [
            ("max_in_flight", self.max_in_flight as u64, 100_000),
            ("max_streams", self.max_streams as u64, 100_000),
            ("read_timeout_seconds", self.read_timeout_seconds, 3_600),
            (
                "per_address_per_second",
                self.per_address_per_second.into(),
                1_000_000,
            ),
            (
                "per_address_burst",
                self.per_address_burst.into(),
                1_000_000,
            ),
            (
                "per_session_per_second",
                self.per_session_per_second.into(),
                1_000_000,
            ),
            (
                "per_session_burst",
                self.per_session_burst.into(),
                1_000_000,
            ),
            (
                "partner_requests_per_minute",
                self.partner_requests_per_minute.into(),
                1_000_000,
            ),
        ];
        for (name, value, most) in counts {
            if !(1..=most).contains(&value) {
                anyhow::bail!("admission.{name} must be 1 to {most}, not {value}");
            }
        }
        Ok(())
    }

    /// The web server's limits.
    pub fn limits(&self) -> switchboard_web::admission::AdmissionLimits {
        switchboard_web::admission::AdmissionLimits {
            max_in_flight: self.max_in_flight,
            max_streams: self.max_streams,
            request_timeout: std::time::Duration::from_secs(self.read_timeout_seconds),
            session_rate: self.per_session_per_second.into(),
            session_burst: self.per_session_burst.into(),
            source_rate: self.per_address_per_second.into(),
            source_burst: self.per_address_burst.into(),
        }
    }
}

/// `[records]`: how far behind each record system's feed may be, and how the record index is
/// kept current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// Minutes each system's feed may be behind before evaluations are "unable to confirm"
    /// (1 to 525,600), by system name; a system left out gets 1,440 (a day); 0 sets no limit
    /// (a system no feed vouches for, whose records are then judged whatever their age).
    pub max_lag_minutes: std::collections::BTreeMap<String, i64>,
    /// The record index's snapshot file; default `index.snapshot` in `data_dir`.
    pub snapshot: Option<PathBuf>,
    /// Write no snapshot (every start builds the index from the database).
    pub no_snapshot: bool,
    /// Minutes between snapshots while records change (1 to 1,440).
    pub snapshot_minutes: u64,
    /// Rows filed or dropped in place after which the index is rebuilt and retrained.
    pub rebuild_after_changes: usize,
    /// Hours between scheduled retrainings (0: none on a schedule).
    pub retrain_hours: u64,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        Self {
            max_lag_minutes: Default::default(),
            snapshot: None,
            no_snapshot: false,
            snapshot_minutes: 10,
            rebuild_after_changes: 1_000_000,
            retrain_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("data"),
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            acd: None,
            max_record_age_days: 180,
            determination_days: switchboard_web::DEFAULT_DETERMINATION_DAYS,
            audit_origin: "switchboard".to_owned(),
            audit_key_file: None,
            totp_key_file: None,
            metrics_token_file: None,
            cookie_secure: true,
            sip: None,
            records: RecordsConfig::default(),
            admission: AdmissionConfig::default(),
        }
    }
}

/// The flags that override configuration; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl Config {
    /// Layers the configuration. A missing file is fine (defaults apply); a file that exists
    /// but does not parse, or names an unknown key, is an error.
    pub fn load(file: &Path, overrides: &Overrides) -> anyhow::Result<Self> {
        let c: Self = Self::figment(file, overrides).extract()?;
        if !(1..=3650).contains(&c.max_record_age_days) {
            anyhow::bail!(
                "max_record_age_days must be 1 to 3650, not {}",
                c.max_record_age_days
            );
        }
        for (system, minutes) in &c.records.max_lag_minutes {
            if switchboard_domain::records::System::parse(system).is_none() {
                anyhow::bail!("records.max_lag_minutes: {system:?} is not a record system");
            }
            if !(0..=525_600).contains(minutes) {
                anyhow::bail!(
                    "records.max_lag_minutes.{system} must be 0 (no limit) to 525600, not {minutes}"
                );
            }
        }
        if !(1..=1440).contains(&c.records.snapshot_minutes) {
            anyhow::bail!(
                "records.snapshot_minutes must be 1 to 1440, not {}",
                c.records.snapshot_minutes
            );
        }
        if c.records.rebuild_after_changes == 0 {
            anyhow::bail!("records.rebuild_after_changes must be at least 1");
        }
        c.admission.check()?;
        if !(1..=3650).contains(&c.determination_days) {
            anyhow::bail!(
                "determination_days must be 1 to 3650, not {}",
                c.determination_days
            );
        }
        Ok(c)
    }

    fn figment(file: &Path, overrides: &Overrides) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("SWITCHBOARD_").only(&[
                "listen",
                "database_url",
                "data_dir",
                "log",
                "log_format",
                "acd",
                "max_record_age_days",
                "determination_days",
                "audit_origin",
                "audit_key_file",
                "totp_key_file",
                "cookie_secure",
            ]))
            .merge(Serialized::defaults(overrides))
    }

    /// The metrics token, read from its file (at least 16 characters).
    pub fn metrics_token(&self) -> anyhow::Result<Option<String>> {
        let Some(path) = &self.metrics_token_file else {
            return Ok(None);
        };
        let token = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("metrics_token_file {}: {e}", path.display()))?
            .trim()
            .to_owned();
        if token.chars().count() < 16 {
            anyhow::bail!(
                "metrics_token_file {}: the token must be at least 16 characters",
                path.display()
            );
        }
        Ok(Some(token))
    }

    /// Each record system's most minutes behind.
    pub fn feed_max_lag(&self) -> Vec<(switchboard_domain::records::System, i64)> {
        switchboard_domain::records::System::ALL
            .iter()
            .filter_map(|s| {
                let m = self
                    .records
                    .max_lag_minutes
                    .get(s.as_str())
                    .copied()
                    .unwrap_or(switchboard_web::DEFAULT_FEED_MAX_LAG_MINUTES);
                (m > 0).then_some((*s, m))
            })
            .collect()
    }

    /// How the record index is kept.
    pub fn live_options(&self, seed: u64) -> switchboard_web::lookup_index::LiveOptions {
        let r = &self.records;
        switchboard_web::lookup_index::LiveOptions {
            seed,
            snapshot: (!r.no_snapshot).then(|| {
                r.snapshot
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("index.snapshot"))
            }),
            snapshot_every: std::time::Duration::from_secs(r.snapshot_minutes * 60),
            rebuild_after_changes: r.rebuild_after_changes,
            retrain_every: (r.retrain_hours > 0)
                .then(|| std::time::Duration::from_secs(r.retrain_hours * 3600)),
        }
    }

    /// Where the audit signing seed lives.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    /// Where the TOTP sealing key lives.
    pub fn totp_key_path(&self) -> PathBuf {
        self.totp_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("totp.key"))
    }

    /// The database to open: the configured URL, or the default SQLite file.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.data_dir.join("switchboard.db")))
    }
}

/// The ACD configuration shipped with Switchboard: the 24/7 inquiry desk and the juvenile-
/// liaison desk (weekdays 08:00-17:00 New York time), 24 call-takers and 3 liaisons.
pub const DEFAULT_ACD: &str = include_str!("../../../examples/acd.toml");

impl Config {
    /// The call distributor's configuration: the named file, or the default.
    pub fn acd_config(&self) -> anyhow::Result<switchboard_acd::Config> {
        use anyhow::Context;
        let (text, source) = match &self.acd {
            Some(path) => (
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the ACD configuration {}", path.display()))?,
                path.display().to_string(),
            ),
            None => (
                DEFAULT_ACD.to_owned(),
                "the default ACD configuration".to_owned(),
            ),
        };
        let config: switchboard_acd::Config =
            toml::from_str(&text).with_context(|| format!("parsing {source}"))?;
        config
            .validate()
            .with_context(|| format!("checking {source}"))?;
        Ok(config)
    }
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn layers_override_in_order() {
        Jail::expect_with(|jail| {
            // Defaults alone.
            let c = Config::load(Path::new("absent.toml"), &Overrides::default()).unwrap();
            assert_eq!(c, Config::default());
            assert_eq!(c.database_url(), "sqlite://data/switchboard.db");

            jail.create_file(
                "switchboard.toml",
                "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\ndata_dir = \"/var/lib/sb\"\n",
            )?;
            let c = Config::load(Path::new("switchboard.toml"), &Overrides::default()).unwrap();
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.log, "debug");

            jail.set_env("SWITCHBOARD_LISTEN", "127.0.0.1:9100");
            jail.set_env("SWITCHBOARD_DATABASE_URL", "postgres://db/x");
            let c = Config::load(Path::new("switchboard.toml"), &Overrides::default()).unwrap();
            assert_eq!(c.listen.port(), 9100, "environment beats file");
            assert_eq!(c.log, "debug", "file still applies where env is silent");
            assert_eq!(c.database_url(), "postgres://db/x");

            let flags = Overrides {
                listen: Some("127.0.0.1:9200".parse().unwrap()),
                ..Default::default()
            };
            let c = Config::load(Path::new("switchboard.toml"), &flags).unwrap();
            assert_eq!(c.listen.port(), 9200, "flags beat environment");
            Ok(())
        });
    }

    #[test]
    fn feed_limits_are_per_system_with_zero_for_none() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "switchboard.toml",
                "[records.max_lag_minutes]\ncourt_order = 60\nidentity = 0\n",
            )?;
            let c = Config::load(Path::new("switchboard.toml"), &Overrides::default()).unwrap();
            let limits = c.feed_max_lag();
            let of = |s: &str| {
                limits
                    .iter()
                    .find(|(x, _)| x.as_str() == s)
                    .map(|(_, m)| *m)
            };
            assert_eq!(of("court_order"), Some(60));
            assert_eq!(of("identity"), None, "0: no limit");
            assert_eq!(of("immigration_case"), Some(1440));
            jail.create_file(
                "switchboard.toml",
                "[records.max_lag_minutes]\nidentity = -1\n",
            )?;
            let e = Config::load(Path::new("switchboard.toml"), &Overrides::default()).unwrap_err();
            assert!(
                format!("{e:#}").contains("must be 0 (no limit) to 525600"),
                "{e:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_default_acd_configuration_is_valid() {
        let c = Config::default().acd_config().unwrap();
        assert_eq!(c.queues.len(), 2);
        assert_eq!(c.agents.len(), 27);
        let juvenile = &c.queues[1];
        assert_eq!(juvenile.hours.weekly[0].open, jiff_time(8));
        assert_eq!(juvenile.hours.weekly[0].close, jiff_time(17));
        assert!(!juvenile.hours.holidays.is_empty());
    }

    fn jiff_time(h: i8) -> switchboard_acd::civil::Time {
        switchboard_acd::civil::time(h, 0, 0, 0)
    }

    #[test]
    fn a_bad_acd_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acd.toml");
        std::fs::write(&path, "time_zone = \"Mars/Base\"\n").unwrap();
        let c = Config {
            acd: Some(path.clone()),
            ..Config::default()
        };
        let e = format!("{:#}", c.acd_config().unwrap_err());
        assert!(e.contains("Mars/Base"), "{e}");
        std::fs::write(&path, "queues = 3\n").unwrap();
        let e = format!("{:#}", c.acd_config().unwrap_err());
        assert!(e.contains("parsing"), "{e}");
    }

    #[test]
    fn bad_files_are_errors_not_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listen = \"nowhere\"\n")?;
            let e = Config::load(Path::new("bad.toml"), &Overrides::default()).unwrap_err();
            assert!(e.to_string().contains("listen"), "{e}");
            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let e = Config::load(Path::new("typo.toml"), &Overrides::default()).unwrap_err();
            assert!(e.to_string().contains("lisen"), "{e}");
            Ok(())
        });
    }
}
