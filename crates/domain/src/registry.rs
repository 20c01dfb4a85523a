//! The partner registry: agencies, their 287(g) agreements, and their officers.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{AgencyId, AgreementId, BadgeNumber, E164, Name, OfficerId, Ori, StateCode, wire_enum};

/// A record that breaks a rule of the registry: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// What kind of agency calls the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgencyKind {
    /// A state or local agency with (or seeking) a 287(g) agreement.
    Partner287g,
    /// A federal immigration field office; its officers need no 287(g) certification.
    FederalFieldOffice,
}
wire_enum!(AgencyKind, "agency kind", {
    Partner287g => "partner_287g",
    FederalFieldOffice => "federal_field_office",
});

/// A law-enforcement agency known to the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agency {
    pub id: AgencyId,
    pub ori: Ori,
    pub name: Name,
    pub kind: AgencyKind,
    /// Incremented by every update; an update must name the version it read.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Agency {
    pub fn create(new: NewAgency, now: OffsetDateTime) -> Self {
        Self {
            id: AgencyId::new(),
            ori: new.ori,
            name: new.name,
            kind: new.kind,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// What name searches match against (see [`crate::fold_for_search`]).
    pub fn search_key(&self) -> String {
        crate::fold_for_search(self.name.as_str())
    }

    /// The agency's state, which its ORI carries.
    pub fn state(&self) -> StateCode {
        self.ori.state()
    }
}

/// What is needed to register an agency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAgency {
    pub ori: Ori,
    pub name: Name,
    pub kind: AgencyKind,
}

/// The three 287(g) models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgreementModel {
    /// Identify and process removable people already in the agency's jail.
    JailEnforcement,
    /// Immigration functions during routine police work, under ICE supervision.
    TaskForce,
    /// Serve and execute administrative warrants on people in the agency's jail.
    WarrantServiceOfficer,
}
wire_enum!(AgreementModel, "agreement model", {
    JailEnforcement => "jail_enforcement",
    TaskForce => "task_force",
    WarrantServiceOfficer => "warrant_service_officer",
});

/// Where an agreement stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AgreementStatus {
    NotYetInEffect,
    Active,
    Expired,
    Terminated,
}

/// A 287(g) memorandum of agreement between a partner agency and the federal side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agreement {
    pub id: AgreementId,
    pub agency_id: AgencyId,
    pub model: AgreementModel,
    /// In effect from this day.
    pub signed_on: Date,
    /// In effect through this day, inclusive.
    pub expires_on: Date,
    /// Ended early on this day (no longer in effect from it), if it was.
    pub terminated_on: Option<Date>,
    /// The federal field office that supervises the partner under this agreement.
    pub supervising_office_id: AgencyId,
    pub max_certified_officers: u32,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What is needed to record an agreement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAgreement {
    pub agency_id: AgencyId,
    pub model: AgreementModel,
    pub signed_on: Date,
    pub expires_on: Date,
    #[serde(default)]
    pub terminated_on: Option<Date>,
    pub supervising_office_id: AgencyId,
    pub max_certified_officers: u32,
}

impl Agreement {
    /// The most certified officers one agreement may name; a guard against absurd input.
    pub const MAX_OFFICERS_LIMIT: u32 = 10_000;

