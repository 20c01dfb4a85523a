//! The story test suite: what every backend must do, written once against [`Store`].
//!
//! A backend's integration tests call [`story_tests!`](crate::story_tests) with an async
//! function that returns a [`Fixture`] over a fresh, migrated, empty database; each story
//! below then becomes one `#[tokio::test]` of that backend.

use std::future::Future;

use switchboard_domain::{
    ANumber, Agency, AgencyId, AgencyKind, Agreement, AgreementModel, BadgeNumber, Call, CallState,
    E164, Inquiry, Name, NewAgency, NewAgreement, NewCall, NewInquiry, NewOfficer, NewUser,
    Officer, OfficerId, Ori, PurposeCode, Role, Sex, StateCode, Subject, User, Username,
};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use switchboard_domain::records::{
    ClassInjunction, CourtOrderRecord, CriminalHistoryRecord, IdentityRecord,
    ImmigrationCaseRecord, KeyKind, RecordKey, SourceRecord, System,
};

use crate::{
    ACD_LOG_MAX_LIMIT, ACD_SNAPSHOTS_KEPT, AcdLogEntry, AcdSnapshot, AgencyFilter, AgreementFilter,
    DeterminationRow, DispositionRow, FeedKeyRow, LiaisonCaseRow, OfficerFilter, PageRequest,
    PartnerInquiryRow, PartnerKeyRow, RecordBatch, SOURCE_RECORDS_BY_ID_MAX, Store, StoreError,
};

/// A fresh database behind a store, cleaned up when dropped.
pub trait Fixture: Send {
    fn store(&self) -> &dyn Store;
    /// Closes the store and opens the same database again, as a restart would.
    fn reopen(&mut self) -> impl Future<Output = ()> + Send;
}

/// Expands to one `#[tokio::test]` per story, each on its own fresh fixture from `$make`.
#[macro_export]
macro_rules! story_tests {
    ($make:path) => {
        $crate::story_tests!(@each $make;
            agency_round_trip_and_lookup,
            agency_ori_is_unique,
            agency_update_is_optimistic,
            agency_listing_filters_and_pages,
            agreement_round_trip_and_filters,
            agreement_references_must_exist,
            officer_round_trip_and_phone_lookup,
            officer_uniqueness,
            officer_update_replaces_phones,
            officer_listing_and_certified_count,
            user_round_trip,
            call_life_and_compare_and_set,
            calls_list_newest_first,
            open_calls_are_those_not_over_oldest_first,
            inquiry_round_trip,
            concurrent_updates_one_wins,
            source_records_round_trip_and_upsert,
            registry_import_is_all_or_nothing,
            acd_log_appends_and_pages_in_order,
            acd_log_read_limit_is_clamped,
            acd_log_duplicate_seq_writes_nothing,
            acd_snapshots_keep_the_three_newest,
            acd_json_round_trips_exactly,
            disposition_round_trip_and_optimistic_update,
            dispositions_list_newest_first_by_state,
            liaison_case_round_trip_and_references,
            source_records_by_id_in_requested_order,
            user_update_and_lookup_by_username,
            credentials_round_trip_and_optimistic_update,
            sessions_end_one_or_all,
            audit_log_appends_searches_and_refuses_duplicates,
            audit_checkpoints_in_size_order,
            audit_actions_stay_open_until_closed,
            partner_keys_round_trip_and_revoke,
            partner_inquiries_round_trip_find_by_phone_and_page,
            source_records_are_found_by_every_identifier_they_carry,
            determinations_round_trip_by_record_and_optimistic_update,
            record_changes_are_logged_in_order_and_read_by_position,
            a_batch_naming_the_wrong_system_applies_nothing,
            feed_keys_round_trip_and_revoke,
        );
        #[tokio::test]
        async fn writes_survive_reopen() {
            let mut fx = $make().await;
            $crate::story::writes_survive_reopen(&mut fx).await;
        }
        #[tokio::test]
        async fn acd_log_survives_reopen() {
            let mut fx = $make().await;
            $crate::story::acd_log_survives_reopen(&mut fx).await;
        }
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fx = $make().await;
                $crate::story::$name($crate::story::Fixture::store(&fx)).await;
            }
        )*
    };
}

const T0: OffsetDateTime = datetime!(2026-11-21 08:00 UTC);
const TODAY: Date = date!(2026 - 11 - 21);

fn new_agency(ori: &str, name: &str, kind: AgencyKind) -> Agency {
    Agency::create(
        NewAgency {
            ori: Ori::parse(ori).unwrap(),
            name: Name::parse(name).unwrap(),
            kind,
        },
        T0,
    )
}

async fn partner_and_office(s: &dyn Store) -> (Agency, Agency) {
    let p = new_agency(
        "TX2270000",
        "Bexley County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    let f = new_agency(
        "TX2279900",
        "Federal Field Office Southplains",
        AgencyKind::FederalFieldOffice,
    );
    s.insert_agency(&p).await.unwrap();
    s.insert_agency(&f).await.unwrap();
    (p, f)
}

fn new_agreement(
    partner: &Agency,
    office: &Agency,
    model: AgreementModel,
    signed: Date,
    expires: Date,
) -> Agreement {
    Agreement::create(
        NewAgreement {
            agency_id: partner.id,
            model,
            signed_on: signed,
            expires_on: expires,
            terminated_on: None,
            supervising_office_id: office.id,
            max_certified_officers: 12,
        },
        T0,
    )
    .unwrap()
}

fn new_officer(
    agency: &Agency,
    given: &str,
    family: &str,
    badge: &str,
    phones: &[&str],
) -> Officer {
    Officer::create(
        NewOfficer {
            agency_id: agency.id,
            given_name: Name::parse(given).unwrap(),
            family_name: Name::parse(family).unwrap(),
            badge: BadgeNumber::parse(badge).unwrap(),
            phones: phones.iter().map(|p| E164::parse(p).unwrap()).collect(),
            certified_on: Some(date!(2026 - 01 - 15)),
            certification_expires_on: Some(date!(2027 - 01 - 14)),
        },
        T0,
    )
    .unwrap()
}

fn phone(p: &str) -> E164 {
    E164::parse(p).unwrap()
}

