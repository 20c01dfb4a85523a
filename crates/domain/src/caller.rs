//! Is this caller someone the center may serve? A pure decision over registry records.

use serde::Serialize;
use time::Date;

use crate::{
    Agency, AgencyKind, Agreement, AgreementModel, AgreementStatus, CertificationStatus, Officer,
};

/// One reason a caller is not authorised. Several can hold at once, and all are reported, so
/// the call-taker sees the whole picture rather than the first failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CallerProblem {
    /// No officer in the registry uses this number.
    UnknownNumber,
    /// The officer has left the agency or been withdrawn.
    OfficerInactive,
    /// A partner agency with no 287(g) agreement on record.
    NoAgreement,
    /// Every agreement of the agency has expired; the latest was in effect through this day.
    AgreementExpired { last_day: Date },
    /// The agency's agreement is signed but starts later.
    AgreementNotYetInEffect { starts_on: Date },
    /// The agency's agreement was terminated on this day.
    AgreementTerminated { terminated_on: Date },
    /// A partner officer who has never been certified under 287(g).
    OfficerNotCertified,
    /// The officer's certification lapsed; it was valid through this day.
    CertificationExpired { last_day: Date },
}

impl CallerProblem {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownNumber => "unknown_number",
            Self::OfficerInactive => "officer_inactive",
            Self::NoAgreement => "no_agreement",
            Self::AgreementExpired { .. } => "agreement_expired",
            Self::AgreementNotYetInEffect { .. } => "agreement_not_yet_in_effect",
            Self::AgreementTerminated { .. } => "agreement_terminated",
            Self::OfficerNotCertified => "officer_not_certified",
            Self::CertificationExpired { .. } => "certification_expired",
        }
    }

    /// What the call-taker is shown.
    pub fn message(&self) -> String {
        match self {
            Self::UnknownNumber => {
                "The calling number belongs to no registered officer: verify the caller's identity and agency before disclosing anything.".into()
            }
            Self::OfficerInactive => "The officer is marked inactive by the registry.".into(),
            Self::NoAgreement => "The caller's agency has no 287(g) agreement on record.".into(),
            Self::AgreementExpired { last_day } => {
                format!("The agency's 287(g) agreement expired; its last day in effect was {last_day}.")
            }
            Self::AgreementNotYetInEffect { starts_on } => {
                format!("The agency's 287(g) agreement does not take effect until {starts_on}.")
            }
            Self::AgreementTerminated { terminated_on } => {
                format!("The agency's 287(g) agreement was terminated on {terminated_on}.")
            }
            Self::OfficerNotCertified => {
                "The officer holds no 287(g) certification.".into()
            }
            Self::CertificationExpired { last_day } => {
                format!("The officer's 287(g) certification expired; its last valid day was {last_day}.")
            }
        }
    }
}

/// The verdict on a caller, with everything that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallerAssessment {
    /// True only when there is no problem at all.
    pub authorised: bool,
    pub problems: Vec<CallerProblem>,
    /// The 287(g) models the caller may act under today (empty for federal officers, who act
    /// under their own authority, and for unauthorised callers).
    pub active_models: Vec<AgreementModel>,
}

/// Assesses a caller on `day`: `found` is the officer the number belongs to, their agency and
/// all of that agency's agreements, or `None` when the number is unknown.
///
/// A federal field office's officers are authorised while active. A partner officer needs to
/// be active, currently certified, and their agency must hold at least one agreement in effect.
/// When no agreement is in effect, the problem reported is the one that explains it best: a
/// pending agreement over a terminated one over an expired one.
pub fn assess_caller(
    found: Option<(&Officer, &Agency, &[Agreement])>,
    day: Date,
) -> CallerAssessment {
    let Some((officer, agency, agreements)) = found else {
        return CallerAssessment {
            authorised: false,
            problems: vec![CallerProblem::UnknownNumber],
            active_models: vec![],
        };
    };
    let mut problems = Vec::new();
    if !officer.active {
        problems.push(CallerProblem::OfficerInactive);
    }
    let mut active_models = Vec::new();
    if agency.kind == AgencyKind::Partner287g {
        for a in agreements.iter().filter(|a| a.agency_id == agency.id) {
            if a.status_on(day) == AgreementStatus::Active && !active_models.contains(&a.model) {
                active_models.push(a.model);
            }
        }
        if active_models.is_empty() {
            problems.push(why_no_agreement(agency, agreements, day));
        }
        match officer.certification_on(day) {
            CertificationStatus::Current => {}
            CertificationStatus::NotCertified => problems.push(CallerProblem::OfficerNotCertified),
            CertificationStatus::Expired => problems.push(CallerProblem::CertificationExpired {
                last_day: officer
                    .certification_expires_on
                    .expect("an expired certification has an expiry day"),
            }),
        }
    }
    if !problems.is_empty() {
        active_models.clear();
    }
    active_models.sort_by_key(|m| m.as_str());
    CallerAssessment {
        authorised: problems.is_empty(),
        problems,
        active_models,
    }
}

