//! `switchboard bench pages`: the server time of every desktop page and page action with a
//! million people in the records.
//!
//! The records are generated into a temporary SQLite database and indexed as the server does;
//! the server's own router (guards, audit log, call distributor) answers requests made in
//! process, so the figures are server time: from the request to the last byte of the body,
//! the audit entry's durable commit included, no network. Users log on with their password and
//! one-time code like anyone; a call is placed and answered so the desk has one; then each
//! page is asked for in turn, and each action made with a different person's description.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use clap::Args;
use serde_json::{Value, json};
use switchboard_acd::{AgentConfig, AgentId, Config as AcdConfig, QueueConfig, QueueId, SkillId};
use switchboard_acd_host::{AcdHost, system_clock};
use switchboard_domain::{Name, NewUser, Role, Username};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;
use switchboard_synth::noise::NoiseSpec;
use switchboard_synth::people::{PeopleSpec, people};
use switchboard_synth::records::{RecordSpec, records_for};
use switchboard_web::AppState;
use time::OffsetDateTime;
use tower::ServiceExt;

#[derive(Debug, Args)]
pub struct PagesBench {
    /// People generated into the records (their records in six systems).
    #[arg(long, default_value_t = 1_000_000)]
    people: u64,
    /// Requests of each page and action.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

const PASSWORD: &str = "bench-pages-password";

/// A logged-on user: the session cookie and its CSRF token.
pub(crate) struct Session {
    cookie: String,
    csrf: String,
}

pub(crate) struct Client {
    router: Router,
}

impl Client {
    async fn send(
        &self,
        s: Option<&Session>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>, Option<String>)> {
        let headers: Vec<(&str, String)> = match s {
            Some(s) => vec![
                ("cookie", s.cookie.clone()),
                ("x-csrf-token", s.csrf.clone()),
            ],
            None => Vec::new(),
        };
        self.send_with(&headers, method, path, body).await
    }