pub async fn agency_round_trip_and_lookup(s: &dyn Store) {
    s.ping().await.unwrap();
    let a = new_agency(
        "FL0130000",
        "Coral Vale County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    s.insert_agency(&a).await.unwrap();
    assert_eq!(s.agency(a.id).await.unwrap(), a);
    assert_eq!(s.agency_by_ori(&a.ori).await.unwrap(), Some(a.clone()));
    assert_eq!(
        s.agency_by_ori(&Ori::parse("FL0139999").unwrap())
            .await
            .unwrap(),
        None
    );
    match s.agency(AgencyId::new()).await {
        Err(StoreError::NotFound {
            entity: "agency", ..
        }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub async fn agency_ori_is_unique(s: &dyn Store) {
    let a = new_agency(
        "GA0600000",
        "Pinecrest County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    s.insert_agency(&a).await.unwrap();
    let dup = new_agency("GA0600000", "Another Name", AgencyKind::Partner287g);
    match s.insert_agency(&dup).await {
        Err(StoreError::Conflict { field: "ori", .. }) => {}
        other => panic!("expected an ORI conflict, got {other:?}"),
    }
    // The failed insert changed nothing.
    assert_eq!(s.agency(a.id).await.unwrap(), a);
    assert!(matches!(
        s.agency(dup.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn agency_update_is_optimistic(s: &dyn Store) {
    let a = new_agency(
        "AZ0070000",
        "Red Mesa County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    s.insert_agency(&a).await.unwrap();
    let mut edit = a.clone();
    edit.name = Name::parse("Red Mesa County Sheriff").unwrap();
    edit.updated_at = T0 + Duration::hours(1);
    let saved = s.update_agency(&edit).await.unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(saved.name.as_str(), "Red Mesa County Sheriff");
    assert_eq!(s.agency(a.id).await.unwrap(), saved);

    // Writing from the old version is refused and changes nothing.
    let mut stale = a.clone();
    stale.name = Name::parse("Lost Update").unwrap();
    match s.update_agency(&stale).await {
        Err(StoreError::Stale { since, .. }) if since == "version 1" => {}
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(s.agency(a.id).await.unwrap(), saved);

    let ghost = new_agency("AZ0079999", "Nobody", AgencyKind::Partner287g);
    assert!(matches!(
        s.update_agency(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));

    // Changing the ORI to one already taken is a conflict.
    let other = new_agency(
        "AZ0080000",
        "Dry Creek Police Department",
        AgencyKind::Partner287g,
    );
    s.insert_agency(&other).await.unwrap();
    let mut clash = saved.clone();
    clash.ori = other.ori.clone();
    assert!(matches!(
        s.update_agency(&clash).await,
        Err(StoreError::Conflict { field: "ori", .. })
    ));
}

pub async fn agency_listing_filters_and_pages(s: &dyn Store) {
    let specs = [
        (
            "TX0010000",
            "Alder County Sheriff's Office",
            AgencyKind::Partner287g,
        ),
        (
            "TX0020000",
            "Birch County Sheriff's Office",
            AgencyKind::Partner287g,
        ),
        (
            "TX0030000",
            "Federal Field Office Gulf 100% Synthetic",
            AgencyKind::FederalFieldOffice,
        ),
        (
            "OK0040000",
            "Cedar County Sheriff's Office",
            AgencyKind::Partner287g,
        ),
        (
            "OK0050000",
            "Dogwood Police Department",
            AgencyKind::Partner287g,
        ),
    ];
    let mut all = Vec::new();
    for (ori, name, kind) in specs {
        let a = new_agency(ori, name, kind);
        s.insert_agency(&a).await.unwrap();
        all.push(a);
    }

    // Paging walks every agency exactly once, in id (creation) order.
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let p = s
            .list_agencies(&AgencyFilter::default(), page)
            .await
            .unwrap();
        assert!(p.items.len() <= 2);
        seen.extend(p.items);
        match p.next {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    assert_eq!(seen, all);

    let names = |f: AgencyFilter| async move {
        s.list_agencies(&f, PageRequest::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.ori.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(AgencyFilter {
            state: Some(StateCode::parse("OK").unwrap()),
            ..Default::default()
        })
        .await,
        ["OK0040000", "OK0050000"]
    );
    assert_eq!(
        names(AgencyFilter {
            kind: Some(AgencyKind::FederalFieldOffice),
            ..Default::default()
        })
        .await,
        ["TX0030000"]
    );
    assert_eq!(
        names(AgencyFilter {
            name_contains: Some("SHERIFF".into()),
            ..Default::default()
        })
        .await,
        ["TX0010000", "TX0020000", "OK0040000"]
    );
    assert_eq!(
        names(AgencyFilter {
            name_contains: Some("CÉDAR".into()),
            ..Default::default()
        })
        .await,
        ["OK0040000"]
    );
    // Pattern characters are matched literally.
    assert_eq!(
        names(AgencyFilter {
            name_contains: Some("100%".into()),
            ..Default::default()
        })
        .await,
        ["TX0030000"]
    );
    assert!(
        names(AgencyFilter {
            name_contains: Some("%".into()),
            kind: Some(AgencyKind::Partner287g),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        names(AgencyFilter {
            state: Some(StateCode::parse("TX").unwrap()),
            kind: Some(AgencyKind::Partner287g),
            name_contains: Some("birch".into()),
        })
        .await,
        ["TX0020000"]
    );
    let last = s
        .list_agencies(
            &AgencyFilter::default(),
            PageRequest {
                limit: 10,
                after: Some(all[4].id.as_uuid()),
            },
        )
        .await
        .unwrap();
    assert!(last.items.is_empty() && last.next.is_none());
}

pub async fn agreement_round_trip_and_filters(s: &dyn Store) {
    let (p, f) = partner_and_office(s).await;
    let old = new_agreement(
        &p,
        &f,
        AgreementModel::JailEnforcement,
        date!(2020 - 01 - 01),
        date!(2023 - 01 - 01),
    );
    let tf = new_agreement(
        &p,
        &f,
        AgreementModel::TaskForce,
        date!(2025 - 07 - 01),
        date!(2027 - 06 - 30),
    );
    let wso = new_agreement(
        &p,
        &f,
        AgreementModel::WarrantServiceOfficer,
        date!(2026 - 01 - 01),
        date!(2028 - 01 - 01),
    );
    for a in [&old, &tf, &wso] {
        s.insert_agreement(a).await.unwrap();
    }
    assert_eq!(s.agreement(tf.id).await.unwrap(), tf);
    assert_eq!(
        s.agreements_of(p.id).await.unwrap(),
        [old.clone(), tf.clone(), wso.clone()]
    );
    assert!(s.agreements_of(f.id).await.unwrap().is_empty());

    let ids = |f: AgreementFilter| async move {
        s.list_agreements(&f, PageRequest::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(AgreementFilter {
            in_effect_on: Some(TODAY),
            ..Default::default()
        })
        .await,
        [tf.id, wso.id]
    );
    assert_eq!(
        ids(AgreementFilter {
            model: Some(AgreementModel::JailEnforcement),
            ..Default::default()
        })
        .await,
        [old.id]
    );
    assert_eq!(
        ids(AgreementFilter {
            agency_id: Some(f.id),
            ..Default::default()
        })
        .await,
        []
    );

    // Terminating an agreement takes it out of effect from that day.
    let mut ended = wso.clone();
    ended.terminated_on = Some(TODAY);
    let saved = s.update_agreement(&ended).await.unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(
        s.agreement(wso.id).await.unwrap().terminated_on,
        Some(TODAY)
    );
    assert_eq!(
        ids(AgreementFilter {
            in_effect_on: Some(TODAY),
            ..Default::default()
        })
        .await,
        [tf.id]
    );
    assert!(matches!(
        s.update_agreement(&ended).await,
        Err(StoreError::Stale { .. })
    ));
}

pub async fn agreement_references_must_exist(s: &dyn Store) {
    let (p, f) = partner_and_office(s).await;
    let mut a = new_agreement(
        &p,
        &f,
        AgreementModel::TaskForce,
        date!(2025 - 01 - 01),
        date!(2027 - 01 - 01),
    );
    a.agency_id = AgencyId::new();
    assert!(matches!(
        s.insert_agreement(&a).await,
        Err(StoreError::MissingReference { .. })
    ));
    let mut b = new_agreement(
        &p,
        &f,
        AgreementModel::TaskForce,
        date!(2025 - 01 - 01),
        date!(2027 - 01 - 01),
    );
    b.supervising_office_id = AgencyId::new();
    assert!(matches!(
        s.insert_agreement(&b).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert!(s.agreements_of(p.id).await.unwrap().is_empty());

    let mut o = new_officer(&p, "Ana", "Ruiz", "100", &[]);
    o.agency_id = AgencyId::new();
    assert!(matches!(
        s.insert_officer(&o).await,
        Err(StoreError::MissingReference { .. })
    ));
}

pub async fn officer_round_trip_and_phone_lookup(s: &dyn Store) {
    let (p, _) = partner_and_office(s).await;
    let o = new_officer(
        &p,
        "María José",
        "Fernández de la Cruz",
        "D-4471",
        &["+15125550101", "+15125550199"],
    );
    s.insert_officer(&o).await.unwrap();
    assert_eq!(s.officer(o.id).await.unwrap(), o);
    assert_eq!(
        s.officer_by_phone(&phone("+15125550199")).await.unwrap(),
        Some(o.clone())
    );
    assert_eq!(
        s.officer_by_phone(&phone("+15125550102")).await.unwrap(),
        None
    );

    let no_phone = new_officer(&p, "Li", "Wei", "D-0002", &[]);
    s.insert_officer(&no_phone).await.unwrap();
    assert_eq!(s.officer(no_phone.id).await.unwrap().phones, []);
    assert!(matches!(
        s.officer(OfficerId::new()).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn officer_uniqueness(s: &dyn Store) {
    let (p, f) = partner_and_office(s).await;
    let a = new_officer(&p, "Ana", "Ruiz", "100", &["+13055550111"]);
    s.insert_officer(&a).await.unwrap();

    // A number identifies one officer only; the whole insert is refused.
    let b = new_officer(&p, "Ben", "Stone", "101", &["+13055550112", "+13055550111"]);
    assert!(matches!(
        s.insert_officer(&b).await,
        Err(StoreError::Conflict {
            field: "phones",
            ..
        })
    ));
    assert!(matches!(
        s.officer(b.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.officer_by_phone(&phone("+13055550112")).await.unwrap(),
        None
    );

    // Badges are unique within an agency, not across agencies.
    let c = new_officer(&p, "Cal", "Moore", "100", &[]);
    assert!(matches!(
        s.insert_officer(&c).await,
        Err(StoreError::Conflict { field: "badge", .. })
    ));
    let d = new_officer(&f, "Dee", "Hart", "100", &[]);
    s.insert_officer(&d).await.unwrap();
}

pub async fn officer_update_replaces_phones(s: &dyn Store) {
    let (p, _) = partner_and_office(s).await;
    let o = new_officer(&p, "Rosa", "Lima", "7", &["+12025550100", "+12025550101"]);
    s.insert_officer(&o).await.unwrap();
    let other = new_officer(&p, "Tom", "Ng", "8", &["+12025550150"]);
    s.insert_officer(&other).await.unwrap();

    let mut edit = o.clone();
    edit.phones = vec![phone("+12025550101"), phone("+12025550102")];
    edit.active = false;
    edit.certification_expires_on = Some(date!(2026 - 06 - 30));
    let saved = s.update_officer(&edit).await.unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(s.officer(o.id).await.unwrap(), saved);
    assert_eq!(
        s.officer_by_phone(&phone("+12025550100")).await.unwrap(),
        None
    );
    assert_eq!(
        s.officer_by_phone(&phone("+12025550102"))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(o.id)
    );

    // Taking another officer's number fails and leaves both officers as they were.
    let mut grab = saved.clone();
    grab.phones = vec![phone("+12025550150")];
    assert!(matches!(
        s.update_officer(&grab).await,
        Err(StoreError::Conflict {
            field: "phones",
            ..
        })
    ));
    assert_eq!(s.officer(o.id).await.unwrap(), saved);
    assert_eq!(
        s.officer_by_phone(&phone("+12025550150"))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(other.id)
    );
    assert!(matches!(
        s.update_officer(&edit).await,
        Err(StoreError::Stale { .. })
    ));
}

pub async fn officer_listing_and_certified_count(s: &dyn Store) {
    let (p, f) = partner_and_office(s).await;
    let mut lapsed = new_officer(&p, "Eva", "Santos", "1", &[]);
    lapsed.certification_expires_on = Some(date!(2026 - 02 - 01));
    let mut inactive = new_officer(&p, "Hugo", "Santos Pérez", "2", &[]);
    inactive.active = false;
    let current = new_officer(&p, "Ivy", "Chen", "3", &[]);
    let mut never = new_officer(&p, "Jon", "Park", "4", &[]);
    never.certified_on = None;
    never.certification_expires_on = None;
    let fed = new_officer(&f, "Kai", "Santos", "5", &[]);
    for o in [&lapsed, &inactive, &current, &never, &fed] {
        s.insert_officer(o).await.unwrap();
    }
    assert_eq!(s.count_certified_officers(p.id, TODAY).await.unwrap(), 1);
    assert_eq!(
        s.count_certified_officers(p.id, date!(2026 - 01 - 20))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.count_certified_officers(p.id, date!(2026 - 01 - 01))
            .await
            .unwrap(),
        0
    );

    let badges = |f: OfficerFilter| async move {
        s.list_officers(&f, PageRequest::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| o.badge.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        badges(OfficerFilter {
            agency_id: Some(p.id),
            ..Default::default()
        })
        .await,
        ["1", "2", "3", "4"]
    );
    assert_eq!(
        badges(OfficerFilter {
            name_contains: Some("santos".into()),
            ..Default::default()
        })
        .await,
        ["1", "2", "5"]
    );
    assert_eq!(
        badges(OfficerFilter {
            name_contains: Some("ivy".into()),
            ..Default::default()
        })
        .await,
        ["3"]
    );
    // Case and accents are ignored the same way on every backend.
    for q in ["PÉREZ", "perez", "Pérez", "hugo santos p"] {
        assert_eq!(
            badges(OfficerFilter {
                name_contains: Some(q.into()),
                ..Default::default()
            })
            .await,
            ["2"],
            "{q}"
        );
    }
    assert_eq!(
        badges(OfficerFilter {
            active: Some(false),
            ..Default::default()
        })
        .await,
        ["2"]
    );
    assert_eq!(
        badges(OfficerFilter {
            badge: Some(BadgeNumber::parse("5").unwrap()),
            agency_id: Some(f.id),
            ..Default::default()
        })
        .await,
        ["5"]
    );
    let page = s
        .list_officers(&OfficerFilter::default(), PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = s
        .list_officers(
            &OfficerFilter::default(),
            PageRequest {
                limit: 3,
                after: page.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next, None);
}

pub async fn user_round_trip(s: &dyn Store) {
    let u = User::create(
        NewUser {
            username: Username::parse("ct.alvarez").unwrap(),
            display_name: Name::parse("Paz Álvarez").unwrap(),
            role: Role::CallTaker,
        },
        T0,
    );
    s.insert_user(&u).await.unwrap();
    assert_eq!(s.user(u.id).await.unwrap(), u);
    let mut twin = u.clone();
    twin.id = switchboard_domain::UserId::new();
    assert!(matches!(
        s.insert_user(&twin).await,
        Err(StoreError::Conflict {
            field: "username",
            ..
        })
    ));
    let all = s.list_users(PageRequest::default()).await.unwrap();
    assert_eq!(all.items, [u]);
}

pub async fn call_life_and_compare_and_set(s: &dyn Store) {
    let (p, _) = partner_and_office(s).await;
    let o = new_officer(&p, "Ana", "Ruiz", "100", &["+13055550111"]);
    s.insert_officer(&o).await.unwrap();
    let mut c = Call::arrive(
        NewCall {
            ani_raw: "+1 305 555 0111".into(),
            officer_id: Some(o.id),
        },
        T0,
    );
    s.insert_call(&c).await.unwrap();
    assert_eq!(s.call(c.id).await.unwrap(), c);

    c.transition(CallState::Queued, T0).unwrap();
    s.update_call(&c, CallState::Arriving).await.unwrap();
    c.transition(CallState::Offered, T0 + Duration::seconds(5))
        .unwrap();
    s.update_call(&c, CallState::Queued).await.unwrap();
    c.transition(CallState::Connected, T0 + Duration::seconds(9))
        .unwrap();
    s.update_call(&c, CallState::Offered).await.unwrap();
    assert_eq!(s.call(c.id).await.unwrap(), c);

    // A writer that believes the call is still queued loses.
    let mut late = c.clone();
    late.state = CallState::Abandoned;
    assert!(matches!(
        s.update_call(&late, CallState::Queued).await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(s.call(c.id).await.unwrap().state, CallState::Connected);

    let anonymous = Call::arrive(
        NewCall {
            ani_raw: "anonymous".into(),
            officer_id: None,
        },
        T0,
    );
    s.insert_call(&anonymous).await.unwrap();
    assert_eq!(s.call(anonymous.id).await.unwrap(), anonymous);
    let mut ghost = Call::arrive(
        NewCall {
            ani_raw: "+13055550000".into(),
            officer_id: Some(OfficerId::new()),
        },
        T0,
    );
    assert!(matches!(
        s.insert_call(&ghost).await,
        Err(StoreError::MissingReference { .. })
    ));
    ghost.officer_id = None;
    assert!(matches!(
        s.update_call(&ghost, CallState::Arriving).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn open_calls_are_those_not_over_oldest_first(s: &dyn Store) {
    let mut open = Vec::new();
    for (i, state) in [
        CallState::Connected,
        CallState::Ended,
        CallState::Queued,
        CallState::Abandoned,
        CallState::Offered,
    ]
    .into_iter()
    .enumerate()
    {
        // Inserted newest first, so the order returned is the arrival order, not insertion.
        let at = T0 - Duration::seconds(i as i64);
        let mut c = Call::arrive(
            NewCall {
                ani_raw: format!("+1202555011{i}"),
                officer_id: None,
            },
            at,
        );
        for step in match state {
            CallState::Queued => &[CallState::Queued][..],
            CallState::Offered => &[CallState::Queued, CallState::Offered],
            CallState::Connected => &[CallState::Queued, CallState::Offered, CallState::Connected],
            CallState::Ended => &[CallState::Queued, CallState::Ended],
            _ => &[CallState::Queued, CallState::Abandoned],
        } {
            c.transition(*step, at).unwrap();
        }
        s.insert_call(&c).await.unwrap();
        if !state.is_final() {
            open.push(c);
        }
    }
    open.reverse();
    assert_eq!(s.open_calls(100).await.unwrap(), open);
    assert_eq!(s.open_calls(0).await.unwrap(), open[..1]);
}

pub async fn calls_list_newest_first(s: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = Call::arrive(
            NewCall {
                ani_raw: format!("+1202555010{i}"),
                officer_id: None,
            },
            T0 + Duration::seconds(i),
        );
        s.insert_call(&c).await.unwrap();
        ids.push(c.id);
    }
    ids.reverse();
    let first = s.list_calls(PageRequest::first(3)).await.unwrap();
    let second = s
        .list_calls(PageRequest {
            limit: 3,
            after: first.next,
        })
        .await
        .unwrap();
    let got: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|c| c.id)
        .collect();
    assert_eq!(got, ids);
    assert_eq!(second.next, None);
}

pub async fn inquiry_round_trip(s: &dyn Store) {
    let c = Call::arrive(
        NewCall {
            ani_raw: "+12025550100".into(),
            officer_id: None,
        },
        T0,
    );
    s.insert_call(&c).await.unwrap();
    let subject = Subject {
        family_names: vec![
            Name::parse("Núñez").unwrap(),
            Name::parse("de la Peña").unwrap(),
        ],
        given_names: vec![Name::parse("Juan Carlos").unwrap()],
        date_of_birth: Some(date!(1990 - 02 - 28)),
        sex: Some(Sex::Male),
        place_of_birth: Some(Name::parse("Oaxaca, MX").unwrap()),
        a_number: Some(ANumber::parse("A012345678").unwrap()),
        fbi_number: None,
        state_id: None,
        in_custody: Some(true),
        offense_code: Some(Name::parse("5404").unwrap()),
    };
    let i = Inquiry::create(
        NewInquiry {
            call_id: Some(c.id),
            officer_id: None,
            subject,
            purpose: PurposeCode::CriminalJustice,
            reason: Name::parse("Booked on a traffic warrant; identity check").unwrap(),
            case_number: Some(Name::parse("24-001877").unwrap()),
        },
        T0,
    )
    .unwrap();
    s.insert_inquiry(&i).await.unwrap();
    assert_eq!(s.inquiry(i.id).await.unwrap(), i);
    assert_eq!(
        s.inquiries_for_call(c.id).await.unwrap(),
        std::slice::from_ref(&i)
    );

    let mut orphan = i.clone();
    orphan.id = switchboard_domain::InquiryId::new();
    orphan.call_id = Some(switchboard_domain::CallId::new());
    assert!(matches!(
        s.insert_inquiry(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
}

pub async fn concurrent_updates_one_wins(s: &dyn Store) {
    let a = new_agency(
        "NC0920000",
        "Laurel County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    s.insert_agency(&a).await.unwrap();
    let attempts = (0..8).map(|i| {
        let mut edit = a.clone();
        edit.name = Name::parse(&format!("Writer {i}")).unwrap();
        async move { s.update_agency(&edit).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Stale { .. }))
    );
    assert_eq!(s.agency(a.id).await.unwrap().version, 2);
}

pub async fn writes_survive_reopen<F: Fixture>(fx: &mut F) {
    let (p, f) = partner_and_office(fx.store()).await;
    let o = new_officer(&p, "Ana", "Ruiz", "100", &["+13055550111"]);
    fx.store().insert_officer(&o).await.unwrap();
    fx.reopen().await;
    let s = fx.store();
    assert_eq!(s.agency(p.id).await.unwrap(), p);
    assert_eq!(s.agency(f.id).await.unwrap(), f);
    assert_eq!(
        s.officer_by_phone(&phone("+13055550111")).await.unwrap(),
        Some(o)
    );
}

fn identity(id: &str, family: &str, updated: Date) -> SourceRecord {
    SourceRecord::Identity(IdentityRecord {
        record_id: id.to_owned(),
        a_number: "204815672".to_owned(),
        fin: "1000000001".to_owned(),
        family_name: family.to_owned(),
        given_name: "María José".to_owned(),
        aliases: "Majo Núñez".to_owned(),
        dob: Some(date!(1991 - 02 - 28)),
        sex: Some("F".to_owned()),
        country_of_birth: Some("MX".to_owned()),
        place_of_birth: None,
        updated_on: updated,
        entered_on: Some(date!(2009 - 07 - 04)),
        entry_place: Some("Laredo, TX".to_owned()),
        admission_class: None,
    })
}

pub async fn source_records_round_trip_and_upsert(s: &dyn Store) {
    let case = SourceRecord::ImmigrationCase(ImmigrationCaseRecord {
        record_id: "CAS-0000000000000001".to_owned(),
        a_number: "204815672".to_owned(),
        family_name: "Núñez de la Peña".to_owned(),
        given_name: "María José".to_owned(),
        dob: None,
        status: "asylum_pending".to_owned(),
        applications: "asylum:pending:2025-01-02".to_owned(),
        protected_1367: true,
        next_hearing_on: Some(date!(2027 - 03 - 01)),
        appeal_pending: false,
        motion_to_reopen_pending: true,
        final_order_on: None,
        stay_kind: None,
        stay_until: None,
        updated_on: date!(2026 - 11 - 01),
        entered_on: None,
        entry_place: None,
        admission_class: None,
    });
    let mut batch = vec![case.clone()];
    for i in 0..250 {
        batch.push(identity(
            &format!("IDN-{i:016X}"),
            "Núñez",
            date!(2026 - 10 - 01),
        ));
    }
    s.put_source_records(&batch).await.unwrap();
    s.put_source_records(&[]).await.unwrap();
    let counts = s.count_source_records().await.unwrap();
    assert_eq!(
        counts,
        [(System::Identity, 250), (System::ImmigrationCase, 1)]
    );

    // Paging by sequence returns every identity record once, in arrival order, unchanged.
    let mut seen = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let page = s
            .source_records(Some(System::Identity), after, 100)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().0);
        seen.extend(page.into_iter().map(|(_, r)| r));
    }
    assert_eq!(seen, batch[1..]);
    let only = |v: Vec<(i64, SourceRecord)>| v.into_iter().map(|(_, r)| r).collect::<Vec<_>>();
    assert_eq!(
        only(
            s.source_records(Some(System::ImmigrationCase), None, 10)
                .await
                .unwrap()
        ),
        [case]
    );
    assert_eq!(s.source_records(None, None, 1000).await.unwrap().len(), 251);

    // A source re-sending a record replaces it; nothing is duplicated.
    let fixed = identity("IDN-0000000000000000", "Núñez Pérez", date!(2026 - 11 - 20));
    s.put_source_records(std::slice::from_ref(&fixed))
        .await
        .unwrap();
    let first = s
        .source_records(Some(System::Identity), None, 1)
        .await
        .unwrap();
    assert_eq!(
        first[0].1, fixed,
        "replaced in place, keeping its place in the sequence"
    );
    assert_eq!(
        s.count_source_records().await.unwrap()[0],
        (System::Identity, 250)
    );

    let order = ClassInjunction {
        order_id: "CLS-0001".to_owned(),
        court: "U.S. District Court (synthetic)".to_owned(),
        docket: "25-cv-00001".to_owned(),
        title: "Doe v. Example".to_owned(),
        class_definition: "Everyone in the example class.".to_owned(),
        countries: "HT".to_owned(),
        entered_on_or_before: Some(date!(2024 - 01 - 01)),
        entered_under_age: None,
        issued_on: date!(2025 - 01 - 01),
        expires_on: None,
        entered_on_or_after: None,
        further_conditions: None,
    };
    s.put_class_injunctions(std::slice::from_ref(&order))
        .await
        .unwrap();
    s.put_class_injunctions(std::slice::from_ref(&order))
        .await
        .unwrap();
    assert_eq!(s.class_injunctions().await.unwrap(), [order]);
}

pub async fn registry_import_is_all_or_nothing(s: &dyn Store) {
    let p = new_agency(
        "SC0400000",
        "Thistle County Sheriff's Office",
        AgencyKind::Partner287g,
    );
    let f = new_agency(
        "SC0409900",
        "Federal Field Office Piedmont",
        AgencyKind::FederalFieldOffice,
    );
    let g = new_agreement(
        &p,
        &f,
        AgreementModel::JailEnforcement,
        date!(2025 - 01 - 01),
        date!(2027 - 01 - 01),
    );
    let a = new_officer(&p, "Uma", "Shaw", "11", &["+18035550111"]);
    let clash = new_officer(&p, "Zoe", "Young", "12", &["+18035550111"]);
    match s
        .import_registry(
            &[p.clone(), f.clone()],
            std::slice::from_ref(&g),
            &[a.clone(), clash],
        )
        .await
    {
        Err(StoreError::Conflict {
            field: "phones", ..
        }) => {}
        other => panic!("expected a phone conflict, got {other:?}"),
    }
    assert!(
        s.list_agencies(&AgencyFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was kept"
    );
    s.import_registry(
        &[p.clone(), f.clone()],
        std::slice::from_ref(&g),
        std::slice::from_ref(&a),
    )
    .await
    .unwrap();
    assert_eq!(s.agreements_of(p.id).await.unwrap(), [g]);
    assert_eq!(
        s.officer_by_phone(&phone("+18035550111")).await.unwrap(),
        Some(a)
    );
}

/// Log entries `seqs`, each a small document naming its own `seq`.
fn acd_entries(seqs: impl IntoIterator<Item = i64>) -> Vec<AcdLogEntry> {
    seqs.into_iter()
        .map(|seq| AcdLogEntry {
            seq,
            at_ms: 1_795_766_400_000 + seq * 250,
            entry: serde_json::json!({
                "event": "call_arrived",
                "call": format!("call-{seq}"),
                "queue": {"name": "partners", "priority": seq % 3},
            }),
        })
        .collect()
}

pub async fn acd_log_appends_and_pages_in_order(s: &dyn Store) {
    assert_eq!(s.last_acd_seq().await.unwrap(), 0, "empty log");
    assert!(s.acd_log_after(0, 100).await.unwrap().is_empty());
    s.append_acd_log(&[]).await.unwrap();
    assert_eq!(s.last_acd_seq().await.unwrap(), 0);

    let all = acd_entries(1..=23);
    s.append_acd_log(&all[..10]).await.unwrap();
    assert_eq!(s.last_acd_seq().await.unwrap(), 10);
    s.append_acd_log(&all[10..]).await.unwrap();
    s.append_acd_log(&[]).await.unwrap();
    assert_eq!(s.last_acd_seq().await.unwrap(), 23);

    assert_eq!(s.acd_log_after(0, 100).await.unwrap(), all);
    assert_eq!(s.acd_log_after(i64::MIN, 100).await.unwrap(), all);
    // Paging by the last seq read returns every entry once, in order.
    let mut seen = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = s.acd_log_after(after, 5).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 5);
        after = page.last().unwrap().seq;
        seen.extend(page);
        pages += 1;
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 5);
    assert_eq!(s.acd_log_after(17, 3).await.unwrap(), all[17..20]);
    assert_eq!(s.acd_log_after(20, 100).await.unwrap(), all[20..]);
    assert!(s.acd_log_after(23, 100).await.unwrap().is_empty());
    assert!(s.acd_log_after(1_000, 100).await.unwrap().is_empty());
    // A limit of 0 is read as 1.
    assert_eq!(s.acd_log_after(4, 0).await.unwrap(), all[4..5]);

    // Gaps are the writer's business: the log keeps whatever seqs it was given, in order.
    let later = acd_entries([30, 31, 40]);
    s.append_acd_log(&later).await.unwrap();
    assert_eq!(s.last_acd_seq().await.unwrap(), 40);
    assert_eq!(s.acd_log_after(23, 100).await.unwrap(), later);
    assert_eq!(s.acd_log_after(30, 100).await.unwrap(), later[1..]);
}

pub async fn acd_log_read_limit_is_clamped(s: &dyn Store) {
    let max = i64::from(ACD_LOG_MAX_LIMIT);
    let all = acd_entries(1..=max + 5);
    s.append_acd_log(&all).await.unwrap();
    assert_eq!(s.last_acd_seq().await.unwrap(), max + 5);
    let page = s.acd_log_after(0, u32::MAX).await.unwrap();
    assert_eq!(page.len(), ACD_LOG_MAX_LIMIT as usize);
    assert_eq!(page, all[..ACD_LOG_MAX_LIMIT as usize]);
    assert_eq!(
        s.acd_log_after(max, u32::MAX).await.unwrap(),
        all[ACD_LOG_MAX_LIMIT as usize..]
    );
}

pub async fn acd_log_duplicate_seq_writes_nothing(s: &dyn Store) {
    let first = acd_entries(1..=3);
    s.append_acd_log(&first).await.unwrap();

    // A seq repeated within the batch: the entries before the repeat are not kept either.
    let repeated = acd_entries([4, 5, 6, 5, 7]);
    match s.append_acd_log(&repeated).await {
        Err(StoreError::Conflict { field: "seq", .. }) => {}
        other => panic!("expected a seq conflict, got {other:?}"),
    }
    // A seq the log already holds, last in the batch.
    let mut clash = acd_entries(4..=8);
    clash.push(AcdLogEntry {
        seq: 2,
        at_ms: 0,
        entry: serde_json::json!({"event": "rewrite history"}),
    });
    match s.append_acd_log(&clash).await {
        Err(StoreError::Conflict { field: "seq", .. }) => {}
        other => panic!("expected a seq conflict, got {other:?}"),
    }
    // A seq the log already holds, first in the batch.
    match s.append_acd_log(&acd_entries([3, 4])).await {
        Err(StoreError::Conflict { field: "seq", .. }) => {}
        other => panic!("expected a seq conflict, got {other:?}"),
    }

    assert_eq!(
        s.acd_log_after(0, 100).await.unwrap(),
        first,
        "nothing written"
    );
    assert_eq!(s.last_acd_seq().await.unwrap(), 3);

    // The log goes on where it was.
    let next = acd_entries(4..=8);
    s.append_acd_log(&next).await.unwrap();
    assert_eq!(
        s.acd_log_after(0, 100).await.unwrap(),
        [first, next].concat()
    );
    assert_eq!(s.last_acd_seq().await.unwrap(), 8);
}

fn acd_snapshot(seq: i64, label: &str) -> AcdSnapshot {
    AcdSnapshot {
        seq,
        at_ms: 1_795_766_400_000 + seq,
        state: serde_json::json!({
            "label": label,
            "queues": [{"name": "partners", "waiting": ["call-1", "call-2"]}],
            "agents": {"a-1": {"state": "idle", "since_ms": 1_795_766_400_000_i64}},
        }),
    }
}

pub async fn acd_snapshots_keep_the_three_newest(s: &dyn Store) {
    assert_eq!(ACD_SNAPSHOTS_KEPT, 3);
    assert_eq!(s.latest_acd_snapshot().await.unwrap(), None);
    assert!(s.acd_snapshot_seqs().await.unwrap().is_empty());

    s.put_acd_snapshot(&acd_snapshot(10, "ten")).await.unwrap();
    assert_eq!(
        s.latest_acd_snapshot().await.unwrap(),
        Some(acd_snapshot(10, "ten"))
    );
    s.put_acd_snapshot(&acd_snapshot(20, "twenty"))
        .await
        .unwrap();
    s.put_acd_snapshot(&acd_snapshot(30, "thirty"))
        .await
        .unwrap();
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [30, 20, 10]);
    s.put_acd_snapshot(&acd_snapshot(40, "forty"))
        .await
        .unwrap();
    assert_eq!(
        s.latest_acd_snapshot().await.unwrap(),
        Some(acd_snapshot(40, "forty"))
    );
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [40, 30, 20]);
    s.put_acd_snapshot(&acd_snapshot(50, "fifty"))
        .await
        .unwrap();
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [50, 40, 30]);

    // A second snapshot at the same seq replaces the first.
    let again = AcdSnapshot {
        at_ms: 1_795_766_499_999,
        ..acd_snapshot(50, "fifty, retaken")
    };
    s.put_acd_snapshot(&again).await.unwrap();
    assert_eq!(s.latest_acd_snapshot().await.unwrap(), Some(again.clone()));
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [50, 40, 30]);
    // Replacing an older one keeps the set and the latest.
    s.put_acd_snapshot(&acd_snapshot(30, "thirty, retaken"))
        .await
        .unwrap();
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [50, 40, 30]);
    assert_eq!(s.latest_acd_snapshot().await.unwrap(), Some(again.clone()));

    // A snapshot older than the three kept is not kept.
    s.put_acd_snapshot(&acd_snapshot(5, "five")).await.unwrap();
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [50, 40, 30]);
    assert_eq!(s.latest_acd_snapshot().await.unwrap(), Some(again));

    // Snapshots never prune the log.
    let log = acd_entries(1..=60);
    s.append_acd_log(&log).await.unwrap();
    s.put_acd_snapshot(&acd_snapshot(60, "sixty"))
        .await
        .unwrap();
    assert_eq!(s.acd_snapshot_seqs().await.unwrap(), [60, 50, 40]);
    assert_eq!(s.acd_log_after(0, 100).await.unwrap(), log);
}

/// JSON the ACD might write, with the cases text round trips get wrong: nesting, escapes,
/// non-ASCII text, integers at the edge of what a double holds exactly.
fn awkward_json(n: i64) -> serde_json::Value {
    let p53: i64 = 1 << 53;
    serde_json::json!({
        "n": n,
        "nested": {"a": {"b": {"c": [1, [2, [3, {"d": null}]], {}, []]}}},
        "text": {
            "accents": "María José Núñez de la Peña",
            "scripts": "李小龍 · Владимир · محمد · שלום · ελληνικά",
            "emoji": "📞☎️👮🏽‍♀️",
            "combining": "e\u{301} vs é",
            "escapes": "quote \" backslash \\ slash / newline \n tab \t cr \r bell \u{7} del \u{7f}",
            "json_looking": "{\"not\": [\"parsed\"]}",
            "empty": "",
        },
        "keys": {"ключ": 1, "🔑": 2, "with space": 3, "": 4, "Z": 5, "a": 6},
        "ints": [0, 1, -1, p53, -p53, p53 - 1, -(p53 - 1), i64::from(i32::MAX), i64::from(u32::MAX)],
        "floats": [0.5, -1.25, 0.1, 1024.0],
        "bools": [true, false],
        "none": null,
    })
}

pub async fn acd_json_round_trips_exactly(s: &dyn Store) {
    let p53: i64 = 1 << 53;
    let entries = vec![
        AcdLogEntry {
            seq: 1,
            at_ms: 0,
            entry: awkward_json(1),
        },
        AcdLogEntry {
            seq: 2,
            at_ms: -1,
            entry: serde_json::json!([1, "two", {"three": [3]}]),
        },
        AcdLogEntry {
            seq: 3,
            at_ms: p53,
            entry: serde_json::json!("just a string: ünïcödé"),
        },
        AcdLogEntry {
            seq: p53,
            at_ms: i64::MAX,
            entry: serde_json::json!(p53),
        },
    ];
    s.append_acd_log(&entries).await.unwrap();
    let back = s.acd_log_after(0, 10).await.unwrap();
    assert_eq!(back, entries);
    // Exactly: the same text once serialised again, not just equal as values.
    for (b, e) in back.iter().zip(&entries) {
        assert_eq!(b.entry.to_string(), e.entry.to_string());
    }
    assert_eq!(back[0].entry["ints"][3].as_i64(), Some(p53));
    assert_eq!(back[0].entry["ints"][4].as_i64(), Some(-p53));
    assert_eq!(s.last_acd_seq().await.unwrap(), p53);

    let snap = AcdSnapshot {
        seq: p53,
        at_ms: p53,
        state: awkward_json(2),
    };
    s.put_acd_snapshot(&snap).await.unwrap();
    let got = s.latest_acd_snapshot().await.unwrap().unwrap();
    assert_eq!(got, snap);
    assert_eq!(got.state.to_string(), snap.state.to_string());
}

pub async fn acd_log_survives_reopen<F: Fixture>(fx: &mut F) {
    let log = acd_entries(1..=5);
    fx.store().append_acd_log(&log).await.unwrap();
    fx.store()
        .put_acd_snapshot(&acd_snapshot(3, "three"))
        .await
        .unwrap();
    fx.reopen().await;
    let s = fx.store();
    assert_eq!(s.last_acd_seq().await.unwrap(), 5);
    assert_eq!(s.acd_log_after(0, 100).await.unwrap(), log);
    assert_eq!(
        s.latest_acd_snapshot().await.unwrap(),
        Some(acd_snapshot(3, "three"))
    );
}

async fn stored_call(s: &dyn Store, ani: &str) -> Call {
    let c = Call::arrive(
        NewCall {
            ani_raw: ani.into(),
            officer_id: None,
        },
        T0,
    );
    s.insert_call(&c).await.unwrap();
    c
}

/// A disposition document as the rules crate might write one: nested history, non-ASCII text.
fn disposition_document(state: &str, steps: usize) -> serde_json::Value {
    let history: Vec<_> = (0..steps)
        .map(|i| {
            serde_json::json!({
                "at": format!("2026-11-21T08:0{i}:00Z"),
                "by": if i == 0 { "ct.núñez" } else { "sup.ødegård" },
                "action": if i == 0 { "submitted" } else { "confirmed" },
                "state": state,
                "note": if i == 0 { serde_json::Value::Null } else { "Sí, revisado — 已审核 ✅".into() },
            })
        })
        .collect();
    serde_json::json!({
        "disposition": {
            "kind": "confirm_enforcement_action",
            "state": state,
            "author": "ct.núñez",
            "hits": [{"rule": "R-1367", "version": 1, "reasons": ["protected: \"T\" visa", "line\nbreak"]}],
            "overrides": [],
            "history": history,
        },
        "inquiry": {"subject": {"family_names": ["Núñez", "de la Peña"], "given_names": ["María José"]}},
        "awkward": awkward_json(7),
    })
}

fn disposition_row(call: Option<&Call>, state: &str) -> DispositionRow {
    DispositionRow {
        id: uuid::Uuid::now_v7(),
        call_id: call.map(|c| c.id),
        kind: "confirm_enforcement_action".to_owned(),
        state: state.to_owned(),
        author: "ct.núñez".to_owned(),
        document: disposition_document(state, 1),
        disclosed:
            "No puedo confirmar nada en esta llamada; un supervisor le devolverá la llamada."
                .to_owned(),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn liaison_case_row(d: &DispositionRow) -> LiaisonCaseRow {
    LiaisonCaseRow {
        id: uuid::Uuid::now_v7(),
        disposition_id: d.id,
        call_id: d.call_id,
        document: serde_json::json!({
            "progress": "opened",
            "subject": {"name": "Zoë Ñúñez", "age": 16},
            "timers": [{"name": "notify_guardian", "due": "2026-11-21T10:00:00Z", "state": "running"}],
            "notes": ["第一次联系", "Первый контакт"],
        }),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

pub async fn disposition_round_trip_and_optimistic_update(s: &dyn Store) {
    let c = stored_call(s, "+12025550177").await;
    let d = disposition_row(Some(&c), "pending_second_review");
    s.insert_disposition(&d).await.unwrap();
    let back = s.disposition(d.id).await.unwrap();
    assert_eq!(back, d);
    assert_eq!(back.document.to_string(), d.document.to_string());

    // Without a call, and with an instant finer than a microsecond in another offset: it
    // reads back in UTC, to the microsecond, from every backend.
    let fine = datetime!(2026-11-21 03:30:00.123_456_789 -5);
    let mut loose = disposition_row(None, "final");
    loose.created_at = fine;
    loose.updated_at = fine;
    s.insert_disposition(&loose).await.unwrap();
    let kept = switchboard_domain::stored_precision(fine.to_offset(time::UtcOffset::UTC));
    assert_eq!(kept, datetime!(2026-11-21 08:30:00.123_456 UTC));
    assert_eq!(
        s.disposition(loose.id).await.unwrap(),
        DispositionRow {
            created_at: kept,
            updated_at: kept,
            ..loose.clone()
        }
    );

    match s.insert_disposition(&d).await {
        Err(StoreError::Conflict { field: "id", .. }) => {}
        other => panic!("expected an id conflict, got {other:?}"),
    }
    let mut orphan = disposition_row(None, "final");
    orphan.call_id = Some(switchboard_domain::CallId::new());
    assert!(matches!(
        s.insert_disposition(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert!(matches!(
        s.disposition(orphan.id).await,
        Err(StoreError::NotFound {
            entity: "disposition",
            ..
        })
    ));

    // The second person confirms: the writer read version 1 and writes version 2.
    let mut confirmed = d.clone();
    confirmed.state = "final".to_owned();
    confirmed.kind = "confirm_enforcement_action_final".to_owned();
    confirmed.document = disposition_document("final", 2);
    confirmed.disclosed = "Confirmado.".to_owned();
    confirmed.version = 2;
    confirmed.updated_at = T0 + Duration::minutes(5);
    s.update_disposition(&confirmed, 1).await.unwrap();
    assert_eq!(s.disposition(d.id).await.unwrap(), confirmed);

    // A writer that read version 1 too loses, and changes nothing.
    let mut late = d.clone();
    late.state = "withdrawn".to_owned();
    late.document = serde_json::json!({"late": true});
    late.version = 2;
    late.updated_at = T0 + Duration::minutes(6);
    match s.update_disposition(&late, 1).await {
        Err(StoreError::Stale {
            entity: "disposition",
            since,
            ..
        }) if since == "version 1" => {}
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(s.disposition(d.id).await.unwrap(), confirmed);

    // The author, the call and the creation time are not the update's to change.
    let mut rewrite = confirmed.clone();
    rewrite.author = "someone.else".to_owned();
    rewrite.call_id = None;
    rewrite.created_at = T0 + Duration::days(1);
    rewrite.version = 3;
    s.update_disposition(&rewrite, 2).await.unwrap();
    assert_eq!(
        s.disposition(d.id).await.unwrap(),
        DispositionRow {
            version: 3,
            ..confirmed.clone()
        }
    );

    let mut ghost = disposition_row(None, "final");
    ghost.version = 2;
    assert!(matches!(
        s.update_disposition(&ghost, 1).await,
        Err(StoreError::NotFound {
            entity: "disposition",
            ..
        })
    ));
}

pub async fn dispositions_list_newest_first_by_state(s: &dyn Store) {
    assert!(
        s.list_dispositions(None, None, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let c = stored_call(s, "+12025550178").await;
    let mut all = Vec::new();
    for i in 0..7 {
        let state = if i % 2 == 0 {
            "final"
        } else {
            "pending_legal_review"
        };
        let d = disposition_row((i < 3).then_some(&c), state);
        s.insert_disposition(&d).await.unwrap();
        all.push(d);
    }
    all.reverse();

    let pages = |state: Option<&'static str>, limit: u32| async move {
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_dispositions(state, None, PageRequest { limit, after })
                .await
                .unwrap();
            assert!(page.items.len() <= limit as usize);
            got.extend(page.items);
            match page.next {
                Some(n) => after = Some(n),
                None => break got,
            }
        }
    };
    assert_eq!(pages(None, 3).await, all);
    assert_eq!(pages(None, 7).await, all);
    assert_eq!(pages(None, 500).await, all);
    let finals: Vec<_> = all.iter().filter(|d| d.state == "final").cloned().collect();
    assert_eq!(finals.len(), 4);
    assert_eq!(pages(Some("final"), 3).await, finals);
    assert_eq!(pages(Some("final"), 1).await, finals);
    let pending: Vec<_> = all.iter().filter(|d| d.state != "final").cloned().collect();
    assert_eq!(pages(Some("pending_legal_review"), 2).await, pending);
    assert!(pages(Some("no such state"), 10).await.is_empty());

    // The cursor of a full first page, and the end: no next page after the last.
    let first = s
        .list_dispositions(None, None, PageRequest::first(4))
        .await
        .unwrap();
    assert_eq!(first.next, Some(all[3].id));
    let rest = s
        .list_dispositions(
            None,
            None,
            PageRequest {
                limit: 4,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items, all[4..]);
    assert_eq!(rest.next, None);

    // By author: one author's own, and nobody else's.
    let mut mine = disposition_row(None, "final");
    mine.author = "ct.own".into();
    s.insert_disposition(&mine).await.unwrap();
    let own = s
        .list_dispositions(None, Some("ct.own"), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(own.items, vec![mine]);
    assert!(
        s.list_dispositions(
            Some("pending_legal_review"),
            Some("ct.own"),
            PageRequest::default()
        )
        .await
        .unwrap()
        .items
        .is_empty()
    );
}

pub async fn liaison_case_round_trip_and_references(s: &dyn Store) {
    let c = stored_call(s, "+12025550179").await;
    let d = disposition_row(Some(&c), "final");
    s.insert_disposition(&d).await.unwrap();
    let case = liaison_case_row(&d);
    s.insert_liaison_case(&case).await.unwrap();
    let back = s.liaison_case(case.id).await.unwrap();
    assert_eq!(back, case);
    assert_eq!(back.document.to_string(), case.document.to_string());

    // A case must name a stored disposition (and, if any, a stored call).
    let mut orphan = liaison_case_row(&d);
    orphan.disposition_id = uuid::Uuid::now_v7();
    assert!(matches!(
        s.insert_liaison_case(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
    let mut no_call = liaison_case_row(&d);
    no_call.call_id = Some(switchboard_domain::CallId::new());
    assert!(matches!(
        s.insert_liaison_case(&no_call).await,
        Err(StoreError::MissingReference { .. })
    ));
    match s.insert_liaison_case(&case).await {
        Err(StoreError::Conflict { field: "id", .. }) => {}
        other => panic!("expected an id conflict, got {other:?}"),
    }
    match s.liaison_case(orphan.id).await {
        Err(StoreError::NotFound {
            entity: "liaison case",
            ..
        }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }

    let mut notified = case.clone();
    notified.document["progress"] = "guardian_notified".into();
    notified.document["timers"][0]["state"] = "done".into();
    notified.version = 2;
    notified.updated_at = T0 + Duration::minutes(40);
    s.update_liaison_case(&notified, 1).await.unwrap();
    assert_eq!(s.liaison_case(case.id).await.unwrap(), notified);

    let mut late = case.clone();
    late.document["progress"] = "closed".into();
    late.version = 2;
    match s.update_liaison_case(&late, 1).await {
        Err(StoreError::Stale {
            entity: "liaison case",
            since,
            ..
        }) if since == "version 1" => {}
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(s.liaison_case(case.id).await.unwrap(), notified);

    // The disposition and the call are not the update's to change.
    let mut moved = notified.clone();
    moved.call_id = None;
    moved.disposition_id = uuid::Uuid::now_v7();
    moved.version = 3;
    s.update_liaison_case(&moved, 2).await.unwrap();
    assert_eq!(
        s.liaison_case(case.id).await.unwrap(),
        LiaisonCaseRow {
            version: 3,
            ..notified.clone()
        }
    );

    let mut ghost = liaison_case_row(&d);
    ghost.version = 2;
    assert!(matches!(
        s.update_liaison_case(&ghost, 1).await,
        Err(StoreError::NotFound {
            entity: "liaison case",
            ..
        })
    ));

    // Newest first, paged.
    let mut cases = vec![LiaisonCaseRow {
        version: 3,
        ..notified
    }];
    for _ in 0..4 {
        let more = liaison_case_row(&d);
        s.insert_liaison_case(&more).await.unwrap();
        cases.push(more);
    }
    cases.reverse();
    let first = s.list_liaison_cases(PageRequest::first(2)).await.unwrap();
    assert_eq!(first.items, cases[..2]);
    let second = s
        .list_liaison_cases(PageRequest {
            limit: 2,
            after: first.next,
        })
        .await
        .unwrap();
    assert_eq!(second.items, cases[2..4]);
    let third = s
        .list_liaison_cases(PageRequest {
            limit: 2,
            after: second.next,
        })
        .await
        .unwrap();
    assert_eq!(third.items, cases[4..]);
    assert_eq!(third.next, None);
}

pub async fn source_records_by_id_in_requested_order(s: &dyn Store) {
    let a = identity("IDN-00000000000000A1", "Núñez", date!(2026 - 10 - 01));
    let b = identity("IDN-00000000000000B2", "Øster", date!(2026 - 10 - 02));
    let c = identity("IDN-00000000000000C3", "李", date!(2026 - 10 - 03));
    let case = SourceRecord::ImmigrationCase(ImmigrationCaseRecord {
        record_id: "CAS-00000000000000D4".to_owned(),
        a_number: "204815672".to_owned(),
        family_name: "Núñez de la Peña".to_owned(),
        given_name: "María José".to_owned(),
        dob: None,
        status: "asylum_pending".to_owned(),
        applications: "asylum:pending:2025-01-02".to_owned(),
        protected_1367: true,
        next_hearing_on: Some(date!(2027 - 03 - 01)),
        appeal_pending: false,
        motion_to_reopen_pending: false,
        final_order_on: None,
        stay_kind: None,
        stay_until: None,
        updated_on: date!(2026 - 11 - 01),
        entered_on: None,
        entry_place: None,
        admission_class: None,
    });
    s.put_source_records(&[a.clone(), b.clone(), c.clone(), case.clone()])
        .await
        .unwrap();
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    assert_eq!(
        s.source_records_by_id(&ids(&[
            "IDN-00000000000000C3",
            "IDN-0000000000000404",
            "CAS-00000000000000D4",
            "IDN-00000000000000A1",
        ]))
        .await
        .unwrap(),
        [c.clone(), case.clone(), a.clone()]
    );
    assert_eq!(
        s.source_records_by_id(&ids(&["IDN-00000000000000B2"]))
            .await
            .unwrap(),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        s.source_records_by_id(&ids(&["IDN-00000000000000A1", "IDN-00000000000000A1"]))
            .await
            .unwrap(),
        [a.clone(), a.clone()],
        "an id asked for twice is answered twice"
    );
    assert!(s.source_records_by_id(&[]).await.unwrap().is_empty());
    assert!(
        s.source_records_by_id(&ids(&["", "nope", "idn-00000000000000a1"]))
            .await
            .unwrap()
            .is_empty(),
        "record ids match exactly"
    );

    // Up to the limit is one lookup; past it, nothing is read.
    let mut many: Vec<String> = (0..SOURCE_RECORDS_BY_ID_MAX - 1)
        .map(|i| format!("MISSING-{i:06}"))
        .collect();
    many.push("IDN-00000000000000B2".to_owned());
    assert_eq!(s.source_records_by_id(&many).await.unwrap(), [b]);
    many.push("IDN-00000000000000C3".to_owned());
    match s.source_records_by_id(&many).await {
        Err(StoreError::Conflict { field: "ids", .. }) => {}
        other => panic!("expected the id limit, got {other:?}"),
    }
}

fn story_user(name: &str, role: Role) -> User {
    User::create(
        NewUser {
            username: Username::parse(name).unwrap(),
            display_name: Name::parse("Story User").unwrap(),
            role,
        },
        T0,
    )
}

pub async fn user_update_and_lookup_by_username(s: &dyn Store) {
    let u = story_user("sup.okafor", Role::Supervisor);
    s.insert_user(&u).await.unwrap();
    assert_eq!(
        s.user_by_username(&u.username).await.unwrap().as_ref(),
        Some(&u)
    );
    assert!(
        s.user_by_username(&Username::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let mut disabled = u.clone();
    disabled.active = false;
    disabled.updated_at = T0 + Duration::hours(1);
    let written = s.update_user(&disabled).await.unwrap();
    assert_eq!(written.version, 2);
    assert_eq!(s.user(u.id).await.unwrap(), written);
    // A second write from the version first read is refused.
    assert!(matches!(
        s.update_user(&disabled).await,
        Err(StoreError::Stale { .. })
    ));
    let mut ghost = story_user("ghost", Role::Auditor);
    ghost.version = 1;
    assert!(matches!(
        s.update_user(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn credentials_round_trip_and_optimistic_update(s: &dyn Store) {
    let u = story_user("ct.nguyen", Role::CallTaker);
    s.insert_user(&u).await.unwrap();
    assert!(s.credentials(u.id).await.unwrap().is_none());
    let c = crate::Credentials {
        user_id: u.id,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXP".into(),
        totp_last_step: 0,
        failures: vec![],
        locked_at: None,
        version: 1,
        updated_at: T0,
    };
    s.insert_credentials(&c).await.unwrap();
    assert_eq!(s.credentials(u.id).await.unwrap().as_ref(), Some(&c));
    assert!(matches!(
        s.insert_credentials(&c).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut locked = c.clone();
    locked.failures = vec![1, 2, 3, 4, 5];
    locked.locked_at = Some(T0 + Duration::minutes(3));
    locked.totp_last_step = 59_000_000;
    locked.version = 2;
    s.update_credentials(&locked, 1).await.unwrap();
    assert_eq!(s.credentials(u.id).await.unwrap().as_ref(), Some(&locked));
    assert!(matches!(
        s.update_credentials(&locked, 1).await,
        Err(StoreError::Stale { .. })
    ));
    // Credentials for a user that does not exist are refused.
    let mut orphan = c.clone();
    orphan.user_id = switchboard_domain::UserId::new();
    assert!(matches!(
        s.insert_credentials(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
}

pub async fn sessions_end_one_or_all(s: &dyn Store) {
    let u = story_user("jl.haddad", Role::JuvenileLiaison);
    s.insert_user(&u).await.unwrap();
    let session = |id: &str| crate::SessionRow {
        id: id.into(),
        reference: format!("ref-{id}"),
        user_id: u.id,
        csrf_token: format!("csrf-{id}"),
        address: "127.0.0.1".into(),
        created_at: T0,
        last_seen_at: T0,
        ended_at: None,
        end_reason: None,
    };
    for id in ["a", "b", "c"] {
        s.insert_session(&session(id)).await.unwrap();
    }
    assert_eq!(s.session("a").await.unwrap(), Some(session("a")));
    assert!(s.session("zz").await.unwrap().is_none());
    s.touch_session("a", T0 + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        s.session("a").await.unwrap().unwrap().last_seen_at,
        T0 + Duration::minutes(5)
    );
    assert!(
        s.end_session("a", T0 + Duration::minutes(6), "logout")
            .await
            .unwrap()
    );
    assert!(
        !s.end_session("a", T0 + Duration::minutes(7), "logout")
            .await
            .unwrap()
    );
    let a = s.session("a").await.unwrap().unwrap();
    assert_eq!(a.ended_at, Some(T0 + Duration::minutes(6)));
    assert_eq!(a.end_reason.as_deref(), Some("logout"));
    // An ended session is never touched again.
    s.touch_session("a", T0 + Duration::minutes(9))
        .await
        .unwrap();
    assert_eq!(
        s.session("a").await.unwrap().unwrap().last_seen_at,
        T0 + Duration::minutes(5)
    );
    assert_eq!(
        s.end_user_sessions(u.id, T0 + Duration::minutes(8), "disabled")
            .await
            .unwrap(),
        2
    );
    for id in ["b", "c"] {
        let row = s.session(id).await.unwrap().unwrap();
        assert_eq!(row.end_reason.as_deref(), Some("disabled"));
    }
}

fn audit_row(seq: i64, actor: &str, action: &str, subjects: &[&str]) -> crate::NewAuditRow {
    crate::NewAuditRow {
        row: crate::AuditRow {
            seq,
            at_ms: 1_000 * seq,
            action: action.into(),
            actor: actor.into(),
            // Deliberately not canonical JSON: the store must keep the bytes as given.
            entry: format!("{{\"seq\":{seq},  \"é\":\"x\" }}"),
            leaf_hash: vec![seq as u8; 32],
        },
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        opens: false,
        closes: Vec::new(),
    }
}

pub async fn audit_actions_stay_open_until_closed(s: &dyn Store) {
    let mut first = vec![
        audit_row(1, "ct.a", "POST /x", &[]),
        audit_row(2, "ct.b", "POST /y", &[]),
        audit_row(3, "ct.c", "GET /z", &[]),
    ];
    first[0].opens = true;
    first[1].opens = true;
    s.append_audit(&first).await.unwrap();
    let open: Vec<i64> = s
        .open_audit_actions(100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(open, [1, 2]);
    // The entry that ends action 1 removes its mark in the same commit.
    let mut failed = audit_row(4, "ct.a", "POST /x", &[]);
    failed.closes = vec![1];
    s.append_audit(&[failed]).await.unwrap();
    let open = s.open_audit_actions(100).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0], audit_row(2, "ct.b", "POST /y", &[]).row);
    // A refused append marks nothing and closes nothing.
    let mut dup = audit_row(2, "ct.d", "POST /w", &[]);
    dup.closes = vec![2];
    let mut opener = audit_row(5, "ct.d", "POST /w", &[]);
    opener.opens = true;
    assert!(matches!(
        s.append_audit(&[opener, dup]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.open_audit_actions(100).await.unwrap().len(), 1);
    // Closing by number ignores what is not open.
    s.close_audit_actions(&[2, 3, 99]).await.unwrap();
    assert!(s.open_audit_actions(100).await.unwrap().is_empty());
    s.close_audit_actions(&[]).await.unwrap();
}

pub async fn audit_log_appends_searches_and_refuses_duplicates(s: &dyn Store) {
    let batch: Vec<_> = (1..=5)
        .map(|i| {
            let actor = if i % 2 == 0 { "ct.even" } else { "ct.odd" };
            let subjects: &[&str] = if i <= 2 {
                &["name:garcia maria", "record:R1"]
            } else {
                &["record:R2"]
            };
            audit_row(i, actor, if i == 5 { "logon" } else { "lookup" }, subjects)
        })
        .collect();
    s.append_audit(&batch).await.unwrap();
    s.append_audit(&[]).await.unwrap();
    let all = s.audit_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    for (row, want) in all.iter().zip(&batch) {
        assert_eq!(row, &want.row, "stored exactly as given");
    }
    assert_eq!(s.audit_after(3, 1).await.unwrap()[0].seq, 4);
    let hashes = s.audit_leaf_hashes(1, 2).await.unwrap();
    assert_eq!(hashes, vec![(2, vec![2u8; 32]), (3, vec![3u8; 32])]);

    let seqs = |rows: Vec<crate::AuditRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let by = |f: crate::AuditFilter| async move { seqs(s.search_audit(&f, 0, 100).await.unwrap()) };
    assert_eq!(
        by(crate::AuditFilter {
            actor: Some("ct.odd".into()),
            ..Default::default()
        })
        .await,
        [1, 3, 5]
    );
    assert_eq!(
        by(crate::AuditFilter {
            subject: Some("record:R1".into()),
            ..Default::default()
        })
        .await,
        [1, 2]
    );
    assert_eq!(
        by(crate::AuditFilter {
            action: Some("lookup".into()),
            from_ms: Some(2_000),
            to_ms: Some(4_000),
            ..Default::default()
        })
        .await,
        [2, 3]
    );
    assert_eq!(
        seqs(
            s.search_audit(&crate::AuditFilter::default(), 3, 100)
                .await
                .unwrap()
        ),
        [4, 5]
    );

    // A batch that repeats a stored seq writes nothing, not even its new entries.
    let again = vec![
        audit_row(6, "x", "lookup", &["record:R9"]),
        audit_row(5, "x", "lookup", &[]),
    ];
    assert!(matches!(
        s.append_audit(&again).await,
        Err(StoreError::Conflict { field: "seq", .. })
    ));
    assert_eq!(s.audit_after(0, 100).await.unwrap().len(), 5);
    assert!(
        by(crate::AuditFilter {
            subject: Some("record:R9".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

pub async fn audit_checkpoints_in_size_order(s: &dyn Store) {
    let cp = |size: i64| crate::CheckpointRow {
        size,
        at_ms: size * 10,
        origin: "switchboard-test".into(),
        root: vec![size as u8; 32],
        signature: vec![7; 64],
    };
    for size in [4, 1, 9] {
        s.put_audit_checkpoint(&cp(size)).await.unwrap();
    }
    assert!(matches!(
        s.put_audit_checkpoint(&cp(4)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.audit_checkpoints().await.unwrap(),
        vec![cp(1), cp(4), cp(9)]
    );
}

fn partner_key(agency: &Agency, hash_byte: char) -> PartnerKeyRow {
    PartnerKeyRow {
        id: uuid::Uuid::now_v7(),
        agency_id: agency.id,
        key_hash: hash_byte.to_string().repeat(64),
        prefix: "sbk_1a2b".to_owned(),
        label: "jail booking desk".to_owned(),
        created_by: "admin.ñ".to_owned(),
        created_at: T0,
        revoked_at: None,
    }
}

pub async fn partner_keys_round_trip_and_revoke(s: &dyn Store) {
    let (partner, _) = partner_and_office(s).await;
    let k = partner_key(&partner, 'a');
    s.insert_partner_key(&k).await.unwrap();
    assert_eq!(
        s.partner_key_by_hash(&k.key_hash).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(s.partner_key_by_hash(&"b".repeat(64)).await.unwrap(), None);
    match s.insert_partner_key(&partner_key(&partner, 'a')).await {
        Err(StoreError::Conflict {
            field: "key_hash", ..
        }) => {}
        other => panic!("expected a key_hash conflict, got {other:?}"),
    }
    let mut orphan = partner_key(&partner, 'c');
    orphan.agency_id = AgencyId::new();
    assert!(matches!(
        s.insert_partner_key(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
    let second = partner_key(&partner, 'd');
    s.insert_partner_key(&second).await.unwrap();
    let keys = s.partner_keys_of(partner.id).await.unwrap();
    assert_eq!(keys, vec![second.clone(), k.clone()], "newest first");

    // Revoked once, at the first time given; revoking again keeps it.
    let at = T0 + Duration::hours(2);
    s.revoke_partner_key(k.id, at).await.unwrap();
    s.revoke_partner_key(k.id, at + Duration::hours(1))
        .await
        .unwrap();
    let back = s.partner_key_by_hash(&k.key_hash).await.unwrap().unwrap();
    assert_eq!(back.revoked_at, Some(at));
    match s.revoke_partner_key(uuid::Uuid::now_v7(), at).await {
        Err(StoreError::NotFound {
            entity: "partner key",
            ..
        }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn partner_inquiry(
    agency: &Agency,
    officer: &Officer,
    reference: &str,
    at: OffsetDateTime,
) -> PartnerInquiryRow {
    PartnerInquiryRow {
        id: uuid::Uuid::now_v7(),
        reference: reference.to_owned(),
        agency_id: agency.id,
        officer_id: officer.id,
        phone: officer.phones[0].as_str().to_owned(),
        status: "checked".to_owned(),
        document: serde_json::json!({
            "subject": {"family_names": ["Núñez"], "given_names": ["José"]},
            "cross_check": {"candidates": [{"record_id": "IDN-1", "probability": 0.999_999_999_9}]},
            "text": "IAQ.TX2270000.AX.\nNAM/NUNEZ,JOSE."
        }),
        disposition_id: None,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

pub async fn partner_inquiries_round_trip_find_by_phone_and_page(s: &dyn Store) {
    let (partner, _) = partner_and_office(s).await;
    let officer = new_officer(&partner, "Ana", "Ruiz", "P-77", &["+15125550177"]);
    s.insert_officer(&officer).await.unwrap();
    let first = partner_inquiry(&partner, &officer, "IAQ-0001", T0);
    s.insert_partner_inquiry(&first).await.unwrap();
    let back = s.partner_inquiry("IAQ-0001").await.unwrap();
    assert_eq!(back, first);
    assert_eq!(back.document.to_string(), first.document.to_string());
    match s
        .insert_partner_inquiry(&partner_inquiry(&partner, &officer, "IAQ-0001", T0))
        .await
    {
        Err(StoreError::Conflict {
            field: "reference", ..
        }) => {}
        other => panic!("expected a reference conflict, got {other:?}"),
    }
    let mut orphan = partner_inquiry(&partner, &officer, "IAQ-0002", T0);
    orphan.officer_id = OfficerId::new();
    assert!(matches!(
        s.insert_partner_inquiry(&orphan).await,
        Err(StoreError::MissingReference { .. })
    ));
    match s.partner_inquiry("IAQ-9999").await {
        Err(StoreError::NotFound {
            entity: "partner inquiry",
            ..
        }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }

    // A call from the officer's number finds the newest inquiry since a given time.
    let later = partner_inquiry(&partner, &officer, "IAQ-0003", T0 + Duration::minutes(5));
    s.insert_partner_inquiry(&later).await.unwrap();
    let phone = officer.phones[0].as_str();
    assert_eq!(
        s.partner_inquiry_for_phone(phone, T0 - Duration::hours(1))
            .await
            .unwrap()
            .map(|q| q.reference),
        Some("IAQ-0003".to_owned())
    );
    assert_eq!(
        s.partner_inquiry_for_phone(phone, T0 + Duration::minutes(6))
            .await
            .unwrap(),
        None,
        "nothing sent since then"
    );
    assert_eq!(
        s.partner_inquiry_for_phone("+15125550100", T0 - Duration::hours(1))
            .await
            .unwrap(),
        None
    );

    // Answered: the disposition recorded on it, under the optimistic rule.
    let c = stored_call(s, "+15125550177").await;
    let d = disposition_row(Some(&c), "final");
    s.insert_disposition(&d).await.unwrap();
    let mut answered = first.clone();
    answered.status = "answered".to_owned();
    answered.disposition_id = Some(d.id);
    answered.document["response"] = "The center is unable to confirm.".into();
    answered.version = 2;
    answered.updated_at = T0 + Duration::minutes(30);
    s.update_partner_inquiry(&answered, 1).await.unwrap();
    assert_eq!(s.partner_inquiry("IAQ-0001").await.unwrap(), answered);
    let mut stale = first.clone();
    stale.version = 2;
    assert!(matches!(
        s.update_partner_inquiry(&stale, 1).await,
        Err(StoreError::Stale { .. })
    ));
    let mut missing = partner_inquiry(&partner, &officer, "IAQ-0004", T0);
    missing.version = 2;
    assert!(matches!(
        s.update_partner_inquiry(&missing, 1).await,
        Err(StoreError::NotFound { .. })
    ));

    // An agency's inquiries, newest first, in pages.
    let page = s
        .list_partner_inquiries(
            partner.id,
            PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|q| q.reference.as_str())
            .collect::<Vec<_>>(),
        ["IAQ-0003"]
    );
    let rest = s
        .list_partner_inquiries(
            partner.id,
            PageRequest {
                limit: 10,
                after: page.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|q| q.reference.as_str())
            .collect::<Vec<_>>(),
        ["IAQ-0001"]
    );
    assert!(rest.next.is_none());
    let other = s
        .list_partner_inquiries(
            AgencyId::new(),
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(other.items.is_empty());
}

/// The store files every record under the normal form of each identifier, computed by the
/// database on every write: messy spellings are found by the normal key, an update moves the
/// record to its new keys, and the answer is bounded.
pub async fn source_records_are_found_by_every_identifier_they_carry(s: &dyn Store) {
    let key = |k: KeyKind, v: &str| RecordKey::normal(k, v).unwrap();
    let ids = |mut v: Vec<SourceRecord>| {
        let mut v: Vec<String> = v.drain(..).map(|r| r.record_id().to_owned()).collect();
        v.sort();
        v
    };
    let mut person = identity("IDN-K1", "Núñez", date!(2026 - 10 - 01));
    if let SourceRecord::Identity(r) = &mut person {
        r.a_number = "a-204 815.672".to_owned();
        r.fin = "10000/00001".to_owned();
    }
    let order = SourceRecord::CourtOrder(CourtOrderRecord {
        record_id: "ORD-K2".to_owned(),
        order_kind: "stay_of_removal".to_owned(),
        court: "Court".to_owned(),
        docket: "1".to_owned(),
        a_number: Some("A0204815672".to_owned()),
        family_name: "Núñez".to_owned(),
        given_name: "María".to_owned(),
        dob: None,
        issued_on: date!(2026 - 10 - 01),
        expires_on: None,
        updated_on: date!(2026 - 10 - 01),
    });
    let crim = SourceRecord::CriminalHistory(CriminalHistoryRecord {
        record_id: "CRH-K3".to_owned(),
        fbi_number: "123456ab7".to_owned(),
        state_id: "TX 0001".to_owned(),
        name: "NUNEZ, MARIA".to_owned(),
        dob: None,
        sex: None,
        offenses: String::new(),
        updated_on: date!(2026 - 10 - 01),
    });
    let other = identity("IDN-K4", "Øster", date!(2026 - 10 - 01));
    let mut other = other;
    if let SourceRecord::Identity(r) = &mut other {
        r.a_number = "999999999".to_owned();
        // Placeholders are no identifier: they must not tie anyone's records together.
        r.fin = "N/A".to_owned();
    }
    let mut placeholder = identity("IDN-K5", "Øster", date!(2026 - 10 - 01));
    if let SourceRecord::Identity(r) = &mut placeholder {
        r.a_number = "A-0000".to_owned();
        r.fin = "UNKNOWN".to_owned();
    }
    assert_eq!(placeholder.keys(), []);
    s.put_source_records(&[
        person.clone(),
        order.clone(),
        crim.clone(),
        other.clone(),
        placeholder.clone(),
    ])
    .await
    .unwrap();
    // No identifier of anyone else's finds the placeholder record.
    for r in [&person, &order, &crim, &other] {
        let found = s.source_records_by_keys(&r.keys(), 10).await.unwrap();
        assert!(!found.contains(&placeholder), "{:?}", r.keys());
    }
    // Each record's own keys (computed in Rust) find it: the SQL and Rust normal forms agree.
    for r in [&person, &order, &crim, &other] {
        let found = s.source_records_by_keys(&r.keys(), 10).await.unwrap();
        assert!(found.contains(r), "{} by {:?}", r.record_id(), r.keys());
    }
    let a = key(KeyKind::ANumber, "A204815672");
    assert_eq!(
        ids(s
            .source_records_by_keys(std::slice::from_ref(&a), 10)
            .await
            .unwrap()),
        ["IDN-K1", "ORD-K2"]
    );
    assert_eq!(
        ids(s
            .source_records_by_keys(
                &[
                    key(KeyKind::Fbi, "123456AB7"),
                    key(KeyKind::StateId, "tx0001")
                ],
                10
            )
            .await
            .unwrap()),
        ["CRH-K3"]
    );
    assert_eq!(
        s.source_records_by_keys(&[key(KeyKind::Fin, "100000000")], 10)
            .await
            .unwrap(),
        []
    );
    // A placeholder FIN files nothing.
    assert_eq!(other.keys().len(), 1);
    // Bounded.
    assert_eq!(
        s.source_records_by_keys(std::slice::from_ref(&a), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.source_records_by_keys(&[], 10).await.unwrap(), []);
    let too_many: Vec<RecordKey> = (0..=crate::SOURCE_RECORDS_BY_KEYS_MAX)
        .map(|i| key(KeyKind::Fin, &format!("{i:06}")))
        .collect();
    assert!(matches!(
        s.source_records_by_keys(&too_many, 10).await,
        Err(StoreError::Conflict { field: "keys", .. })
    ));
    // A changed record moves to its new keys (and leaves the old ones).
    let mut moved = person.clone();
    if let SourceRecord::Identity(r) = &mut moved {
        r.a_number = "311111111".to_owned();
    }
    s.put_source_records(std::slice::from_ref(&moved))
        .await
        .unwrap();
    assert_eq!(
        ids(s
            .source_records_by_keys(std::slice::from_ref(&a), 10)
            .await
            .unwrap()),
        ["ORD-K2"]
    );
    assert_eq!(
        s.source_records_by_keys(&[key(KeyKind::ANumber, "311111111")], 10)
            .await
            .unwrap(),
        [moved]
    );
}

pub async fn determinations_round_trip_by_record_and_optimistic_update(s: &dyn Store) {
    let row = |i: u8, records: &[&str]| DeterminationRow {
        id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(i)),
        state: "pending_approval".to_owned(),
        document: serde_json::json!({"finding": "not_in_class", "n": i}),
        record_ids: records.iter().map(|r| (*r).to_owned()).collect(),
        version: 1,
        created_at: T0,
        updated_at: T0,
    };
    let a = row(1, &["IDN-1", "CAS-1"]);
    let b = row(2, &["CAS-1", "ORD-9"]);
    let c = row(3, &["IDN-7"]);
    for d in [&a, &b, &c] {
        s.insert_determination(d).await.unwrap();
    }
    assert_eq!(s.determination(a.id).await.unwrap(), a);
    assert!(matches!(
        s.determination(uuid::Uuid::nil()).await,
        Err(StoreError::NotFound { .. })
    ));
    let of = |ids: &[&str]| ids.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        s.determinations_for_records(&of(&["CAS-1"])).await.unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        s.determinations_for_records(&of(&["IDN-7", "ORD-9", "X"]))
            .await
            .unwrap(),
        [b.clone(), c.clone()]
    );
    assert_eq!(s.determinations_for_records(&[]).await.unwrap(), []);
    // Approved: written once; a second writer at the old version is refused.
    let mut approved = a.clone();
    approved.state = "approved".to_owned();
    approved.version = 2;
    approved.document = serde_json::json!({"finding": "not_in_class", "approved": true});
    s.update_determination(&approved, 1).await.unwrap();
    assert!(matches!(
        s.update_determination(&approved, 1).await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(s.determination(a.id).await.unwrap(), approved);
    let pending = s
        .list_determinations(Some("pending_approval"), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(pending.items, [c.clone(), b.clone()]);
    let all = s
        .list_determinations(None, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(all.items, [c, b]);
    let rest = s
        .list_determinations(
            None,
            PageRequest {
                limit: 2,
                after: all.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items, [approved]);
}

fn batch(at: OffsetDateTime, origin: &str) -> RecordBatch {
    RecordBatch {
        origin: origin.to_owned(),
        ..RecordBatch::new(at)
    }
}

pub async fn record_changes_are_logged_in_order_and_read_by_position(s: &dyn Store) {
    let start = s.record_position().await.unwrap();
    assert_eq!(start, 0);
    let log = s.record_log_id().await.unwrap();
    assert!(log.len() >= 16, "{log}");
    assert_eq!(s.record_log_id().await.unwrap(), log);
    assert!(s.record_changes(0, 100).await.unwrap().is_empty());
    // A bulk load is logged too.
    s.put_source_records(&[identity("IDN-L0", "Loaded", date!(2026 - 10 - 01))])
        .await
        .unwrap();
    let loaded = s.record_position().await.unwrap();
    assert_eq!(loaded, 1);

    let t1 = T0 + Duration::minutes(1);
    let mut b = batch(t1, "feed:test");
    b.upserts = (0..3)
        .map(|i| identity(&format!("IDN-C{i}"), "Changed", date!(2026 - 11 - 01)))
        .collect();
    b.current = vec![System::CourtOrder];
    let out = s.apply_record_batch(&b).await.unwrap();
    assert_eq!(
        (out.inserted, out.updated, out.deleted, out.absent),
        (3, 0, 0, 0)
    );
    assert_eq!(out.position, loaded + 3);
    assert_eq!(s.record_position().await.unwrap(), out.position);

    // An update and a delete (and a delete of nothing), in one batch.
    let t2 = T0 + Duration::minutes(2);
    let mut b = batch(t2, "feed:test");
    b.upserts = vec![identity("IDN-C1", "Renamed", date!(2026 - 11 - 02))];
    b.deletes = vec![
        (System::Identity, "IDN-C2".to_owned()),
        (System::Identity, "IDN-NEVER".to_owned()),
    ];
    let out2 = s.apply_record_batch(&b).await.unwrap();
    assert_eq!(
        (out2.inserted, out2.updated, out2.deleted, out2.absent),
        (0, 1, 1, 1)
    );
    assert_eq!(out2.position, out.position + 2);

    // Read by position, in pages, each entry with the record as it is now.
    let all = s.record_changes(0, 100).await.unwrap();
    let ids: Vec<(&str, bool)> = all
        .iter()
        .map(|c| (c.record_id.as_str(), c.record.is_some()))
        .collect();
    assert_eq!(
        ids,
        [
            ("IDN-L0", true),
            ("IDN-C0", true),
            ("IDN-C1", true),
            ("IDN-C2", false),
            ("IDN-C1", true),
            ("IDN-C2", false),
        ]
    );
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(
        all[2].record,
        Some(b.upserts[0].clone()),
        "the newest version"
    );
    assert_eq!(all[5].changed_at, t2);
    let page = s.record_changes(all[1].position, 2).await.unwrap();
    assert_eq!(page, all[2..4].to_vec());
    assert!(
        s.record_changes(out2.position, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Freshness: the systems each batch named or vouched for.
    let state = s.record_feed_state().await.unwrap();
    let of = |sys: System| state.iter().find(|f| f.system == sys).cloned();
    assert_eq!(of(System::Identity).unwrap().as_of, t2);
    assert_eq!(of(System::Identity).unwrap().position, out2.position);
    assert_eq!(of(System::CourtOrder).unwrap().as_of, t1);
    assert_eq!(of(System::Custody), None);

    // Waiting: at once when the log is already past the position, else within the timeout.
    let t = std::time::Instant::now();
    s.wait_for_record_change(0, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    let t = std::time::Instant::now();
    s.wait_for_record_change(out2.position, std::time::Duration::from_millis(200))
        .await
        .unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(3));
}

pub async fn a_batch_naming_the_wrong_system_applies_nothing(s: &dyn Store) {
    s.put_source_records(&[identity("IDN-W0", "Wright", date!(2026 - 10 - 01))])
        .await
        .unwrap();
    let before = s.record_position().await.unwrap();
    // A court-order feed may not overwrite an identity record by reusing its id...
    let order = SourceRecord::CourtOrder(CourtOrderRecord {
        record_id: "IDN-W0".to_owned(),
        ..court_order_record()
    });
    let mut b = batch(T0, "feed:orders");
    b.upserts = vec![
        SourceRecord::CourtOrder(CourtOrderRecord {
            record_id: "ORD-NEW".to_owned(),
            ..court_order_record()
        }),
        order,
    ];
    match s.apply_record_batch(&b).await {
        Err(StoreError::Conflict {
            field: "records",
            message,
        }) => assert!(message.contains("IDN-W0"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // ...nor delete one.
    let mut b = batch(T0, "feed:orders");
    b.deletes = vec![(System::CourtOrder, "IDN-W0".to_owned())];
    assert!(matches!(
        s.apply_record_batch(&b).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.record_position().await.unwrap(), before);
    assert!(
        s.source_records_by_id(&["ORD-NEW".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.source_records_by_id(&["IDN-W0".to_owned()])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.record_feed_state()
            .await
            .unwrap()
            .iter()
            .all(|f| f.system != System::CourtOrder)
    );
}

fn court_order_record() -> CourtOrderRecord {
    CourtOrderRecord {
        record_id: "ORD-0".to_owned(),
        a_number: Some("204815672".to_owned()),
        family_name: "Wright".to_owned(),
        given_name: "Ana".to_owned(),
        dob: None,
        order_kind: "stay_of_removal".to_owned(),
        court: "9th Cir.".to_owned(),
        docket: "26-1234".to_owned(),
        issued_on: date!(2026 - 11 - 01),
        expires_on: None,
        updated_on: date!(2026 - 11 - 01),
    }
}

pub async fn feed_keys_round_trip_and_revoke(s: &dyn Store) {
    let key = |c: char, systems: Vec<System>| FeedKeyRow {
        id: uuid::Uuid::now_v7(),
        name: "county court orders".to_owned(),
        systems,
        key_hash: c.to_string().repeat(64),
        prefix: "sbf_abcd".to_owned(),
        created_by: "admin01".to_owned(),
        created_at: T0,
        revoked_at: None,
    };
    let k = key('a', vec![System::CourtOrder, System::Custody]);
    s.insert_feed_key(&k).await.unwrap();
    assert_eq!(
        s.feed_key_by_hash(&k.key_hash).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(s.feed_key_by_hash(&"b".repeat(64)).await.unwrap(), None);
    assert!(matches!(
        s.insert_feed_key(&key('a', vec![])).await,
        Err(StoreError::Conflict { .. })
    ));
    let second = key('c', vec![System::Citizenship]);
    s.insert_feed_key(&second).await.unwrap();
    assert_eq!(
        s.feed_keys().await.unwrap(),
        vec![second.clone(), k.clone()]
    );
    let at = T0 + Duration::hours(2);
    s.revoke_feed_key(k.id, at).await.unwrap();
    s.revoke_feed_key(k.id, at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        s.feed_key_by_hash(&k.key_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at)
    );
    assert!(matches!(
        s.revoke_feed_key(uuid::Uuid::now_v7(), at).await,
        Err(StoreError::NotFound { .. })
    ));
}