    pub fn create(new: NewAgreement, now: OffsetDateTime) -> Result<Self, Invalid> {
        let a = Self {
            id: AgreementId::new(),
            agency_id: new.agency_id,
            model: new.model,
            signed_on: new.signed_on,
            expires_on: new.expires_on,
            terminated_on: new.terminated_on,
            supervising_office_id: new.supervising_office_id,
            max_certified_officers: new.max_certified_officers,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        a.validate()?;
        Ok(a)
    }

    /// The rules an agreement holds on its own.
    pub fn validate(&self) -> Result<(), Invalid> {
        crate::check_day("signed_on", self.signed_on)?;
        crate::check_day("expires_on", self.expires_on)?;
        if let Some(t) = self.terminated_on {
            crate::check_day("terminated_on", t)?;
        }
        if self.expires_on <= self.signed_on {
            return Err(Invalid::new(
                "expires_on",
                format!(
                    "must be after signed_on ({}), got {}",
                    self.signed_on, self.expires_on
                ),
            ));
        }
        // Terminated on its first day, an agreement would never have been in effect: that is
        // a withdrawn agreement, not a terminated one, and would read as "pending" until then.
        if let Some(t) = self.terminated_on
            && t <= self.signed_on
        {
            return Err(Invalid::new(
                "terminated_on",
                format!("must be after signed_on ({}), got {t}", self.signed_on),
            ));
        }
        if !(1..=Self::MAX_OFFICERS_LIMIT).contains(&self.max_certified_officers) {
            return Err(Invalid::new(
                "max_certified_officers",
                format!(
                    "must be between 1 and {}, got {}",
                    Self::MAX_OFFICERS_LIMIT,
                    self.max_certified_officers
                ),
            ));
        }
        if self.supervising_office_id == self.agency_id {
            return Err(Invalid::new(
                "supervising_office_id",
                "an agency cannot supervise its own agreement",
            ));
        }
        Ok(())
    }

    /// The rules that involve the two agencies: the partner must be a 287(g) partner and the
    /// supervisor a federal field office.
    pub fn check_parties(&self, partner: &Agency, supervisor: &Agency) -> Result<(), Invalid> {
        if partner.kind != AgencyKind::Partner287g {
            return Err(Invalid::new(
                "agency_id",
                format!(
                    "{} is a {}; only 287(g) partner agencies hold agreements",
                    partner.ori,
                    partner.kind.as_str()
                ),
            ));
        }
        if supervisor.kind != AgencyKind::FederalFieldOffice {
            return Err(Invalid::new(
                "supervising_office_id",
                format!("{} is not a federal field office", supervisor.ori),
            ));
        }
        Ok(())
    }

    pub fn status_on(&self, day: Date) -> AgreementStatus {
        if self.terminated_on.is_some_and(|t| t <= day) {
            AgreementStatus::Terminated
        } else if day < self.signed_on {
            AgreementStatus::NotYetInEffect
        } else if day > self.expires_on {
            AgreementStatus::Expired
        } else {
            AgreementStatus::Active
        }
    }
}

/// Where an officer's 287(g) certification stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CertificationStatus {
    NotCertified,
    Current,
    Expired,
}

/// A partner officer who may call the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Officer {
    pub id: OfficerId,
    pub agency_id: AgencyId,
    pub given_name: Name,
    pub family_name: Name,
    pub badge: BadgeNumber,
    /// Numbers the officer calls from; each identifies exactly one officer.
    pub phones: Vec<E164>,
    /// Day the officer completed 287(g) training and was certified, if ever.
    pub certified_on: Option<Date>,
    /// Last day the certification is valid, inclusive.
    pub certification_expires_on: Option<Date>,
    /// False once the officer has left the agency or been withdrawn.
    pub active: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What is needed to register an officer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewOfficer {
    pub agency_id: AgencyId,
    pub given_name: Name,
    pub family_name: Name,
    pub badge: BadgeNumber,
    #[serde(default)]
    pub phones: Vec<E164>,
    #[serde(default)]
    pub certified_on: Option<Date>,
    #[serde(default)]
    pub certification_expires_on: Option<Date>,
}

impl Officer {
    /// An officer calls from a handful of numbers at most; more is a data-entry mistake.
    pub const MAX_PHONES: usize = 10;