fn why_no_agreement(agency: &Agency, agreements: &[Agreement], day: Date) -> CallerProblem {
    let mine = || agreements.iter().filter(|a| a.agency_id == agency.id);
    if let Some(starts_on) = mine()
        .filter(|a| a.status_on(day) == AgreementStatus::NotYetInEffect)
        .map(|a| a.signed_on)
        .min()
    {
        return CallerProblem::AgreementNotYetInEffect { starts_on };
    }
    if let Some(terminated_on) = mine()
        .filter(|a| a.status_on(day) == AgreementStatus::Terminated)
        .filter_map(|a| a.terminated_on)
        .max()
    {
        return CallerProblem::AgreementTerminated { terminated_on };
    }
    match mine().map(|a| a.expires_on).max() {
        Some(last_day) => CallerProblem::AgreementExpired { last_day },
        None => CallerProblem::NoAgreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgencyId, BadgeNumber, Name, NewAgency, NewAgreement, NewOfficer, Ori};
    use time::OffsetDateTime;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
    const TODAY: Date = date!(2026 - 11 - 21);

    fn agency(kind: AgencyKind) -> Agency {
        Agency::create(
            NewAgency {
                ori: Ori::parse("AZ0070000").unwrap(),
                name: Name::parse("Test County Sheriff's Office").unwrap(),
                kind,
            },
            NOW,
        )
    }

    fn agreement(
        agency: &Agency,
        model: AgreementModel,
        signed: Date,
        expires: Date,
        terminated: Option<Date>,
    ) -> Agreement {
        Agreement::create(
            NewAgreement {
                agency_id: agency.id,
                model,
                signed_on: signed,
                expires_on: expires,
                terminated_on: terminated,
                supervising_office_id: AgencyId::new(),
                max_certified_officers: 10,
            },
            NOW,
        )
        .unwrap()
    }

    fn officer(agency: &Agency, cert: Option<(Date, Date)>, active: bool) -> Officer {
        let mut o = Officer::create(
            NewOfficer {
                agency_id: agency.id,
                given_name: Name::parse("Sam").unwrap(),
                family_name: Name::parse("Ortiz").unwrap(),
                badge: BadgeNumber::parse("77").unwrap(),
                phones: vec![],
                certified_on: cert.map(|c| c.0),
                certification_expires_on: cert.map(|c| c.1),
            },
            NOW,
        )
        .unwrap();
        o.active = active;
        o
    }

    const CURRENT: Option<(Date, Date)> = Some((date!(2026 - 01 - 01), date!(2027 - 01 - 01)));

    fn codes(a: &CallerAssessment) -> Vec<&'static str> {
        a.problems.iter().map(CallerProblem::code).collect()
    }

    #[test]
    fn unknown_number() {
        let a = assess_caller(None, TODAY);
        assert!(!a.authorised);
        assert_eq!(codes(&a), ["unknown_number"]);
    }

    #[test]
    fn authorised_partner_lists_its_active_models() {
        let ag = agency(AgencyKind::Partner287g);
        let agreements = [
            agreement(
                &ag,
                AgreementModel::TaskForce,
                date!(2025 - 01 - 01),
                date!(2027 - 01 - 01),
                None,
            ),
            agreement(
                &ag,
                AgreementModel::JailEnforcement,
                date!(2025 - 01 - 01),
                date!(2027 - 01 - 01),
                None,
            ),
            agreement(
                &ag,
                AgreementModel::WarrantServiceOfficer,
                date!(2020 - 01 - 01),
                date!(2021 - 01 - 01),
                None,
            ),
        ];
        let o = officer(&ag, CURRENT, true);
        let a = assess_caller(Some((&o, &ag, &agreements)), TODAY);
        assert!(a.authorised, "{a:?}");
        assert!(a.problems.is_empty());
        assert_eq!(
            a.active_models,
            [AgreementModel::JailEnforcement, AgreementModel::TaskForce]
        );
    }

    #[test]
    fn federal_officers_need_no_agreement_or_certification() {
        let ag = agency(AgencyKind::FederalFieldOffice);
        let o = officer(&ag, None, true);
        let a = assess_caller(Some((&o, &ag, &[])), TODAY);
        assert!(a.authorised);
        assert!(a.active_models.is_empty());
        let gone = officer(&ag, None, false);
        assert_eq!(
            codes(&assess_caller(Some((&gone, &ag, &[])), TODAY)),
            ["officer_inactive"]
        );
    }

    #[test]
    fn every_unauthorised_reason() {
        let ag = agency(AgencyKind::Partner287g);
        let tf = AgreementModel::TaskForce;
        let expired = [agreement(
            &ag,
            tf,
            date!(2022 - 01 - 01),
            date!(2025 - 01 - 01),
            None,
        )];
        let pending = [
            agreement(&ag, tf, date!(2027 - 01 - 01), date!(2029 - 01 - 01), None),
            agreement(&ag, tf, date!(2022 - 01 - 01), date!(2025 - 01 - 01), None),
        ];
        let terminated = [agreement(
            &ag,
            tf,
            date!(2025 - 01 - 01),
            date!(2027 - 01 - 01),
            Some(date!(2026 - 06 - 30)),
        )];
        let active = [agreement(
            &ag,
            tf,
            date!(2025 - 01 - 01),
            date!(2027 - 01 - 01),
            None,
        )];
        let lapsed = Some((date!(2024 - 01 - 01), date!(2025 - 01 - 01)));

        let cases: Vec<(&str, Officer, &[Agreement], Vec<&str>)> = vec![
            (
                "no agreement",
                officer(&ag, CURRENT, true),
                &[],
                vec!["no_agreement"],
            ),
            (
                "expired",
                officer(&ag, CURRENT, true),
                &expired,
                vec!["agreement_expired"],
            ),
            (
                "pending beats expired",
                officer(&ag, CURRENT, true),
                &pending,
                vec!["agreement_not_yet_in_effect"],
            ),
            (
                "terminated",
                officer(&ag, CURRENT, true),
                &terminated,
                vec!["agreement_terminated"],
            ),
            (
                "never certified",
                officer(&ag, None, true),
                &active,
                vec!["officer_not_certified"],
            ),
            (
                "certification lapsed",
                officer(&ag, lapsed, true),
                &active,
                vec!["certification_expired"],
            ),
            (
                "inactive",
                officer(&ag, CURRENT, false),
                &active,
                vec!["officer_inactive"],
            ),
            (
                "everything wrong at once",
                officer(&ag, lapsed, false),
                &expired,
                vec![
                    "officer_inactive",
                    "agreement_expired",
                    "certification_expired",
                ],
            ),
        ];
        for (name, o, agreements, want) in cases {
            let a = assess_caller(Some((&o, &ag, agreements)), TODAY);
            assert!(!a.authorised, "{name}");
            assert_eq!(codes(&a), want, "{name}");
            assert!(
                a.active_models.is_empty(),
                "{name}: an unauthorised caller has no models"
            );
            for p in &a.problems {
                assert!(!p.message().is_empty());
            }
        }
    }

    #[test]
    fn dates_are_carried_in_problems() {
        let ag = agency(AgencyKind::Partner287g);
        let ex = [agreement(
            &ag,
            AgreementModel::TaskForce,
            date!(2022 - 01 - 01),
            date!(2025 - 03 - 04),
            None,
        )];
        let o = officer(&ag, CURRENT, true);
        let a = assess_caller(Some((&o, &ag, &ex)), TODAY);
        assert_eq!(
            a.problems,
            [CallerProblem::AgreementExpired {
                last_day: date!(2025 - 03 - 04)
            }]
        );
        assert!(a.problems[0].message().contains("2025-03-04"));
    }

    #[test]
    fn another_agencys_agreement_does_not_count() {
        let ag = agency(AgencyKind::Partner287g);
        let other = agency(AgencyKind::Partner287g);
        let theirs = [agreement(
            &other,
            AgreementModel::TaskForce,
            date!(2025 - 01 - 01),
            date!(2027 - 01 - 01),
            None,
        )];
        let o = officer(&ag, CURRENT, true);
        assert_eq!(
            codes(&assess_caller(Some((&o, &ag, &theirs)), TODAY)),
            ["no_agreement"]
        );
    }
}
