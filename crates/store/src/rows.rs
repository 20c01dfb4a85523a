//! Plain row shapes that both SQL backends decode into, and their one conversion into domain
//! records. A value the domain rejects here is reported as [`StoreError::Corrupt`]: input is
//! parsed at the API boundary, so a bad stored value means a bug or tampering.

use switchboard_domain::{
    Agency, AgencyId, AgencyKind, Agreement, AgreementId, AgreementModel, BadgeNumber, Call,
    CallId, CallState, E164, Inquiry, InquiryId, Name, Officer, OfficerId, Ori, PurposeCode, Role,
    Subject, User, UserId, Username,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

/// Turns a rejected stored value into [`StoreError::Corrupt`] naming the entity.
trait OrCorrupt<T> {
    fn or_corrupt(self, entity: &'static str) -> Result<T, StoreError>;
}

impl<T, E: std::fmt::Display> OrCorrupt<T> for Result<T, E> {
    fn or_corrupt(self, entity: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Corrupt {
            entity,
            message: e.to_string(),
        })
    }
}

/// The separator of phone numbers aggregated into one column; never part of an E.164 number.
pub const PHONE_SEPARATOR: char = ',';

#[derive(Debug)]
pub struct AgencyRow {
    pub id: Uuid,
    pub ori: String,
    pub name: String,
    pub kind: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<AgencyRow> for Agency {
    type Error = StoreError;
    fn try_from(r: AgencyRow) -> Result<Self, StoreError> {
        let c = "agency";
        Ok(Agency {
            id: AgencyId::from_uuid(r.id),
            ori: Ori::parse(&r.ori).or_corrupt(c)?,
            name: Name::parse(&r.name).or_corrupt(c)?,
            kind: AgencyKind::parse(&r.kind).or_corrupt(c)?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug)]
pub struct AgreementRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub model: String,
    pub signed_on: Date,
    pub expires_on: Date,
    pub terminated_on: Option<Date>,
    pub supervising_office_id: Uuid,
    pub max_certified_officers: i64,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<AgreementRow> for Agreement {
    type Error = StoreError;
    fn try_from(r: AgreementRow) -> Result<Self, StoreError> {
        let c = "agreement";
        Ok(Agreement {
            id: AgreementId::from_uuid(r.id),
            agency_id: AgencyId::from_uuid(r.agency_id),
            model: AgreementModel::parse(&r.model).or_corrupt(c)?,
            signed_on: r.signed_on,
            expires_on: r.expires_on,
            terminated_on: r.terminated_on,
            supervising_office_id: AgencyId::from_uuid(r.supervising_office_id),
            max_certified_officers: u32::try_from(r.max_certified_officers).or_corrupt(c)?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug)]
pub struct OfficerRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub given_name: String,
    pub family_name: String,
    pub badge: String,
    /// The officer's numbers in order, joined by [`PHONE_SEPARATOR`]; `None` when there are none.
    pub phones: Option<String>,
    pub certified_on: Option<Date>,
    pub certification_expires_on: Option<Date>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<OfficerRow> for Officer {
    type Error = StoreError;
    fn try_from(r: OfficerRow) -> Result<Self, StoreError> {
        let c = "officer";
        let phones = match r.phones.as_deref() {
            None | Some("") => Vec::new(),
            Some(s) => s
                .split(PHONE_SEPARATOR)
                .map(E164::parse)
                .collect::<Result<_, _>>()
                .or_corrupt(c)?,
        };
        Ok(Officer {
            id: OfficerId::from_uuid(r.id),
            agency_id: AgencyId::from_uuid(r.agency_id),
            given_name: Name::parse(&r.given_name).or_corrupt(c)?,
            family_name: Name::parse(&r.family_name).or_corrupt(c)?,
            badge: BadgeNumber::parse(&r.badge).or_corrupt(c)?,
            phones,
            certified_on: r.certified_on,
            certification_expires_on: r.certification_expires_on,
            active: r.active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let c = "user";
        Ok(User {
            id: UserId::from_uuid(r.id),
            username: Username::parse(&r.username).or_corrupt(c)?,
            display_name: Name::parse(&r.display_name).or_corrupt(c)?,
            role: Role::parse(&r.role).or_corrupt(c)?,
            active: r.active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug)]
pub struct CallRow {
    pub id: Uuid,
    pub ani_raw: String,
    pub ani: Option<String>,
    pub officer_id: Option<Uuid>,
    pub state: String,
    pub arrived_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
    pub ended_at: Option<OffsetDateTime>,
}

impl TryFrom<CallRow> for Call {
    type Error = StoreError;
    fn try_from(r: CallRow) -> Result<Self, StoreError> {
        let c = "call";
        Ok(Call {
            id: CallId::from_uuid(r.id),
            ani_raw: r.ani_raw,
            ani: r
                .ani
                .as_deref()
                .map(E164::parse)
                .transpose()
                .or_corrupt(c)?,
            officer_id: r.officer_id.map(OfficerId::from_uuid),
            state: CallState::parse(&r.state).or_corrupt(c)?,
            arrived_at: r.arrived_at,
            answered_at: r.answered_at,
            ended_at: r.ended_at,
        })
    }
}

#[derive(Debug)]
pub struct InquiryRow {
    pub id: Uuid,
    pub call_id: Option<Uuid>,
    pub officer_id: Option<Uuid>,
    /// The subject as JSON text.
    pub subject: String,
    pub purpose: String,
    pub reason: String,
    pub case_number: Option<String>,
    pub created_at: OffsetDateTime,
}

impl TryFrom<InquiryRow> for Inquiry {
    type Error = StoreError;
    fn try_from(r: InquiryRow) -> Result<Self, StoreError> {
        let c = "inquiry";
        Ok(Inquiry {
            id: InquiryId::from_uuid(r.id),
            call_id: r.call_id.map(CallId::from_uuid),
            officer_id: r.officer_id.map(OfficerId::from_uuid),
            subject: serde_json::from_str::<Subject>(&r.subject).or_corrupt(c)?,
            purpose: PurposeCode::parse(&r.purpose).or_corrupt(c)?,
            reason: Name::parse(&r.reason).or_corrupt(c)?,
            case_number: r
                .case_number
                .as_deref()
                .map(Name::parse)
                .transpose()
                .or_corrupt(c)?,
            created_at: r.created_at,
        })
    }
}

/// The subject of an inquiry as the JSON text both backends store.
pub fn subject_json(subject: &Subject) -> String {
    serde_json::to_string(subject).expect("a Subject always serialises")
}

/// Decodes a stored record document.
pub fn source_record(json: &str) -> Result<switchboard_domain::records::SourceRecord, StoreError> {
    serde_json::from_str(json).or_corrupt("source record")
}

/// Decodes a stored class injunction document.
pub fn class_injunction(
    json: &str,
) -> Result<switchboard_domain::records::ClassInjunction, StoreError> {
    serde_json::from_str(json).or_corrupt("class injunction")
}

/// Counts per system from `(system, count)` rows.
pub fn system_counts(
    rows: Vec<(String, i64)>,
) -> Result<Vec<(switchboard_domain::records::System, u64)>, StoreError> {
    rows.into_iter()
        .map(|(s, n)| {
            let system = switchboard_domain::records::System::parse(&s).ok_or_else(|| {
                StoreError::Corrupt {
                    entity: "source record",
                    message: format!("unknown system {s:?}"),
                }
            })?;
            Ok((system, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}

/// One entry of the call distributor's event log, as the ACD wrote it.
///
/// The store does not look inside `entry`: the `acd` crate owns its shape. `seq` is assigned by
/// the writer, starts at 1 and strictly increases; the store refuses a `seq` it already holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AcdLogEntry {
    /// The entry's place in the log.
    pub seq: i64,
    /// When it happened, in milliseconds since the Unix epoch (the ACD's own clock).
    pub at_ms: i64,
    pub entry: serde_json::Value,
}

/// The call distributor's whole state after applying the log up to and including `seq`:
/// recovery loads the newest snapshot and replays the entries after it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AcdSnapshot {
    /// The last log entry the snapshot includes.
    pub seq: i64,
    /// The instant of the state, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub state: serde_json::Value,
}

/// A JSON document of the ACD (a log entry or a snapshot's state) as the text both backends
/// store.
pub fn acd_json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// Decodes a stored ACD document; `entity` names it in [`StoreError::Corrupt`].
pub fn acd_json(text: &str, entity: &'static str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).or_corrupt(entity)
}

/// A disposition as the store keeps it: a few columns to filter and list by, and the whole
/// disposition with its history as one JSON `document`.
///
/// The store does not look inside `document`: the `rules` crate owns its shape. `kind`, `state`
/// and `author` repeat what the document says so that listings need not parse it.
/// Timestamps are kept in UTC to the microsecond ([`stored_instant`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DispositionRow {
    /// A UUIDv7 chosen by the caller: listings are newest first by id.
    pub id: Uuid,
    /// The call the disposition was made on, if any.
    pub call_id: Option<CallId>,
    pub kind: String,
    pub state: String,
    /// Who submitted it; never changed by an update.
    pub author: String,
    /// The whole disposition with its history.
    pub document: serde_json::Value,
    /// What the caller was told.
    pub disclosed: String,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A juvenile-liaison case opened on a disposition, kept as one JSON `document`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiaisonCaseRow {
    /// A UUIDv7 chosen by the caller: listings are newest first by id.
    pub id: Uuid,
    /// The disposition that opened the case; it must exist.
    pub disposition_id: Uuid,
    pub call_id: Option<CallId>,
    pub document: serde_json::Value,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A [`DispositionRow`] as both SQL backends decode it, the document still JSON text.
#[derive(Debug)]
pub struct RawDispositionRow {
    pub id: Uuid,
    pub call_id: Option<Uuid>,
    pub kind: String,
    pub state: String,
    pub author: String,
    pub document: String,
    pub disclosed: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<RawDispositionRow> for DispositionRow {
    type Error = StoreError;
    fn try_from(r: RawDispositionRow) -> Result<Self, StoreError> {
        Ok(DispositionRow {
            id: r.id,
            call_id: r.call_id.map(CallId::from_uuid),
            kind: r.kind,
            state: r.state,
            author: r.author,
            document: serde_json::from_str(&r.document).or_corrupt("disposition")?,
            disclosed: r.disclosed,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A [`LiaisonCaseRow`] as both SQL backends decode it, the document still JSON text.
#[derive(Debug)]
pub struct RawLiaisonCaseRow {
    pub id: Uuid,
    pub disposition_id: Uuid,
    pub call_id: Option<Uuid>,
    pub document: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<RawLiaisonCaseRow> for LiaisonCaseRow {
    type Error = StoreError;
    fn try_from(r: RawLiaisonCaseRow) -> Result<Self, StoreError> {
        Ok(LiaisonCaseRow {
            id: r.id,
            disposition_id: r.disposition_id,
            call_id: r.call_id.map(CallId::from_uuid),
            document: serde_json::from_str(&r.document).or_corrupt("liaison case")?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A legal determination, kept as the `rules` crate's JSON document, with its state and the
/// records of the file it was made on beside it (to find it from any of them).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeterminationRow {
    /// A UUIDv7 chosen by the caller: listings are newest first by id.
    pub id: Uuid,
    pub state: String,
    pub document: serde_json::Value,
    /// The record ids of the file; written once, with the row.
    pub record_ids: Vec<String>,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A [`DeterminationRow`] as both SQL backends decode it (the record ids as a JSON array).
#[derive(Debug)]
pub struct RawDeterminationRow {
    pub id: Uuid,
    pub state: String,
    pub document: String,
    pub record_ids: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<RawDeterminationRow> for DeterminationRow {
    type Error = StoreError;
    fn try_from(r: RawDeterminationRow) -> Result<Self, StoreError> {
        Ok(DeterminationRow {
            id: r.id,
            state: r.state,
            document: serde_json::from_str(&r.document).or_corrupt("determination")?,
            record_ids: serde_json::from_str(&r.record_ids).or_corrupt("determination")?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A JSON document (of a disposition or a liaison case) as the text both backends store.
pub fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// An instant as both backends keep it: in UTC, to the microsecond. SQLite would keep any
/// offset and nanoseconds, PostgreSQL neither; writing this makes a row read back the same
/// from either.
pub fn stored_instant(t: OffsetDateTime) -> OffsetDateTime {
    switchboard_domain::stored_precision(t.to_offset(time::UtcOffset::UTC))
}

/// One entry of the audit log as stored. `entry` is the exact text that was hashed into the
/// leaf (`leaf_hash`); the store never re-encodes it. `action` and `actor` are copies of the
/// entry's fields for searching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub action: String,
    pub actor: String,
    pub entry: String,
    pub leaf_hash: Vec<u8>,
}

/// An audit entry to append, with the subject keys auditors find it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditRow {
    pub row: AuditRow,
    pub subjects: Vec<String>,
    /// The entry begins an action whose end is not yet known (a change about to be made): it
    /// is marked open in the same commit, until [`Store::close_audit_actions`] or an entry
    /// that `closes` it.
    ///
    /// [`Store::close_audit_actions`]: crate::Store::close_audit_actions
    pub opens: bool,
    /// The actions whose open marks are removed in the same commit: the one this entry ends
    /// (its "failed" entry), and any others the writer carries along.
    pub closes: Vec<i64>,
}

/// A signed tree head of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: i64,
    pub at_ms: i64,
    pub origin: String,
    pub root: Vec<u8>,
    pub signature: Vec<u8>,
}

/// What an auditor searches the log by; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The acting username.
    pub actor: Option<String>,
    /// A subject key (`name:…`, `a_number:…`, `record:…`).
    pub subject: Option<String>,
    pub action: Option<String>,
    /// At or after, milliseconds since the epoch.
    pub from_ms: Option<i64>,
    /// Before, milliseconds since the epoch.
    pub to_ms: Option<i64>,
}

/// A user's secrets and logon history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user_id: UserId,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// Base32, as the authenticator app was given it.
    pub totp_secret: String,
    /// The last TOTP time step accepted (a code is never accepted twice).
    pub totp_last_step: i64,
    /// Recent failed logons, milliseconds since the epoch.
    pub failures: Vec<i64>,
    /// When the account was locked by failed logons; only an administrator unlocks it.
    pub locked_at: Option<OffsetDateTime>,
    pub version: i64,
    pub updated_at: OffsetDateTime,
}

/// A logged-on session. `id` is the SHA-256 (hex) of the cookie's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    /// A short public name of the session, for the audit log.
    pub reference: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub address: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub end_reason: Option<String>,
}

/// Reads the stored failures list.
pub fn failures_from_json(text: &str) -> Result<Vec<i64>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        entity: "credentials",
        message: e.to_string(),
    })
}

pub fn failures_to_json(f: &[i64]) -> String {
    serde_json::to_string(f).expect("integers serialise")
}

/// A partner agency's API credential. Only the key's SHA-256 is stored: the key itself is shown
/// once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerKeyRow {
    /// A UUIDv7 chosen by the caller.
    pub id: Uuid,
    /// The agency the key speaks for; it must exist.
    pub agency_id: AgencyId,
    /// Lower-case hex SHA-256 of the key; unique.
    pub key_hash: String,
    /// The key's first characters, to tell keys apart on screen.
    pub prefix: String,
    pub label: String,
    /// Who made it (a username).
    pub created_by: String,
    pub created_at: OffsetDateTime,
    /// Set once; a revoked key never works again.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A [`PartnerKeyRow`] as both SQL backends decode it.
#[derive(Debug)]
pub struct RawPartnerKeyRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub key_hash: String,
    pub prefix: String,
    pub label: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<RawPartnerKeyRow> for PartnerKeyRow {
    type Error = StoreError;
    fn try_from(r: RawPartnerKeyRow) -> Result<Self, StoreError> {
        Ok(PartnerKeyRow {
            id: r.id,
            agency_id: AgencyId::from_uuid(r.agency_id),
            key_hash: r.key_hash,
            prefix: r.prefix,
            label: r.label,
            created_by: r.created_by,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// An inquiry a partner agency sent ahead: what it asked, the cross-check made at once, and
/// what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerInquiryRow {
    /// A UUIDv7 chosen by the caller.
    pub id: Uuid,
    /// The reference number given to the partner; unique.
    pub reference: String,
    pub agency_id: AgencyId,
    /// The named officer of that agency the request is tied to; must exist.
    pub officer_id: OfficerId,
    /// The officer's number (E.164): the call-taker's screen finds the inquiry by it.
    pub phone: String,
    pub status: String,
    /// The inquiry as received and its cross-check, as JSON.
    pub document: serde_json::Value,
    /// The disposition recorded on it, once there is one; must exist.
    pub disposition_id: Option<Uuid>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A [`PartnerInquiryRow`] as both SQL backends decode it, the document still JSON text.
#[derive(Debug)]
pub struct RawPartnerInquiryRow {
    pub id: Uuid,
    pub reference: String,
    pub agency_id: Uuid,
    pub officer_id: Uuid,
    pub phone: String,
    pub status: String,
    pub document: String,
    pub disposition_id: Option<Uuid>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<RawPartnerInquiryRow> for PartnerInquiryRow {
    type Error = StoreError;
    fn try_from(r: RawPartnerInquiryRow) -> Result<Self, StoreError> {
        Ok(PartnerInquiryRow {
            id: r.id,
            reference: r.reference,
            agency_id: AgencyId::from_uuid(r.agency_id),
            officer_id: OfficerId::from_uuid(r.officer_id),
            phone: r.phone,
            status: r.status,
            document: serde_json::from_str(&r.document).or_corrupt("partner inquiry")?,
            disposition_id: r.disposition_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A [`crate::FeedKeyRow`] as both SQL backends decode it (`systems` as JSON text).
#[derive(Debug)]
pub struct RawFeedKeyRow {
    pub id: Uuid,
    pub name: String,
    pub systems: String,
    pub key_hash: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<RawFeedKeyRow> for crate::FeedKeyRow {
    type Error = StoreError;
    fn try_from(r: RawFeedKeyRow) -> Result<Self, StoreError> {
        let names: Vec<String> = serde_json::from_str(&r.systems).or_corrupt("feed key")?;
        let systems = names
            .iter()
            .map(|s| switchboard_domain::records::System::parse(s).ok_or(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|s| StoreError::Corrupt {
                entity: "feed key",
                message: format!("unknown record system {s:?}"),
            })?;
        Ok(crate::FeedKeyRow {
            id: r.id,
            name: r.name,
            systems,
            key_hash: r.key_hash,
            prefix: r.prefix,
            created_by: r.created_by,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// A feed key's systems as both backends store them: a JSON array of names.
pub fn feed_key_systems(k: &crate::FeedKeyRow) -> String {
    serde_json::Value::from(
        k.systems
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

fn system_of(
    s: &str,
    entity: &'static str,
) -> Result<switchboard_domain::records::System, StoreError> {
    switchboard_domain::records::System::parse(s).ok_or_else(|| StoreError::Corrupt {
        entity,
        message: format!("unknown record system {s:?}"),
    })
}

/// A change-log entry from its columns; `data` is the record's stored document, if it is
/// stored now and the entry is not a deletion.
pub fn record_change(
    position: i64,
    record_id: String,
    system: &str,
    deleted: bool,
    changed_at: OffsetDateTime,
    data: Option<&str>,
) -> Result<crate::RecordChange, StoreError> {
    let record = match (deleted, data) {
        (false, Some(d)) => Some(source_record(d)?),
        _ => None,
    };
    Ok(crate::RecordChange {
        position,
        system: system_of(system, "record change")?,
        record_id,
        record,
        changed_at,
    })
}

/// A feed's state from its columns.
pub fn feed_state(
    system: &str,
    as_of: OffsetDateTime,
    position: i64,
) -> Result<crate::FeedState, StoreError> {
    Ok(crate::FeedState {
        system: system_of(system, "record feed state")?,
        as_of,
        position,
    })
}

/// The upserts and deletions of a batch as the JSON both backends read with their JSON table
/// functions: `[{record_id, system, data}]` and `[{record_id, system}]`.
pub fn batch_json(b: &crate::RecordBatch) -> Result<(String, String), StoreError> {
    let up: Vec<serde_json::Value> = b
        .upserts
        .iter()
        .map(|r| {
            serde_json::to_value(r).map(|data| {
                serde_json::json!({
                    "record_id": r.record_id(),
                    "system": r.system().as_str(),
                    "updated_on": r.updated_on().to_string(),
                    "data": data,
                })
            })
        })
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let del: Vec<serde_json::Value> = b
        .deletes
        .iter()
        .map(|(s, id)| serde_json::json!({"record_id": id, "system": s.as_str()}))
        .collect();
    Ok((
        serde_json::Value::from(up).to_string(),
        serde_json::Value::from(del).to_string(),
    ))
}

/// The systems a batch vouches for, as a JSON array of names.
pub fn batch_systems(b: &crate::RecordBatch) -> String {
    serde_json::Value::from(
        b.systems()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

/// A privileged role (administrator, supervisor, legal reviewer, auditor) asked for an
/// account by one administrator, waiting for another to approve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRequest {
    pub id: Uuid,
    pub user_id: UserId,
    pub role: switchboard_domain::Role,
    /// Made with a new account, which is activated when the request is approved.
    pub activates: bool,
    pub requested_by: UserId,
    pub requested_at: OffsetDateTime,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<OffsetDateTime>,
    /// `approved` or `refused`, once decided.
    pub outcome: Option<String>,
}

/// A role request from its stored columns (both backends store the same ones).
#[allow(clippy::too_many_arguments)]
pub fn role_request_from(
    id: Uuid,
    user_id: Uuid,
    role: &str,
    activates: bool,
    requested_by: Uuid,
    requested_at: OffsetDateTime,
    decided_by: Option<Uuid>,
    decided_at: Option<OffsetDateTime>,
    outcome: Option<String>,
) -> Result<RoleRequest, StoreError> {
    Ok(RoleRequest {
        id,
        user_id: UserId::from_uuid(user_id),
        role: switchboard_domain::Role::parse(role)
            .map_err(|e| StoreError::Backend(e.to_string().into()))?,
        activates,
        requested_by: UserId::from_uuid(requested_by),
        requested_at,
        decided_by: decided_by.map(UserId::from_uuid),
        decided_at,
        outcome,
    })
}