    pub fn create(new: NewOfficer, now: OffsetDateTime) -> Result<Self, Invalid> {
        let o = Self {
            id: OfficerId::new(),
            agency_id: new.agency_id,
            given_name: new.given_name,
            family_name: new.family_name,
            badge: new.badge,
            phones: new.phones,
            certified_on: new.certified_on,
            certification_expires_on: new.certification_expires_on,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        o.validate()?;
        Ok(o)
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(d) = self.certified_on {
            crate::check_day("certified_on", d)?;
        }
        if let Some(d) = self.certification_expires_on {
            crate::check_day("certification_expires_on", d)?;
        }
        if self.phones.len() > Self::MAX_PHONES {
            return Err(Invalid::new(
                "phones",
                format!(
                    "at most {} numbers per officer, got {}",
                    Self::MAX_PHONES,
                    self.phones.len()
                ),
            ));
        }
        for (i, p) in self.phones.iter().enumerate() {
            if self.phones[..i].contains(p) {
                return Err(Invalid::new("phones", format!("{p} is listed twice")));
            }
        }
        match (self.certified_on, self.certification_expires_on) {
            (None, Some(_)) => Err(Invalid::new(
                "certified_on",
                "a certification expiry needs the day of certification",
            )),
            (Some(_), None) => Err(Invalid::new(
                "certification_expires_on",
                "a certification needs its expiry day",
            )),
            (Some(on), Some(until)) if until < on => Err(Invalid::new(
                "certification_expires_on",
                format!("must not be before certified_on ({on}), got {until}"),
            )),
            _ => Ok(()),
        }
    }

    pub fn certification_on(&self, day: Date) -> CertificationStatus {
        match (self.certified_on, self.certification_expires_on) {
            (Some(on), Some(until)) if on <= day && day <= until => CertificationStatus::Current,
            (Some(on), Some(_)) if day < on => CertificationStatus::NotCertified,
            (Some(_), Some(_)) => CertificationStatus::Expired,
            _ => CertificationStatus::NotCertified,
        }
    }

    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// What name searches match against: given and family names, folded.
    pub fn search_key(&self) -> String {
        crate::fold_for_search(&self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

    fn agency(kind: AgencyKind, ori: &str) -> Agency {
        Agency::create(
            NewAgency {
                ori: Ori::parse(ori).unwrap(),
                name: Name::parse("Test Agency").unwrap(),
                kind,
            },
            NOW,
        )
    }

    fn agreement(
        signed: Date,
        expires: Date,
        terminated: Option<Date>,
    ) -> Result<Agreement, Invalid> {
        Agreement::create(
            NewAgreement {
                agency_id: AgencyId::new(),
                model: AgreementModel::TaskForce,
                signed_on: signed,
                expires_on: expires,
                terminated_on: terminated,
                supervising_office_id: AgencyId::new(),
                max_certified_officers: 25,
            },
            NOW,
        )
    }

    #[test]
    fn agency_state_comes_from_ori() {
        assert_eq!(
            agency(AgencyKind::Partner287g, "FL0130000")
                .state()
                .as_str(),
            "FL"
        );
    }

    #[test]
    fn agreement_status_table() {
        let a = agreement(date!(2025 - 01 - 01), date!(2026 - 12 - 31), None).unwrap();
        let cases = [
            (date!(2024 - 12 - 31), AgreementStatus::NotYetInEffect),
            (date!(2025 - 01 - 01), AgreementStatus::Active),
            (date!(2026 - 12 - 31), AgreementStatus::Active),
            (date!(2027 - 01 - 01), AgreementStatus::Expired),
        ];
        for (day, want) in cases {
            assert_eq!(a.status_on(day), want, "{day}");
        }
        let t = agreement(
            date!(2025 - 01 - 01),
            date!(2026 - 12 - 31),
            Some(date!(2026 - 03 - 01)),
        )
        .unwrap();
        assert_eq!(t.status_on(date!(2026 - 02 - 28)), AgreementStatus::Active);
        assert_eq!(
            t.status_on(date!(2026 - 03 - 01)),
            AgreementStatus::Terminated
        );
        assert_eq!(
            t.status_on(date!(2027 - 06 - 01)),
            AgreementStatus::Terminated
        );
    }

    #[test]
    fn agreement_validation() {
        let e = agreement(date!(2025 - 01 - 01), date!(2025 - 01 - 01), None).unwrap_err();
        assert_eq!(e.field, "expires_on");
        let e = agreement(
            date!(2025 - 01 - 01),
            date!(2026 - 01 - 01),
            Some(date!(2024 - 01 - 01)),
        )
        .unwrap_err();
        assert_eq!(e.field, "terminated_on");
        let mut a = agreement(date!(2025 - 01 - 01), date!(2026 - 01 - 01), None).unwrap();
        a.max_certified_officers = 0;
        assert_eq!(a.validate().unwrap_err().field, "max_certified_officers");
        a.max_certified_officers = Agreement::MAX_OFFICERS_LIMIT + 1;
        assert_eq!(a.validate().unwrap_err().field, "max_certified_officers");
        a.max_certified_officers = 5;
        a.supervising_office_id = a.agency_id;
        assert_eq!(a.validate().unwrap_err().field, "supervising_office_id");
    }

    #[test]
    fn agreement_parties() {
        let a = agreement(date!(2025 - 01 - 01), date!(2026 - 01 - 01), None).unwrap();
        let partner = agency(AgencyKind::Partner287g, "TX2270000");
        let federal = agency(AgencyKind::FederalFieldOffice, "TX2279900");
        assert!(a.check_parties(&partner, &federal).is_ok());
        assert_eq!(
            a.check_parties(&federal, &federal).unwrap_err().field,
            "agency_id"
        );
        assert_eq!(
            a.check_parties(&partner, &partner).unwrap_err().field,
            "supervising_office_id"
        );
    }

    fn officer(cert: Option<(Date, Date)>, phones: &[&str]) -> Result<Officer, Invalid> {
        Officer::create(
            NewOfficer {
                agency_id: AgencyId::new(),
                given_name: Name::parse("Dana").unwrap(),
                family_name: Name::parse("Reyes").unwrap(),
                badge: BadgeNumber::parse("1234").unwrap(),
                phones: phones.iter().map(|p| E164::parse(p).unwrap()).collect(),
                certified_on: cert.map(|c| c.0),
                certification_expires_on: cert.map(|c| c.1),
            },
            NOW,
        )
    }

    #[test]
    fn certification_table() {
        let o = officer(Some((date!(2025 - 06 - 01), date!(2026 - 05 - 31))), &[]).unwrap();
        let cases = [
            (date!(2025 - 05 - 31), CertificationStatus::NotCertified),
            (date!(2025 - 06 - 01), CertificationStatus::Current),
            (date!(2026 - 05 - 31), CertificationStatus::Current),
            (date!(2026 - 06 - 01), CertificationStatus::Expired),
        ];
        for (day, want) in cases {
            assert_eq!(o.certification_on(day), want, "{day}");
        }
        let never = officer(None, &[]).unwrap();
        assert_eq!(
            never.certification_on(date!(2026 - 01 - 01)),
            CertificationStatus::NotCertified
        );
    }

    #[test]
    fn officer_validation() {
        assert_eq!(
            officer(Some((date!(2026 - 01 - 01), date!(2025 - 01 - 01))), &[])
                .unwrap_err()
                .field,
            "certification_expires_on"
        );
        assert_eq!(
            officer(None, &["+15125550100", "+1 512 555 0100"])
                .unwrap_err()
                .field,
            "phones"
        );
        assert_eq!(
            officer(Some((date!(1850 - 01 - 01), date!(2026 - 01 - 01))), &[])
                .unwrap_err()
                .field,
            "certified_on"
        );
        let many: Vec<String> = (0..11).map(|i| format!("+1512555010{i:02}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(officer(None, &many).unwrap_err().field, "phones");
        let mut o = officer(None, &[]).unwrap();
        o.certification_expires_on = Some(date!(2026 - 01 - 01));
        assert_eq!(o.validate().unwrap_err().field, "certified_on");
        o.certification_expires_on = None;
        o.certified_on = Some(date!(2026 - 01 - 01));
        assert_eq!(o.validate().unwrap_err().field, "certification_expires_on");
    }

    #[test]
    fn wire_names_round_trip() {
        for m in AgreementModel::ALL {
            assert_eq!(AgreementModel::parse(m.as_str()).unwrap(), *m);
        }
        for k in AgencyKind::ALL {
            assert_eq!(AgencyKind::parse(k.as_str()).unwrap(), *k);
        }
        assert!(AgreementModel::parse("jail").is_err());
    }
}
