//! The call-taker's desk: state, the offered call with the caller's card, the subject form,
//! ranked and explained candidates, the rules' banners and the dispositions they allow.

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use switchboard_accounts::Permission;
use switchboard_acd::{AgentState, AgentStatus, CallView, Phase, QueueStatus};
use switchboard_audit::Entry;
use switchboard_domain::E164;
use switchboard_matching::index::Candidate;
use switchboard_rules::disclosure::caller_response;
use switchboard_rules::disposition::Kind;
use switchboard_rules::{Hit, Outcome};

use super::live::{Live, live};
use super::{Chrome, duration, fragment, label, one_line, page, words};
use crate::AppState;
use crate::api::callers::{CallerCard, caller_card};
use crate::api::dispositions::{self, Inquiry, NewDisposition};
use crate::api::lookups::{self, LookupRequest};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/desk", get(desk))
        .route("/desk/stream", get(desk_stream))
        .route("/desk/lookup", post(lookup))
        .route("/desk/evaluate", post(evaluate))
        .route("/desk/disposition", post(disposition))
        .route("/desk/ahead", post(ahead))
}

#[derive(Template)]
#[template(path = "desk.html")]
struct Desk {
    chrome: Chrome,
    has_agent: bool,
    agent: String,
    clock: String,
    offer: String,
    queues: String,
    may_query: bool,
}

/// The call-taker's desk.
async fn desk(State(app): State<AppState>, who: Principal) -> Response {
    let view = match DeskView::read(&app, &who, &mut Cards::default()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Ok(f) = view.render() else {
        return ApiError::internal("rendering the desk").into_response();
    };
    let mut f: HashMap<&str, String> = f.into_iter().collect();
    let mut take = |k| f.remove(k).unwrap_or_default();
    page(&Desk {
        chrome: Chrome::new(&app, &who, "/desk"),
        has_agent: view.agent.is_some(),
        agent: take("agent"),
        clock: take("clock"),
        offer: take("offer"),
        queues: take("queues"),
        may_query: who.can(Permission::RecordsQuery) && who.can(Permission::DispositionWrite),
    })
}

/// The desk's fragments, re-sent whenever the call distributor logs something (and every 5 s
/// for the clocks).
async fn desk_stream(State(app): State<AppState>, who: Principal) -> Response {
    if app.acd.is_none() {
        return no_acd().into_response();
    }
    live(app, who, Cards::default(), Duration::from_secs(5), true).into_response()
}

impl Live for Cards {
    async fn render(
        &mut self,
        app: &AppState,
        who: &Principal,
    ) -> Result<Vec<(&'static str, String)>, ApiError> {
        let view = DeskView::read(app, who, self).await?;
        view.render()
            .map_err(|e| ApiError::internal(format!("rendering the desk: {e}")))
    }
}

/// Looks the subject up (the API's handler: its checks and its audit entry) and renders the
/// ranked candidates.
async fn lookup(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<LookupRequest>,
) -> Result<Response, ApiError> {
    let res = lookups::lookup(State(app.clone()), who, ApiJson(req))
        .await?
        .0;
    let rows = res
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| candidate_row(i + 1, c, app.max_record_age_days))
        .collect();
    Ok(fragment(&CandidatesFragment {
        rows,
        compared: res.compared,
        index_records: res.index_records,
    }))
}

/// Evaluates the rules on the inquiry (the API's handler) and renders the banners and the
/// dispositions they allow.
async fn evaluate(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(q): ApiJson<Inquiry>,
) -> Result<Response, ApiError> {
    let v = dispositions::evaluate_inquiry(State(app), who, ApiJson(q))
        .await?
        .0;
    // A confirmation that only overridable rules block may go to a supervisor for override.
    let hard: Vec<Hit> = v.hits.iter().filter(|h| !h.overridable).cloned().collect();
    let confirm = Kind::ConfirmEnforcementAction;
    let override_possible = !v.allowed.contains(&confirm)
        && switchboard_rules::disposition::allowed(&hard).contains(&confirm);
    Ok(fragment(&VerdictFragment {
        banners: v.hits.iter().map(banner).collect(),
        options: v
            .allowed
            .iter()
            .map(|&k| DispositionOption {
                value: label(&k),
                name: kind_name(k),
                says: caller_response(k).text,
            })
            .collect(),
        override_possible,
        enforcement_blocked: !v.allowed.contains(&confirm),
        file: v.file,
    }))
}