    async fn send_with(
        &self,
        headers: &[(&str, String)],
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>, Option<String>)> {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(b)?))?,
            None => req.body(Body::empty())?,
        };
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let cookie = res
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20).await?;
        Ok((status, bytes.to_vec(), cookie))
    }

    pub(crate) async fn json(
        &self,
        s: Option<&Session>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, bytes, _) = self.send(s, method.clone(), path, body).await?;
        if !status.is_success() {
            bail!(
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        })
    }

    async fn logon(&self, username: &str, secret: &str) -> anyhow::Result<Session> {
        let totp = switchboard_accounts::totp::code_at(
            secret,
            OffsetDateTime::now_utc().unix_timestamp() as u64,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let body = json!({"username": username, "password": PASSWORD, "totp": totp});
        let (status, bytes, cookie) = self
            .send(None, Method::POST, "/api/v1/session", Some(&body))
            .await?;
        if status != StatusCode::CREATED {
            bail!(
                "logon of {username}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let v: Value = serde_json::from_slice(&bytes)?;
        Ok(Session {
            cookie: cookie.context("no session cookie")?,
            csrf: v["csrf_token"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// One page's or action's figures.
#[derive(Default)]
struct Figures {
    times: Vec<Duration>,
    failed: usize,
    first_failure: Option<String>,
}

impl Figures {
    fn add(&mut self, took: Duration, status: StatusCode, body: &[u8]) {
        self.times.push(took);
        if !status.is_success() {
            self.failed += 1;
            self.first_failure.get_or_insert_with(|| {
                format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )
            });
        }
    }

    fn line(&mut self, name: &str) -> String {
        self.times.sort_unstable();
        let p = |q: f64| {
            let i = ((self.times.len() as f64 - 1.0) * q).round() as usize;
            self.times.get(i).copied().unwrap_or_default()
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut line = format!(
            "{name:<44} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.times.len(),
            ms(p(0.5)),
            ms(p(0.99)),
            ms(self.times.last().copied().unwrap_or_default()),
        );
        if self.failed > 0 {
            line.push_str(&format!(
                "  FAILED {} (first: {})",
                self.failed,
                self.first_failure.as_deref().unwrap_or("")
            ));
        }
        line
    }
}

/// A center for a bench: the records of `people` generated people (seed `seed`) in a
/// temporary SQLite database, indexed; the server's router; users of every desk logged on; a
/// federal field office's officer's call answered by the call-taker `ct01`.
pub(crate) struct Center {
    /// Holds the temporary database until the bench ends.
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub audit: switchboard_audit_host::AuditLog,
    pub client: Client,
    pub sessions: std::collections::HashMap<&'static str, Session>,
    pub agency: Value,
    pub call: String,
    pub summary: crate::synth_cmd::Summary,
    pub people_spec: PeopleSpec,
    pub record_spec: RecordSpec,
}

impl std::fmt::Debug for Center {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Center")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn start(people: u64, seed: u64) -> anyhow::Result<Center> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await?);
    let today = OffsetDateTime::now_utc().date();
    let people_spec = PeopleSpec::new(seed, people, today);
    let record_spec = RecordSpec {
        seed,
        noise: NoiseSpec::default(),
        today,
    };
    let started = Instant::now();
    let summary = crate::synth_cmd::generate(
        people_spec,
        record_spec.clone(),
        None,
        Some(store.clone()),
        true,
    )
    .await?;
    eprintln!(
        "{} people, {} records written in {:.1} s",
        summary.people,
        summary.records,
        started.elapsed().as_secs_f64()
    );

    let acd = AcdConfig {
        queues: vec![QueueConfig::new(QueueId(1), "inquiry desk", SkillId(1))],
        agents: vec![AgentConfig {
            id: AgentId(1),
            name: "call-taker 1".to_owned(),
            skills: vec![(SkillId(1), 5)],
            after_call_limit: 0,
            user: Some("ct01".to_owned()),
        }],
        ..AcdConfig::default()
    };
    let host = AcdHost::open(store.clone(), acd, system_clock()).await?;
    let clock: switchboard_audit_host::Clock =
        Arc::new(|| (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64);
    let audit = switchboard_audit_host::AuditLog::open(
        store.clone(),
        switchboard_audit_host::AuditConfig::new("switchboard-bench", [7; 32]),
        clock,
    )
    .await?;
    // The partner budget and admission control are out of the way: the bench measures the
    // work, not the limits.
    let mut state = AppState::new(store.clone())
        .with_acd(host)
        .with_audit(audit.clone())
        .with_partner_rate(1_000_000);
    state.admission = None;
    let started = Instant::now();
    state
        .index
        .load(store.clone(), crate::INDEX_SEED)
        .await
        .context("building the record index")?;
    eprintln!(
        "index of {} records built in {:.1} s",
        state.index.records().unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    let client = Client {
        router: switchboard_web::router(state.clone()),
    };

    let mut sessions = std::collections::HashMap::new();
    let sealing = state.sealing.clone();
    for (name, role) in [
        ("ct01", Role::CallTaker),
        ("sup01", Role::Supervisor),
        ("jl01", Role::JuvenileLiaison),
        ("audit01", Role::Auditor),
        ("admin01", Role::Administrator),
    ] {
        let new = NewUser {
            username: Username::parse(name).expect("a valid username"),
            display_name: Name::parse("Bench User").expect("a valid name"),
            role,
        };
        let actor = switchboard_audit::Actor {
            username: "system:bench".to_owned(),
            ..Default::default()
        };
        let now = switchboard_domain::stored_precision(OffsetDateTime::now_utc());
        let keepers = switchboard_web::api::users::Keepers {
            store: store.as_ref(),
            audit: &audit,
            sealing: &sealing,
        };
        let e = switchboard_web::api::users::enrol(keepers, actor, new, PASSWORD, now, None)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
        sessions.insert(name, client.logon(name, &e.totp_secret).await?);
    }
    let (ct, admin) = (&sessions["ct01"], &sessions["admin01"]);

    // A federal field office's officer calls, and the call-taker answers.
    let agency = client
        .json(
            Some(admin),
            Method::POST,
            "/api/v1/agencies",
            Some(&json!({"ori": "DCICE0000", "name": "Field Office", "kind": "federal_field_office"})),
        )
        .await?;
    client
        .json(
            Some(admin),
            Method::POST,
            "/api/v1/officers",
            Some(
                &json!({"agency_id": agency["id"], "given_name": "Bench", "family_name": "Officer",
                "badge": "B1", "phones": ["+12025550142"]}),
            ),
        )
        .await?;
    for state in ["log_in", "available"] {
        client
            .json(
                Some(ct),
                Method::POST,
                "/api/v1/acd/agents/1/state",
                Some(&json!({"state": state})),
            )
            .await?;
    }
    let placed = client
        .json(
            Some(admin),
            Method::POST,
            "/api/v1/acd/calls",
            Some(&json!({"queue": 1, "ani": "+12025550142"})),
        )
        .await?;
    let acd_call = placed["call"]
        .as_u64()
        .context("the placed call's number")?;
    client
        .json(
            Some(ct),
            Method::POST,
            "/api/v1/acd/agents/1/answer",
            Some(&json!({"call": acd_call})),
        )
        .await?;
    let call = placed["record"]["id"]
        .as_str()
        .context("the placed call's record")?
        .to_owned();
    Ok(Center {
        _dir: dir,
        store,
        audit,
        client,
        agency,
        call,
        summary,
        people_spec,
        record_spec,
        sessions,
    })
}

pub async fn run(args: &PagesBench) -> anyhow::Result<()> {
    if args.requests == 0 {
        bail!("--requests must be at least 1");
    }
    let center = start(args.people, args.seed).await?;
    let Center {
        store,
        audit,
        client,
        sessions,
        agency,
        call,
        summary,
        people_spec,
        record_spec,
        ..
    } = &center;
    let (ct, sup, jl, aud, admin) = (
        &sessions["ct01"],
        &sessions["sup01"],
        &sessions["jl01"],
        &sessions["audit01"],
        &sessions["admin01"],
    );
    // The people the officers will describe: the first of the same generated population.
    let samples: Vec<Value> = people(*people_spec)
        .take(args.requests.max(1) * 2)
        .filter_map(|p| {
            let r = records_for(record_spec, &p);
            let i = r.identity.first()?;
            let mut s = json!({
                "family_names": [i.family_name],
                "given_names": [i.given_name],
            });
            if let Some(d) = i.dob {
                s["date_of_birth"] = json!(d.to_string());
            }
            s["a_number"] = json!(format!("A{}", i.a_number));
            Some(s)
        })
        .take(args.requests)
        .collect();

    let purpose =
        json!({"code": "C", "reason": "booking: identity check", "case_number": "24-000123"});

    // Each description's top candidate and what the rules allow, worked out before timing.
    let mut inquiries = Vec::new();
    for s in &samples {
        let found = client
            .json(
                Some(ct),
                Method::POST,
                "/api/v1/lookups",
                Some(&json!({"subject": s, "purpose": purpose, "call": call, "limit": 10})),
            )
            .await?;
        let chosen: Vec<Value> = found["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .take(1)
            .map(|c| c["record"]["record_id"].clone())
            .collect();
        inquiries.push(
            json!({"call": call, "purpose": purpose, "subject": s, "chosen": chosen,
            "claims": {}, "location": "jail"}),
        );
    }
    let mut kinds = Vec::new();
    for q in &inquiries {
        let v = client
            .json(
                Some(ct),
                Method::POST,
                "/api/v1/dispositions/evaluate",
                Some(q),
            )
            .await?;
        kinds.push(
            v["allowed"][0]
                .as_str()
                .unwrap_or("unable_to_confirm")
                .to_owned(),
        );
    }

    let mut lines = Vec::new();
    let timed = async |s: &Session,
                       method: Method,
                       path: &str,
                       body: Option<&Value>,
                       f: &mut Figures|
           -> anyhow::Result<()> {
        let t = Instant::now();
        let (status, bytes, _) = client.send(Some(s), method, path, body).await?;
        f.add(t.elapsed(), status, &bytes);
        Ok(())
    };

    // Inquiries sent ahead by a partner: from acceptance to the cross-check stored and ready.
    let issued = client
        .json(
            Some(admin),
            Method::POST,
            &format!(
                "/api/v1/agencies/{}/partner-keys",
                agency["id"].as_str().unwrap_or("")
            ),
            Some(&json!({"label": "bench"})),
        )
        .await?;
    let partner_headers = vec![
        (
            "authorization",
            format!("Bearer {}", issued["secret"].as_str().unwrap_or("")),
        ),
        ("x-officer-badge", "B1".to_owned()),
    ];
    let mut f = Figures::default();
    let mut ready = Vec::new();
    for s in &samples {
        let body = json!({"subject": s, "purpose": purpose});
        let t = Instant::now();
        let (status, bytes, _) = client
            .send_with(
                &partner_headers,
                Method::POST,
                "/api/v1/partner/inquiries",
                Some(&body),
            )
            .await?;
        f.add(t.elapsed(), status, &bytes);
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            && let Some(r) = v["reference"].as_str()
        {
            ready.push(r.to_owned());
        }
    }
    lines.push(f.line("POST /api/v1/partner/inquiries (to ready)"));
    // What the stored cross-checks say their own time to ready was (inside the handler).
    let mut inside = Vec::new();
    for r in &ready {
        if let Ok(row) = store.partner_inquiry(r).await
            && let Some(ms) = row.document["cross_check"]["ready_ms"].as_f64()
        {
            inside.push(ms);
        }
    }
    inside.sort_by(f64::total_cmp);
    if let (Some(p50), Some(p99)) = (
        inside.get(inside.len() / 2),
        inside.get(((inside.len() as f64 - 1.0) * 0.99).round() as usize),
    ) {
        lines.push(format!(
            "{:<44} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms",
            "  of which the cross-check (lookup) itself",
            inside.len(),
            p50,
            p99
        ));
    }

    // The actions first, so the pages after them show their results.
    let mut f = Figures::default();
    for s in &samples {
        let body = json!({"subject": s, "purpose": purpose, "call": call, "limit": 10});
        timed(ct, Method::POST, "/desk/lookup", Some(&body), &mut f).await?;
    }
    lines.push(f.line("POST /desk/lookup (candidates, explained)"));
    let mut f = Figures::default();
    for q in &inquiries {
        timed(ct, Method::POST, "/desk/evaluate", Some(q), &mut f).await?;
    }
    lines.push(f.line("POST /desk/evaluate (rule banners)"));
    let mut f = Figures::default();
    for (q, kind) in inquiries.iter().zip(&kinds) {
        let body = json!({"inquiry": q, "kind": kind});
        timed(ct, Method::POST, "/desk/disposition", Some(&body), &mut f).await?;
    }
    lines.push(f.line("POST /desk/disposition (recorded)"));

    let subject_key = format!(
        "a_number:{}",
        samples[0]["a_number"].as_str().unwrap_or_default()
    );
    let accounting = format!(
        "/auditor?report=accounting&subject={}",
        subject_key.replace(':', "%3A")
    );
    for (name, s, path) in [
        ("GET /desk (call connected)", ct, "/desk"),
        ("GET /wall (queues, agents, charts, reviews)", sup, "/wall"),
        ("GET /reviews", sup, "/reviews"),
        ("GET /liaison", jl, "/liaison"),
        ("GET /auditor (latest 100 entries)", aud, "/auditor"),
        (
            "GET /auditor accounting for a subject",
            aud,
            accounting.as_str(),
        ),
        (
            "GET /auditor anomaly review (7 days)",
            aud,
            "/auditor?report=anomalies",
        ),
        ("GET /admin agencies", admin, "/admin?section=agencies"),
        ("GET /admin users", admin, "/admin?section=users"),
        ("GET /admin queues", admin, "/admin?section=acd"),
        ("GET /admin rules", admin, "/admin?section=rules"),
    ] {
        let mut f = Figures::default();
        for _ in 0..args.requests {
            timed(s, Method::GET, path, None, &mut f).await?;
        }
        lines.push(f.line(name));
    }
    println!(
        "server time per page, {} people ({} records) in the records, {} requests each:",
        summary.people, summary.records, args.requests
    );
    for l in lines {
        println!("  {l}");
    }
    audit.checkpoint().await?;
    Ok(())
}
