//! The center's own records: its users, the calls it takes and the inquiries made on them.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::registry::Invalid;
use crate::{
    ANumber, CallId, E164, InquiryId, Name, OfficerId, PurposeCode, UserId, Username, wire_enum,
};

/// What a center user does; accounts and permissions build on this later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    CallTaker,
    Supervisor,
    JuvenileLiaison,
    LegalReviewer,
    Auditor,
    Administrator,
    Planner,
}
wire_enum!(Role, "role", {
    CallTaker => "call_taker",
    Supervisor => "supervisor",
    JuvenileLiaison => "juvenile_liaison",
    LegalReviewer => "legal_reviewer",
    Auditor => "auditor",
    Administrator => "administrator",
    Planner => "planner",
});

/// A person who works at the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: Name,
    pub role: Role,
    pub active: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: Username,
    pub display_name: Name,
    pub role: Role,
}

impl User {
    pub fn create(new: NewUser, now: OffsetDateTime) -> Self {
        Self {
            id: UserId::new(),
            username: new.username,
            display_name: new.display_name,
            role: new.role,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Where a call is in its life. The ACD drives the transitions; this type only says which are
/// possible, so that no component can, say, answer a call that was abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Signalling has reached the center; the caller is being identified.
    Arriving,
    /// Waiting in a queue for an agent.
    Queued,
    /// Ringing at an agent.
    Offered,
    /// Talking to an agent (including hold).
    Connected,
    /// Finished: after being answered, or without an answer by the center's choice (sent to
    /// voicemail, withdrawn).
    Ended,
    /// The caller hung up before an agent answered.
    Abandoned,
}
wire_enum!(CallState, "call state", {
    Arriving => "arriving",
    Queued => "queued",
    Offered => "offered",
    Connected => "connected",
    Ended => "ended",
    Abandoned => "abandoned",
});

impl CallState {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ended | Self::Abandoned)
    }

    /// Whether a call in `self` may move to `next`.
    pub fn can_move_to(self, next: CallState) -> bool {
        use CallState::*;
        matches!(
            (self, next),
            (Arriving, Queued | Abandoned | Ended)
                | (Queued, Offered | Abandoned | Ended)
                | (Offered, Connected | Queued | Abandoned | Ended)
                | (Connected, Ended)
        )
    }
}

/// One call into the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Call {
    pub id: CallId,
    /// The calling number as signalled, verbatim (it may be withheld or malformed).
    pub ani_raw: String,
    /// The calling number, when it parses as E.164.
    pub ani: Option<E164>,
    /// The officer the number identified, if any.
    pub officer_id: Option<OfficerId>,
    pub state: CallState,
    #[serde(with = "time::serde::rfc3339")]
    pub arrived_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    pub ani_raw: String,
    pub officer_id: Option<OfficerId>,
}

impl Call {
    /// The longest calling-number string kept; signalling can carry anything.
    pub const MAX_ANI_RAW: usize = 128;

    pub fn arrive(new: NewCall, now: OffsetDateTime) -> Self {
        // Signalling can carry anything; control characters (NUL above all) would be refused
        // by some databases and mislead a reader, so they are made visible instead.
        let mut raw: String = new
            .ani_raw
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        if raw.len() > Self::MAX_ANI_RAW {
            let mut cut = Self::MAX_ANI_RAW;
            while !raw.is_char_boundary(cut) {
                cut -= 1;
            }
            raw.truncate(cut);
        }
        Self {
            id: CallId::new(),
            ani: E164::parse(&raw).ok(),
            ani_raw: raw,
            officer_id: new.officer_id,
            state: CallState::Arriving,
            arrived_at: now,
            answered_at: None,
            ended_at: None,
        }
    }

    /// Moves the call to `next` at `now`, stamping the answer and end times.
    pub fn transition(&mut self, next: CallState, now: OffsetDateTime) -> Result<(), Invalid> {
        if !self.state.can_move_to(next) {
            return Err(Invalid::new(
                "state",
                format!("a call cannot go from {} to {}", self.state, next),
            ));
        }
        if next == CallState::Connected {
            self.answered_at = Some(now);
        }
        if next.is_final() {
            self.ended_at = Some(now);
        }
        self.state = next;
        Ok(())
    }
}

/// A subject's sex as recorded in NCIC-style records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    Unknown,
}
wire_enum!(Sex, "sex", { Male => "M", Female => "F", Unknown => "U" });

/// The person asked about, exactly as the officer gave it. Nothing here is trusted or
/// normalised; the matching engine works from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subject {
    /// Surnames in the order given (for example paternal then maternal).
    pub family_names: Vec<Name>,
    pub given_names: Vec<Name>,
    #[serde(default)]
    pub date_of_birth: Option<Date>,
    #[serde(default)]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub place_of_birth: Option<Name>,
    #[serde(default)]
    pub a_number: Option<ANumber>,
    #[serde(default)]
    pub fbi_number: Option<Name>,
    #[serde(default)]
    pub state_id: Option<Name>,
    /// Whether the subject is in the caller's custody.
    #[serde(default)]
    pub in_custody: Option<bool>,
    #[serde(default)]
    pub offense_code: Option<Name>,
}