/// Records the disposition (the API's handler) and renders what happened to it.
async fn disposition(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(d): ApiJson<NewDisposition>,
) -> Result<Response, ApiError> {
    let (_, v) = dispositions::create(State(app), who, ApiJson(d)).await?;
    let v = v.0;
    Ok(fragment(&RecordedFragment {
        id: v.id.to_string(),
        kind: kind_name(v.kind),
        state: words(&v.state),
        pending: v.state.starts_with("pending"),
        disclosed: v.disclosed,
        liaison_case: v.liaison_case.map(|c| c.to_string()),
    }))
}

/// A reference the officer reads out on the call.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AheadRequest {
    reference: String,
}

#[derive(Template)]
#[template(path = "ahead.html")]
struct AheadFragment {
    a: AheadPanel,
}

/// An inquiry sent ahead, found by the reference the officer gives (when they call from a
/// number other than the one they sent it from); shown, and audited, like the pop.
async fn ahead(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<AheadRequest>,
) -> Result<Response, ApiError> {
    let reference = req.reference.trim().to_ascii_uppercase();
    if reference.is_empty() || reference.len() > 40 {
        return Err(ApiError::invalid_field(
            "reference",
            "give the reference, IAQ-…",
        ));
    }
    let row = match app.store.partner_inquiry(&reference).await {
        Ok(r) => r,
        Err(switchboard_store::StoreError::NotFound { .. }) => {
            return Err(ApiError::not_found(&format!(
                "inquiry sent ahead {reference}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let doc: crate::api::partner::SentAhead = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("partner inquiry {reference}: {e}")))?;
    Ok(fragment(&AheadFragment {
        a: shown_ahead(&app, &who, &row, &doc).await?,
    }))
}

#[derive(Template)]
#[template(path = "candidates.html")]
struct CandidatesFragment {
    rows: Vec<CandidateRow>,
    compared: usize,
    index_records: usize,
}

/// One candidate as the desk shows it.
struct CandidateRow {
    rank: usize,
    record_id: String,
    system: String,
    name: String,
    dob: String,
    sex: String,
    birthplace: String,
    identifiers: Vec<String>,
    probability: f64,
    percent: String,
    band: String,
    band_class: String,
    /// The candidate joins the subject's file by its match, so it may be marked "not this
    /// person" (strong or probable; possible for a court order or citizenship record).
    markable: bool,
    capped_from: Option<String>,
    corroborated: bool,
    updated_on: String,
    age_days: i64,
    stale: bool,
    warnings: Vec<String>,
    evidence: Vec<EvidenceRow>,
}

struct EvidenceRow {
    field: String,
    level: String,
    weight: String,
    against: bool,
    left: String,
    right: String,
}

fn candidate_row(rank: usize, c: &Candidate, max_age_days: i64) -> CandidateRow {
    let r = &c.record;
    let dash = || "–".to_owned();
    let mut identifiers = Vec::new();
    if let Some(a) = &r.a_number {
        identifiers.push(format!("A-number {a}"));
    }
    if let Some(f) = &r.fbi_number {
        identifiers.push(format!("FBI {f}"));
    }
    if let Some(s) = &r.state_id {
        identifiers.push(format!("SID {s}"));
    }
    CandidateRow {
        rank,
        record_id: r.record_id.clone(),
        system: words(&r.system),
        name: format!("{}, {}", r.family_name, r.given_name),
        dob: r.date_of_birth.clone().unwrap_or_else(dash),
        sex: r.sex.clone().unwrap_or_else(dash),
        birthplace: match (&r.place_of_birth, &r.country_of_birth) {
            (Some(p), Some(c)) => format!("{p}, {c}"),
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => dash(),
        },
        identifiers,
        probability: c.probability,
        percent: format!("{:.1}%", c.probability * 100.0),
        band: words(&c.band),
        band_class: label(&c.band),
        markable: switchboard_rules::file::Ranked {
            band: c.band.into(),
            corroborated: c.corroborated,
            protective: matches!(
                r.system,
                switchboard_domain::records::System::CourtOrder
                    | switchboard_domain::records::System::Citizenship
            ),
        }
        .joins(),
        capped_from: (c.band_before_checks != c.band).then(|| words(&c.band_before_checks)),
        corroborated: c.corroborated,
        updated_on: r.updated_on.to_string(),
        age_days: c.age_days,
        stale: c.age_days > max_age_days,
        warnings: c.warnings.iter().map(|w| w.message.clone()).collect(),
        evidence: c
            .evidence
            .iter()
            .map(|e| EvidenceRow {
                field: e.field.replace('_', " "),
                level: e.level.replace('_', " "),
                weight: format!("{:+.1}", e.weight),
                against: e.weight < 0.0,
                left: e.left.clone(),
                right: e.right.clone(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "verdict.html")]
struct VerdictFragment {
    banners: Vec<Banner>,
    options: Vec<DispositionOption>,
    /// Confirmation is blocked only by rules a supervisor may override.
    override_possible: bool,
    enforcement_blocked: bool,
    /// The subject's whole file as the rules judged it.
    file: dispositions::FileView,
}

/// A rule's hit as a banner: what it does, why here, on what basis.
struct Banner {
    class: &'static str,
    rule: String,
    version: u32,
    text: String,
    outcomes: Vec<String>,
    reasons: Vec<String>,
    basis: String,
    overridable: bool,
}

fn banner(h: &Hit) -> Banner {
    let class = if h.outcomes.contains(&Outcome::JuvenileWorkflow) {
        "juvenile"
    } else if h.outcomes.iter().all(|o| *o == Outcome::RecordsOnFile) {
        "info"
    } else if h.outcomes.iter().any(|o| {
        matches!(
            o,
            Outcome::BlockConfirm | Outcome::Reject | Outcome::UnableToConfirm
        )
    }) {
        "block"
    } else {
        "warn"
    };
    Banner {
        class,
        rule: h.rule.clone(),
        version: h.version,
        text: h.text.clone(),
        outcomes: h.outcomes.iter().map(words).collect(),
        reasons: h.reasons.clone(),
        basis: h.basis.clone(),
        overridable: h.overridable,
    }
}

struct DispositionOption {
    value: String,
    name: String,
    says: String,
}

/// A disposition's name as the desk shows it.
fn kind_name(k: Kind) -> String {
    match k {
        Kind::NoRecordFound => "No record found",
        Kind::StatusInformationOnly => "Status information only",
        Kind::UnableToConfirm => "Unable to confirm",
        Kind::ConfirmEnforcementAction => "Confirm enforcement action",
        Kind::Decline => "Decline the request",
        Kind::ReferLegalReview => "Refer for legal review",
        Kind::ReferCitizenshipInvestigation => "Refer for a citizenship investigation",
        Kind::ReferJuvenileLiaison => "Refer to the juvenile-liaison desk",
        Kind::HitConfirmationRequested => "Request hit confirmation",
    }
    .to_owned()
}

#[derive(Template)]
#[template(path = "recorded.html")]
struct RecordedFragment {
    id: String,
    kind: String,
    state: String,
    pending: bool,
    disclosed: String,
    liaison_case: Option<String>,
}

/// The caller cards a desk has shown, by ACD call: each is read (and audited, as a caller
/// lookup by that user) once, not on every refresh.
#[derive(Default)]
struct Cards(HashMap<u64, std::sync::Arc<CardPanel>>);

fn no_acd() -> ApiError {
    ApiError::unavailable(
        "acd_unavailable",
        "this server runs no call distributor, so the desk has nothing to show",
    )
}

/// What the desk shows, read from the call distributor and the store.
struct DeskView {
    agent: Option<AgentPanel>,
    offer: Option<OfferPanel>,
    queues: Vec<QueueRow>,
    /// How long the agent has been in its state, and how long the offered call has waited.
    in_state: Option<String>,
    since: Option<u64>,
    waited: Option<String>,
    arrived: Option<u64>,
    /// After-call work: the time left and when it ends (epoch ms).
    after_call: Option<(String, u64)>,
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentFragment<'a> {
    agent: &'a Option<AgentPanel>,
}

#[derive(Template)]
#[template(path = "clock.html")]
struct ClockFragment<'a> {
    in_state: &'a Option<String>,
    since: Option<u64>,
    waited: &'a Option<String>,
    arrived: Option<u64>,
    after_call: &'a Option<(String, u64)>,
}

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferFragment<'a> {
    offer: &'a Option<OfferPanel>,
}

#[derive(Template)]
#[template(path = "queues.html")]
struct QueuesFragment<'a> {
    queues: &'a [QueueRow],
}

struct AgentPanel {
    id: u64,
    state: String,
    state_class: &'static str,
    pending: Option<String>,
    answered: u64,
}

struct OfferPanel {
    call: u64,
    agent: u64,
    phase: &'static str,
    phase_class: &'static str,
    ringing: bool,
    connected: bool,
    queue: String,
    /// The call's record in the store (what an inquiry is made on).
    record: Option<String>,
    card: std::sync::Arc<CardPanel>,
}

/// The caller's card as text (every field escaped by the template).
struct CardPanel {
    number: String,
    /// False when the user's role may not see caller cards (then only the number shows).
    visible: bool,
    authorised: bool,
    problems: Vec<String>,
    officer: Option<String>,
    agency: Option<String>,
    ori: Option<String>,
    agreements: Vec<String>,
    /// The inquiry the officer sent ahead from this number, with its cross-check.
    ahead: Option<AheadPanel>,
}

/// An inquiry sent ahead, as the desk shows it when the officer's call pops.
struct AheadPanel {
    reference: String,
    received: String,
    source: String,
    subject: String,
    purpose: String,
    candidates: Vec<(String, String, String, String, String)>,
    ready_ms: String,
    /// The subject as the form's fields (JSON), for "Use this subject".
    fill: String,
    /// The partner says the subject is in its custody (its word, not a record).
    custody: bool,
}

struct QueueRow {
    name: String,
    waiting: u32,
    longest: String,
    available: u32,
}

impl Cards {
    /// The card of ACD call `call` (store record `record`), read and audited the first time.
    async fn get(
        &mut self,
        app: &AppState,
        who: &Principal,
        call: u64,
        record: Option<uuid::Uuid>,
    ) -> Result<std::sync::Arc<CardPanel>, ApiError> {
        if let Some(c) = self.0.get(&call) {
            return Ok(c.clone());
        }
        let ani = match record {
            Some(id) => Some(
                app.store
                    .call(switchboard_domain::CallId::from_uuid(id))
                    .await?
                    .ani_raw,
            ),
            None => None,
        };
        let target = format!("/acd/calls/{call}");
        let card = if who.can(Permission::CallerLookup) {
            // Shown to this user: audited like the API's caller lookup, once per call.
            let mut entry =
                Entry::new("desk caller card", who.actor(), app.now_ms()).with_target(&target);
            entry.note = ani.clone();
            app.record(entry).await?;
            let mut card = card_panel(app, ani.as_deref()).await?;
            if who.can(Permission::RecordsQuery)
                && let Some((row, doc)) = crate::api::partner::sent_ahead(app, &card.number).await?
            {
                card.ahead = Some(shown_ahead(app, who, &row, &doc).await?);
            }
            card
        } else {
            CardPanel {
                visible: false,
                ..unknown_card(ani.unwrap_or_else(|| "number not known".to_owned()))
            }
        };
        let card = std::sync::Arc::new(card);
        // A desk sees a handful of calls an hour: keep the last few dozen.
        if self.0.len() >= 64 {
            self.0.clear();
        }
        self.0.insert(call, card.clone());
        Ok(card)
    }
}

impl DeskView {
    async fn read(app: &AppState, who: &Principal, cards: &mut Cards) -> Result<Self, ApiError> {
        let host = app.acd.clone().ok_or_else(no_acd)?;
        let username = who.username().to_owned();
        let (me, limit, calls, queues, now) = host
            .read(|acd, now| {
                let me = acd
                    .config()
                    .agents
                    .iter()
                    .find(|a| a.user.as_deref() == Some(username.as_str()));
                let limit = me.map(|a| a.after_call_limit);
                let me = me.map(|a| a.id);
                let status: Option<AgentStatus> =
                    me.and_then(|id| acd.agent_status(now).into_iter().find(|s| s.agent == id));
                (status, limit, acd.calls(), acd.queue_status(now), now)
            })
            .await;
        let queue_name = |q: switchboard_acd::QueueId| {
            queues
                .iter()
                .find(|s| s.queue == q)
                .map_or_else(|| format!("queue {}", q.0), |s| s.name.clone())
        };
        let mut offer = None;
        let mut waited = None;
        let mut arrived = None;
        if let Some(me) = &me
            && let Some(c) = calls.iter().find(|c| mine(c, me.agent))
        {
            let record = host
                .calls()
                .await
                .into_iter()
                .find(|(v, _)| v.call == c.call)
                .and_then(|(_, r)| r);
            let card = cards.get(app, who, c.call.0, record).await?;
            let ringing = matches!(c.phase, Phase::Ringing { .. });
            waited = Some(duration(now.saturating_sub(c.arrived)));
            arrived = Some(c.arrived);
            offer = Some(OfferPanel {
                call: c.call.0,
                agent: me.agent.0,
                phase: if ringing {
                    "Offered to you"
                } else {
                    "Connected"
                },
                phase_class: if ringing { "ringing" } else { "connected" },
                ringing,
                connected: !ringing,
                queue: queue_name(c.queue),
                record: record.map(|r| r.to_string()),
                card,
            });
        }
        let since = me.as_ref().and_then(|s| s.state.since());
        // After-call work ends on its own after the agent's limit: the desk counts it down.
        let after_call = match (&me, limit) {
            (Some(s), Some(limit)) if limit > 0 => match s.state {
                AgentState::AfterCallWork { since } => {
                    let ends = since.saturating_add(limit);
                    Some((duration(ends.saturating_sub(now)), ends))
                }
                _ => None,
            },
            _ => None,
        };
        Ok(Self {
            in_state: me.as_ref().and_then(|s| s.in_state_ms).map(duration),
            since,
            agent: me.map(|s| agent_panel(&s)),
            offer,
            waited,
            arrived,
            after_call,
            queues: queues.iter().map(queue_row).collect(),
        })
    }

    /// The fragments by name, in the page's order.
    fn render(&self) -> Result<Vec<(&'static str, String)>, askama::Error> {
        Ok(vec![
            (
                "queues",
                one_line(
                    QueuesFragment {
                        queues: &self.queues,
                    }
                    .render()?,
                ),
            ),
            (
                "clock",
                one_line(
                    ClockFragment {
                        in_state: &self.in_state,
                        since: self.since,
                        waited: &self.waited,
                        arrived: self.arrived,
                        after_call: &self.after_call,
                    }
                    .render()?,
                ),
            ),
            (
                "offer",
                one_line(OfferFragment { offer: &self.offer }.render()?),
            ),
            (
                "agent",
                one_line(AgentFragment { agent: &self.agent }.render()?),
            ),
        ])
    }
}

fn mine(c: &CallView, agent: switchboard_acd::AgentId) -> bool {
    match c.phase {
        Phase::Ringing { agent: a, .. } | Phase::Connected { agent: a } => a == agent,
        Phase::Waiting => false,
    }
}

fn agent_panel(s: &AgentStatus) -> AgentPanel {
    let (state, class) = match &s.state {
        AgentState::LoggedOut => ("Logged out".to_owned(), "out"),
        AgentState::Available { .. } => ("Available".to_owned(), "available"),
        AgentState::Offered { .. } => ("Call offered".to_owned(), "offered"),
        AgentState::OnCall { .. } => ("On a call".to_owned(), "oncall"),
        AgentState::AfterCallWork { .. } => ("After-call work".to_owned(), "acw"),
        AgentState::Break { reason, .. } => (format!("Break ({reason})"), "break"),
    };
    AgentPanel {
        id: s.agent.0,
        state,
        state_class: class,
        pending: s.pending.as_ref().map(|p| match p {
            switchboard_acd::Requested::LogIn => "log in".to_owned(),
            switchboard_acd::Requested::Available => "available".to_owned(),
            switchboard_acd::Requested::Break { reason } => format!("break ({reason})"),
            switchboard_acd::Requested::LogOut => "log out".to_owned(),
        }),
        answered: s.today.answered,
    }
}

fn queue_row(q: &QueueStatus) -> QueueRow {
    QueueRow {
        name: q.name.clone(),
        waiting: q.waiting,
        longest: q.longest_wait_ms.map_or_else(|| "–".to_owned(), duration),
        available: q.available,
    }
}

/// The caller's card for a calling number as signalled (anything that is not E.164 is an
/// unknown caller, shown as it came).
async fn card_panel(app: &AppState, ani: Option<&str>) -> Result<CardPanel, ApiError> {
    let Some(raw) = ani else {
        return Ok(unknown_card("number not known".to_owned()));
    };
    let Ok(phone) = E164::parse(raw) else {
        return Ok(unknown_card(raw.to_owned()));
    };
    let card: CallerCard = caller_card(app, &phone).await?;
    Ok(CardPanel {
        number: phone.as_str().to_owned(),
        visible: true,
        authorised: card.authorised,
        problems: card.problems.into_iter().map(|p| p.message).collect(),
        officer: card.officer.as_ref().map(|o| {
            format!(
                "{} {} (badge {})",
                o.officer.given_name.as_str(),
                o.officer.family_name.as_str(),
                label(&o.officer.badge)
            )
        }),
        agency: card
            .agency
            .as_ref()
            .map(|a| a.agency.name.as_str().to_owned()),
        ori: card.agency.as_ref().map(|a| label(&a.agency.ori)),
        agreements: card
            .agreements
            .iter()
            .map(|a| {
                format!(
                    "{} ({})",
                    label(&a.agreement.model),
                    label(&a.status).replace('_', " ")
                )
            })
            .collect(),
        ahead: None,
    })
}

fn unknown_card(number: String) -> CardPanel {
    CardPanel {
        number,
        visible: true,
        authorised: false,
        problems: vec!["The calling number is not registered to any partner officer.".to_owned()],
        officer: None,
        agency: None,
        ori: None,
        agreements: Vec::new(),
        ahead: None,
    }
}

/// An inquiry sent ahead as it is shown to `who`: its cross-check is a disclosure, audited
/// like a lookup (once per call: the pop's card is cached).
async fn shown_ahead(
    app: &AppState,
    who: &Principal,
    row: &switchboard_store::PartnerInquiryRow,
    doc: &crate::api::partner::SentAhead,
) -> Result<AheadPanel, ApiError> {
    let mut entry = Entry::new("desk sent-ahead inquiry", who.actor(), app.now_ms())
        .with_target(format!("partner-inquiry:{}", row.reference));
    entry.query = crate::api::subject_keys(&doc.subject);
    entry.records = doc
        .cross_check
        .candidates
        .iter()
        .map(|c| c.record_id.clone())
        .collect();
    app.record(entry).await?;
    Ok(ahead_panel(row, doc))
}

fn ahead_panel(
    row: &switchboard_store::PartnerInquiryRow,
    doc: &crate::api::partner::SentAhead,
) -> AheadPanel {
    let s = &doc.subject;
    let names =
        |n: &[switchboard_domain::Name]| n.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ");
    let mut fill = serde_json::json!({
        "s-family": s.family_names.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", "),
        "s-given": names(&s.given_names),
        "s-dob": s.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
        "s-sex": s.sex.map(|x| label(&x)).unwrap_or_default(),
        "s-pob": s.place_of_birth.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default(),
        "s-anumber": s.a_number.as_ref().map(ToString::to_string).unwrap_or_default(),
        "s-fbi": s.fbi_number.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default(),
        "s-sid": s.state_id.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default(),
        "s-offense": s.offense_code.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default(),
        "p-code": label(&doc.purpose.code),
        "p-reason": doc.purpose.reason,
        "p-case": doc.purpose.case_number.clone().unwrap_or_default(),
    });
    fill["s-custody"] = serde_json::Value::Bool(s.in_custody.unwrap_or(false));
    AheadPanel {
        reference: row.reference.clone(),
        received: super::when(row.created_at),
        source: if doc.source == "iaq" {
            "Nlets IAQ"
        } else {
            "the partner API"
        }
        .to_owned(),
        subject: crate::api::dispositions::subject_line(s),
        purpose: doc.purpose.reason.clone(),
        candidates: doc
            .cross_check
            .candidates
            .iter()
            .take(3)
            .map(|c| {
                (
                    c.name.clone(),
                    c.date_of_birth.clone().unwrap_or_else(|| "–".to_owned()),
                    c.system.replace('_', " "),
                    c.band.clone(),
                    format!("{:.1}%", c.probability * 100.0),
                )
            })
            .collect(),
        ready_ms: format!("{:.0}", doc.cross_check.ready_ms.max(1.0)),
        fill: fill.to_string(),
        custody: s.in_custody.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_one_line_and_escape_names() {
        let card = unknown_card("<script>alert(1)</script>".to_owned());
        let offer = Some(OfferPanel {
            call: 1,
            agent: 2,
            phase: "Offered to you",
            phase_class: "ringing",
            ringing: true,
            connected: false,
            queue: "Inquiry <b>desk</b>".to_owned(),
            record: None,
            card: std::sync::Arc::new(card),
        });
        let html = one_line(OfferFragment { offer: &offer }.render().unwrap());
        assert!(!html.contains('\n'));
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>desk"), "{html}");
    }

    #[test]
    fn banners_and_candidates_show_markup_as_text() {
        let hit = Hit {
            rule: "minor".into(),
            version: 1,
            outcomes: vec![Outcome::JuvenileWorkflow, Outcome::BlockConfirm],
            text: "under <b>18</b>".into(),
            basis: "8 U.S.C. 1232".into(),
            reasons: vec!["<script>alert(1)</script> on file".into()],
            overridable: false,
        };
        let b = banner(&hit);
        assert_eq!(
            b.class, "juvenile",
            "the juvenile workflow outranks the block"
        );
        let html = VerdictFragment {
            banners: vec![b],
            options: vec![DispositionOption {
                value: label(&Kind::ReferJuvenileLiaison),
                name: kind_name(Kind::ReferJuvenileLiaison),
                says: caller_response(Kind::ReferJuvenileLiaison).text,
            }],
            override_possible: false,
            enforcement_blocked: true,
            file: dispositions::FileView {
                records: vec![dispositions::FileRecord {
                    record_id: "<i>IDN-1</i>".into(),
                    system: "identity".into(),
                    band: None,
                    corroborated: false,
                    added_by_server: true,
                    why: "shares the A-number <u>A1</u>".into(),
                    markable: false,
                    updated_on: time::macros::date!(2026 - 11 - 01),
                }],
                position: 0,
                excluded: vec![switchboard_rules::Excluded {
                    record_id: "CAS-2".into(),
                    reason: "<img src=x onerror=alert(1)> another person".into(),
                }],
                complete: true,
                determinations: vec![],
            },
        }
        .render()
        .unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<b>18"),
            "{html}"
        );
        assert!(
            !html.contains("<i>IDN") && !html.contains("<u>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("added by the server"), "{html}");
        assert!(html.contains("refer_juvenile_liaison"), "{html}");
        assert!(!html.contains("confirm_enforcement_action"), "{html}");
        assert!(html.contains("data-testid=\"no-enforcement\""), "{html}");

        let html = CandidatesFragment {
            rows: vec![CandidateRow {
                rank: 1,
                record_id: "IDN-1\"><img src=x>".into(),
                system: "identity".into(),
                name: "<img src=x onerror=alert(1)>, Ana".into(),
                dob: "1990-01-02".into(),
                sex: "F".into(),
                birthplace: "–".into(),
                identifiers: vec![],
                probability: 0.5,
                percent: "50.0%".into(),
                band: "possible".into(),
                band_class: "possible".into(),
                markable: false,
                capped_from: None,
                corroborated: false,
                updated_on: "2026-01-01".into(),
                age_days: 300,
                stale: true,
                warnings: vec!["<i>stale</i>".into()],
                evidence: vec![],
            }],
            compared: 1,
            index_records: 1,
        }
        .render()
        .unwrap();
        assert!(
            !html.contains("<img") && !html.contains("<i>stale"),
            "{html}"
        );
        assert!(
            html.contains("stale: cannot support a confirmation"),
            "{html}"
        );
    }

    #[test]
    fn kind_names_cover_every_disposition() {
        let names: std::collections::HashSet<String> =
            Kind::ALL.iter().map(|&k| kind_name(k)).collect();
        assert_eq!(names.len(), Kind::ALL.len());
    }
}