impl Subject {
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(dob) = self.date_of_birth {
            crate::check_day("subject.date_of_birth", dob)?;
        }
        if self.family_names.is_empty() && self.a_number.is_none() {
            return Err(Invalid::new(
                "subject.family_names",
                "give at least one family name, or an A-number",
            ));
        }
        if self.family_names.len() > 4 || self.given_names.len() > 6 {
            return Err(Invalid::new(
                "subject",
                "at most 4 family names and 6 given names",
            ));
        }
        Ok(())
    }
}

/// A records inquiry about one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inquiry {
    pub id: InquiryId,
    pub call_id: Option<CallId>,
    pub officer_id: Option<OfficerId>,
    pub subject: Subject,
    pub purpose: PurposeCode,
    /// Why the officer asks, in their words; required.
    pub reason: Name,
    /// The caller's case or incident number, where there is one.
    pub case_number: Option<Name>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewInquiry {
    #[serde(default)]
    pub call_id: Option<CallId>,
    #[serde(default)]
    pub officer_id: Option<OfficerId>,
    pub subject: Subject,
    pub purpose: PurposeCode,
    pub reason: Name,
    #[serde(default)]
    pub case_number: Option<Name>,
}

impl Inquiry {
    pub fn create(new: NewInquiry, now: OffsetDateTime) -> Result<Self, Invalid> {
        new.subject.validate()?;
        Ok(Self {
            id: InquiryId::new(),
            call_id: new.call_id,
            officer_id: new.officer_id,
            subject: new.subject,
            purpose: new.purpose,
            reason: new.reason,
            case_number: new.case_number,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-21 03:00 UTC);

    #[test]
    fn call_state_transitions() {
        use CallState::*;
        let all = CallState::ALL;
        let allowed = [
            (Arriving, Queued),
            (Arriving, Abandoned),
            (Arriving, Ended),
            (Queued, Offered),
            (Queued, Abandoned),
            (Queued, Ended),
            (Offered, Connected),
            (Offered, Queued),
            (Offered, Abandoned),
            (Offered, Ended),
            (Connected, Ended),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(*to),
                    allowed.contains(&(*from, *to)),
                    "{from} -> {to}"
                );
            }
        }
        for s in all {
            if s.is_final() {
                assert!(all.iter().all(|n| !s.can_move_to(*n)), "{s} is final");
            }
        }
    }

    #[test]
    fn a_call_life_stamps_its_times() {
        let mut c = Call::arrive(
            NewCall {
                ani_raw: "+1 512 555 0100".into(),
                officer_id: None,
            },
            T0,
        );
        assert_eq!(c.ani.as_ref().unwrap().as_str(), "+15125550100");
        c.transition(CallState::Queued, T0).unwrap();
        c.transition(CallState::Offered, T0).unwrap();
        c.transition(CallState::Connected, datetime!(2026-11-21 03:00:20 UTC))
            .unwrap();
        c.transition(CallState::Ended, datetime!(2026-11-21 03:05 UTC))
            .unwrap();
        assert_eq!(c.answered_at, Some(datetime!(2026-11-21 03:00:20 UTC)));
        assert_eq!(c.ended_at, Some(datetime!(2026-11-21 03:05 UTC)));
        let e = c.transition(CallState::Queued, T0).unwrap_err();
        assert!(e.message.contains("ended to queued"), "{e}");
    }

    #[test]
    fn withheld_or_garbage_ani_is_kept_verbatim_and_bounded() {
        let c = Call::arrive(
            NewCall {
                ani_raw: "anonymous".into(),
                officer_id: None,
            },
            T0,
        );
        assert_eq!(c.ani, None);
        assert_eq!(c.ani_raw, "anonymous");
        let c = Call::arrive(
            NewCall {
                ani_raw: "+1202\u{0}555".into(),
                officer_id: None,
            },
            T0,
        );
        assert!(!c.ani_raw.contains('\u{0}'));
        assert_eq!(c.ani, None);
        let long = "é".repeat(200);
        let c = Call::arrive(
            NewCall {
                ani_raw: long,
                officer_id: None,
            },
            T0,
        );
        assert!(c.ani_raw.len() <= Call::MAX_ANI_RAW);
    }

    #[test]
    fn subject_needs_a_name_or_a_number() {
        let s: Subject = serde_json::from_value(serde_json::json!({
            "family_names": [], "given_names": ["Ana"]
        }))
        .unwrap();
        assert_eq!(s.validate().unwrap_err().field, "subject.family_names");
        let s: Subject = serde_json::from_value(serde_json::json!({
            "family_names": [], "given_names": [], "a_number": "A-012-345-678"
        }))
        .unwrap();
        assert!(s.validate().is_ok());
        let e = serde_json::from_value::<Subject>(serde_json::json!({
            "family_names": ["García"], "given_names": [], "nickname": "x"
        }))
        .unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
        }
        assert_eq!(Role::ALL.len(), 7);
    }
}
