//! The binary as a newcomer runs it: real processes, real ports, real files.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A running `switchboard` process; stopped with SIGTERM when dropped.
struct Running {
    child: Child,
    base: String,
    lines: Vec<String>,
    /// Accounts to log on with: username, password and TOTP secret by role.
    accounts: HashMap<String, (String, String, String)>,
    /// Sessions by role: the cookie and the CSRF token.
    sessions: tokio::sync::Mutex<HashMap<String, (String, String)>>,
}

/// The demo's accounts, from the lines it printed.
fn demo_accounts(lines: &[String]) -> HashMap<String, (String, String, String)> {
    let Some(password) = lines.iter().find_map(|l| {
        l.strip_prefix("Demo accounts (password ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_owned)
    }) else {
        return HashMap::new();
    };
    lines
        .iter()
        .filter(|l| l.contains("TOTP secret"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[1].to_owned(),
                (w[0].to_owned(), password.clone(), w[4].to_owned()),
            )
        })
        .collect()
}

/// `switchboard add-user` in `dir`: the new account's TOTP secret.
fn add_user(dir: &Path, username: &str, role: &str, password: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "add-user",
            "--username",
            username,
            "--display-name",
            "Test Admin",
            "--role",
            role,
        ])
        .current_dir(dir)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .env("SWITCHBOARD_NEW_PASSWORD", password)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    text.lines()
        .find_map(|l| l.rsplit_once("): ").map(|(_, s)| s.trim().to_owned()))
        .unwrap_or_else(|| panic!("no secret in {text}"))
}

impl Running {
    /// Starts `switchboard ARGS` in `dir` and waits for it to print its address, collecting
    /// what it prints until `until_line` (a line containing that text) appears.
    fn start(dir: &Path, args: &[&str], until_line: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start switchboard");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading after the caller stops listening: a closed pipe would make the
            // server's next print fail.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("switchboard printed nothing in time");
            let done = line.contains(until_line);
            lines.push(line);
            if done {
                break;
            }
        }
        let first = &lines[0];
        let start = first
            .find("http://")
            .expect("the first line gives the address");
        let base = first[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let accounts = demo_accounts(&lines);
        Running {
            child,
            base,
            lines,
            accounts,
            sessions: Default::default(),
        }
    }

    /// Adds an account to log on with as `role`.
    fn account(mut self, role: &str, username: &str, password: &str, secret: &str) -> Self {
        self.accounts.insert(
            role.to_owned(),
            (username.to_owned(), password.to_owned(), secret.to_owned()),
        );
        self
    }

    /// The session of `role`, logging on (password and the current code) the first time.
    async fn session(&self, role: &str) -> (String, String) {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(role) {
            return s.clone();
        }
        let (user, password, secret) = self.accounts.get(role).expect("an account for the role");
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
        let code = switchboard_accounts::totp::code_at(secret, now).unwrap();
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/session", self.base))
            .json(&json!({"username": user, "password": password, "totp": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "logon as {user}");
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let body: Value = res.json().await.unwrap();
        let s = (cookie, body["csrf_token"].as_str().unwrap().to_owned());
        sessions.insert(role.to_owned(), s.clone());
        s
    }

    /// GET as a user of `role` (`""`: without a session).
    async fn get(&self, role: &str, path: &str) -> (u16, Value) {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.base));
        if !role.is_empty() {
            req = req.header("cookie", self.session(role).await.0);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn post(&self, role: &str, path: &str, body: Value) -> (u16, Value) {
        let (cookie, csrf) = self.session(role).await;
        let res = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait for switchboard")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

#[tokio::test]
async fn demo_seeds_a_fresh_database_and_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    // A configured database, as on a real server, is never where the demo writes.
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "database_url = \"sqlite://real/switchboard.db\"\n",
    )
    .unwrap();
    let demo = Running::start(
        dir.path(),
        &["demo", "--listen", "127.0.0.1:0"],
        "Press Ctrl-C",
    );
    assert!(dir.path().join("data/demo.db").exists());
    assert!(
        !dir.path().join("real").exists(),
        "the demo wrote to the configured database"
    );
    let (s, b) = demo.get("", "/readyz").await;
    assert_eq!((s, b["database"].as_str()), (200, Some("sqlite")));
    let (s, b) = demo.get("", "/api/v1/agencies").await;
    assert_eq!((s, b["code"].as_str()), (401, Some("not_authenticated")));
    let (_, agencies) = demo.get("call_taker", "/api/v1/agencies?limit=500").await;
    assert_eq!(agencies["items"].as_array().unwrap().len(), 36);

    // Every number the tour suggests answers as the tour says.
    let tour: Vec<&String> = demo
        .lines
        .iter()
        .filter(|l| l.contains("/api/v1/callers/"))
        .collect();
    assert!(tour.len() >= 5, "{:?}", demo.lines);
    for line in tour {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap();
        let label = line.rsplit("# ").next().unwrap();
        let path = &path[path.find("/api").unwrap()..];
        let (s, card) = demo.get("call_taker", path).await;
        assert_eq!(s, 200);
        if label == "authorised caller" {
            assert_eq!(card["authorised"], true, "{line}: {card}");
        } else {
            assert_eq!(card["problems"][0]["code"], label, "{line}: {card}");
        }
    }
    // The tour's lookup answers with a strong match once the index is built.
    let lookup = demo
        .lines
        .iter()
        .find(|l| l.contains("/api/v1/lookups"))
        .expect("the tour shows a lookup");
    let body: Value = serde_json::from_str(
        lookup
            .split("-d '")
            .nth(1)
            .and_then(|r| r.strip_suffix('\''))
            .unwrap(),
    )
    .unwrap();
    let mut answer = None;
    for _ in 0..240 {
        let (s, b) = demo
            .post("supervisor", "/api/v1/lookups", body.clone())
            .await;
        if s == 200 {
            answer = Some(b);
            break;
        }
        assert_eq!(
            (s, b["code"].as_str()),
            (503, Some("index_not_ready")),
            "{b}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answer = answer.expect("the index was built within two minutes");
    assert_eq!(answer["candidates"][0]["band"], "strong", "{answer}");
    // The auditor finds the lookup, with its purpose, in the log.
    let (s, found) = demo
        .get("auditor", "/api/v1/audit/entries?action=lookup")
        .await;
    assert_eq!(s, 200, "{found}");
    let last = found["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"]["username"], "sup01", "{last}");
    assert_eq!(last["purpose"]["code"], "C", "{last}");
    assert_eq!(last["result"], "strong", "{last}");
    assert!(demo.stop().success(), "a SIGTERM stops the demo cleanly");
    // After the demo, its whole log verifies (the shutdown signed the last entries).
    let verify = Command::new(BIN)
        .args(["audit", "verify", "--database-url", "sqlite://data/demo.db"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{text}");
    assert!(
        text.contains("verified") && text.contains("0 entries not yet signed"),
        "{text}"
    );
    // The demo database holds the generated record systems too.
    let store = switchboard_store_sqlite::SqliteStore::open(&dir.path().join("data/demo.db"))
        .await
        .unwrap();
    let counts = switchboard_store::Store::count_source_records(&store)
        .await
        .unwrap();
    assert_eq!(counts.len(), 6, "{counts:?}");
    store.close().await;

    // A second demo starts from scratch rather than piling onto the first.
    let again = Running::start(
        dir.path(),
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--agencies",
            "5",
            "--people",
            "0",
        ],
        "Press Ctrl-C",
    );
    let (_, agencies) = again.get("administrator", "/api/v1/agencies").await;
    assert_eq!(agencies["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn demo_calls_arrive_are_identified_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Running::start(
        dir.path(),
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--calls-per-hour",
            "36000",
            "--patience-secs",
            "0.3",
        ],
        "Press Ctrl-C",
    );
    let mut calls = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (s, page) = demo.get("call_taker", "/api/v1/calls?limit=500").await;
        assert_eq!(s, 200);
        calls = page["items"].as_array().unwrap().clone();
        let identified = calls.iter().filter(|c| c["officer_id"].is_string()).count();
        let abandoned = calls.iter().filter(|c| c["state"] == "abandoned").count();
        if calls.len() >= 20 && identified > 0 && abandoned > 0 {
            break;
        }
    }
    assert!(calls.len() >= 20, "{} calls", calls.len());
    for c in &calls {
        // "arriving" is the moment between the call's insert and its queueing (two writes);
        // a listing can catch a call in it, the more so while the demo builds its index.
        // The rest is the call distributor's doing, with simulated call-takers answering.
        assert!(
            [
                "arriving",
                "queued",
                "offered",
                "connected",
                "ended",
                "abandoned"
            ]
            .contains(&c["state"].as_str().unwrap()),
            "{c}"
        );
        if c["state"] == "abandoned" {
            assert!(c["ended_at"].is_string(), "{c}");
        }
        // A call from a registered number names its officer, and that officer has the number.
        if let Some(officer) = c["officer_id"].as_str() {
            let (_, o) = demo
                .get("call_taker", &format!("/api/v1/officers/{officer}"))
                .await;
            assert!(
                o["phones"].as_array().unwrap().contains(&c["ani"]),
                "{c} {o}"
            );
        }
    }
    assert!(calls.iter().any(|c| c["officer_id"].is_string()));
    assert!(calls.iter().any(|c| c["state"] == "abandoned"));
    // The demo's desks are staffed by simulated call-takers and count what happens.
    let (s, queues) = demo.get("supervisor", "/api/v1/acd/queues").await;
    assert_eq!(s, 200, "{queues}");
    let inquiry = &queues[0];
    assert_eq!(inquiry["name"], "inquiry desk");
    assert!(inquiry["staffed"].as_u64().unwrap() >= 24, "{inquiry}");
    // The listing above may include calls still arriving; most have entered the queue.
    assert!(
        inquiry["today"]["entered"].as_u64().unwrap() >= 15,
        "{inquiry}"
    );
    // The abandoned calls seen above were counted by their desk (the inquiry desk or the
    // smaller juvenile-liaison desk).
    let abandoned: u64 = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["today"]["abandoned"].as_u64().unwrap())
        .sum();
    assert!(abandoned > 0, "{queues}");
    let id = calls[0]["id"].as_str().unwrap();
    let (s, detail) = demo.get("call_taker", &format!("/api/v1/calls/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(detail["inquiries"], json!([]));
}

#[tokio::test]
async fn serve_keeps_acknowledged_writes_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // The first administrator comes from the command line (two, for two logons within one
    // TOTP time step).
    let pw = "stonebridge-tamale-77";
    let a = add_user(dir.path(), "admin.a", "administrator", pw);
    let b = add_user(dir.path(), "admin.b", "administrator", pw);
    let first = Running::start(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "http://")
        .account("administrator", "admin.a", pw, &a);
    let (s, body) = first
        .post(
            "administrator",
            "/api/v1/agencies",
            json!({"ori": "VA1230000", "name": "Stonebridge Police Department", "kind": "partner_287g"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    // Kill without warning: an acknowledged write (and its audit entry) must already be on
    // disk.
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = Running::start(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "http://")
        .account("administrator", "admin.b", pw, &b);
    let (_, agencies) = second.get("administrator", "/api/v1/agencies").await;
    assert_eq!(agencies["items"][0]["ori"], "VA1230000");
    assert!(dir.path().join("data/switchboard.db").exists());
    // Commands on the server's machine write to the audit log while the server runs (an
    // account made, a lock broken): the server takes their entries in and goes on.
    add_user(dir.path(), "planner.c", "planner", pw);
    let out = Command::new(BIN)
        .args(["unlock-user", "--username", "admin.a"])
        .current_dir(dir.path())
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("admin.a"), "{text}");
    let (s, body) = second
        .post(
            "administrator",
            "/api/v1/agencies",
            json!({"ori": "VA1240000", "name": "Riverbend Police Department", "kind": "partner_287g"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert!(second.stop().success());

    // The audit log verifies end to end, proves an entry, and catches a changed byte.
    let audit = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("audit")
            .args(args)
            .current_dir(dir.path())
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, text) = audit(&["verify"]);
    assert!(ok, "{text}");
    let (ok, text) = audit(&["prove", "--seq", "3"]);
    assert!(ok && text.contains("VERIFIED"), "{text}");
    let (ok, key) = audit(&["key"]);
    assert!(ok && key.trim().len() == 64, "{key}");
    let (ok, text) = audit(&["verify", "--public-key", &"ab".repeat(32)]);
    assert!(!ok, "another key must not verify: {text}");
    {
        use sqlx::{Connection, Executor};
        let url = format!(
            "sqlite://{}",
            dir.path().join("data/switchboard.db").display()
        );
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        c.execute(
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET entry = replace(entry, 'admin.a', 'admin.c') WHERE action = 'logon'",
        )
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    let (ok, text) = audit(&["verify"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAILED") && text.contains("was changed"),
        "{text}"
    );
}

#[test]
fn config_layers_file_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--log", "warn", "config"])
        .current_dir(dir.path())
        .env("SWITCHBOARD_LISTEN", "127.0.0.1:9100")
        .env(
            "SWITCHBOARD_DATABASE_URL",
            "postgres://sb:hunter2@db.example/sb",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:9100\""), "{text}");
    assert!(text.contains("log = \"warn\""), "{text}");
    assert!(text.contains("postgres://sb:***@db.example/sb"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Every setting in force, not a handful.
    for key in [
        "max_record_age_days = ",
        "audit_origin = ",
        "[records]",
        "snapshot_minutes = ",
        "[admission]",
        "per_address_burst = 400",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }

    std::fs::write(dir.path().join("switchboard.toml"), "listen = 5\n").unwrap();
    let out = Command::new(BIN)
        .arg("config")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a broken configuration file is an error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));

    // An admission bound out of its range is named.
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[admission]\nper_address_per_second = 0\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("config")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("admission.per_address_per_second must be 1 to 1000000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_explains_each_subcommand() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "demo", "migrate", "seed", "config"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from --help:\n{text}"
        );
    }
    let out = Command::new(BIN)
        .args(["demo", "--agencies", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("between 1 and 2000"));
}

fn synth(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("synth")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn synth_writes_a_deterministic_data_set_with_complete_truth() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--people", "2000", "--seed", "5", "--today", "2026-11-21"];
    let out = synth(dir.path(), &[&args[..], &["--out", "a"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2000 people"));
    let out = synth(dir.path(), &[&args[..], &["--out", "b"]].concat());
    assert!(out.status.success());
    for f in [
        "people.csv",
        "truth.csv",
        "identity.csv",
        "immigration_case.csv",
        "custody.csv",
        "court_order.csv",
        "criminal_history.csv",
        "citizenship.csv",
        "class_injunctions.csv",
    ] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert_eq!(a, b, "{f} differs between two runs with one seed");
    }
    let read = |f: &str| std::fs::read_to_string(dir.path().join("a").join(f)).unwrap();
    assert_eq!(read("people.csv").lines().count(), 2001);
    let truth: std::collections::HashSet<String> = read("truth.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_owned())
        .collect();
    let mut records = 0;
    for f in [
        "identity.csv",
        "immigration_case.csv",
        "custody.csv",
        "court_order.csv",
        "criminal_history.csv",
        "citizenship.csv",
    ] {
        for line in read(f).lines().skip(1) {
            let id = line.split(',').next().unwrap();
            assert!(truth.contains(id), "{f}: {id} missing from truth.csv");
            records += 1;
        }
    }
    assert_eq!(records, truth.len(), "truth lists exactly the records");

    let clean = synth(
        dir.path(),
        &[&args[..], &["--out", "c", "--noise-scale", "0"]].concat(),
    );
    assert!(clean.status.success());
    let c_truth = std::fs::read_to_string(dir.path().join("c/truth.csv")).unwrap();
    assert!(
        c_truth.lines().skip(1).all(|l| l.ends_with(',')),
        "no noise recorded with --noise-scale 0"
    );
}

#[test]
fn synth_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--people", "-5"], "--people"),
        (&["--people", "0"], "between 1 and"),
        (&["--minor-share", "1.5"], "minor-share"),
        (&["--twin-share", "-0.1"], "twin-share"),
        (&["--noise", "typo=2"], "between 0 and 1"),
        (&["--noise", "sneeze=0.1"], "unknown kind"),
        (&["--noise-scale", "-1"], "noise-scale"),
        (&["--out", "a-file/sub"], "cannot create the output folder"),
        (&["--agencies", "0"], "--agencies"),
    ];
    for (args, words) in cases {
        let out = synth(dir.path(), args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn synth_into_the_database_matches_the_truth_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--people",
        "1500",
        "--seed",
        "9",
        "--out",
        "csv",
        "--database",
        "--database-url",
        "sqlite://db/records.db",
    ];
    let out = synth(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("and the database"));
    let truth = std::fs::read_to_string(dir.path().join("csv/truth.csv")).unwrap();
    let mut want: std::collections::BTreeMap<String, u64> = Default::default();
    for line in truth.lines().skip(1) {
        *want
            .entry(line.split(',').next().unwrap().to_owned())
            .or_default() += 1;
    }
    let store = switchboard_store_sqlite::SqliteStore::open(&dir.path().join("db/records.db"))
        .await
        .unwrap();
    let got: std::collections::BTreeMap<String, u64> =
        switchboard_store::Store::count_source_records(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|(s, n)| (s.as_str().to_owned(), n))
            .collect();
    assert_eq!(
        got, want,
        "the database holds exactly the records the truth lists"
    );
    assert_eq!(
        switchboard_store::Store::class_injunctions(&store)
            .await
            .unwrap()
            .len(),
        4
    );
    store.close().await;

    // Running it again replaces rather than duplicates.
    let again = synth(dir.path(), &args);
    assert!(again.status.success());
    let store = switchboard_store_sqlite::SqliteStore::open(&dir.path().join("db/records.db"))
        .await
        .unwrap();
    let total: u64 = switchboard_store::Store::count_source_records(&store)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, want.values().sum::<u64>());
    store.close().await;
}

fn run_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MODEL: &str = r#"
id_column = "record_id"
[[field]]
name = "given_name"
kind = "name"
swap_with = "family_name"
[[field]]
name = "family_name"
kind = "name"
[[field]]
name = "dob"
kind = "date"
[[field]]
name = "a_number"
kind = "identifier"
format = "a_number"
"#;

#[test]
fn link_dedupe_and_eval_work_on_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = synth(d, &["--people", "3000", "--seed", "8", "--out", "s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(d.join("m.toml"), MODEL).unwrap();
    let (ok, stdout, stderr) = run_in(
        d,
        &[
            "link",
            "--model",
            "m.toml",
            "--left",
            "s/identity.csv",
            "--right",
            "s/immigration_case.csv",
            "--out",
            "pairs.csv",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("threshold for the strong band, chosen without labels"),
        "{stdout}"
    );
    // The same files and model always give the same pairs file, byte for byte.
    let (ok, _, stderr) = run_in(
        d,
        &[
            "link",
            "--model",
            "m.toml",
            "--left",
            "s/identity.csv",
            "--right",
            "s/immigration_case.csv",
            "--out",
            "again.csv",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read(d.join("pairs.csv")).unwrap(),
        std::fs::read(d.join("again.csv")).unwrap()
    );
    let header = std::fs::read_to_string(d.join("pairs.csv")).unwrap();
    assert!(header.starts_with(
        "left_id,right_id,probability,match_weight,band,given_name_level,family_name_level,dob_level,a_number_level"
    ));
    let (ok, stdout, stderr) = run_in(
        d,
        &[
            "eval",
            "--truth",
            "s/truth.csv",
            "--pairs",
            "pairs.csv",
            "--left",
            "s/identity.csv",
            "--right",
            "s/immigration_case.csv",
        ],
    );
    assert!(ok, "{stderr}");
    let number = |label: &str| -> f64 {
        stdout
            .split_whitespace()
            .skip_while(|w| *w != label)
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in {stdout}"))
    };
    assert!(number("precision") >= 0.999, "{stdout}");
    assert!(number("recall") >= 0.9, "{stdout}");
    assert!(stdout.contains("false negatives"), "{stdout}");

    // Dedupe of one file: the identity file holds people with two A-files.
    let (ok, stdout, stderr) = run_in(
        d,
        &[
            "dedupe",
            "--model",
            "m.toml",
            "--input",
            "s/identity.csv",
            "--out",
            "dd.csv",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("wrote"), "{stdout}");
    let (ok, stdout, stderr) = run_in(
        d,
        &[
            "eval",
            "--truth",
            "s/truth.csv",
            "--pairs",
            "dd.csv",
            "--input",
            "s/identity.csv",
            "--min-probability",
            "0.5",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("probability at least 0.5"), "{stdout}");
}

#[test]
fn link_refuses_bad_models_and_files_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.toml"), MODEL).unwrap();
    std::fs::write(
        d.join("a.csv"),
        "record_id,given_name,family_name,dob,a_number\n1,Ana,Ruiz,1990-01-02,A123456789\n",
    )
    .unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (file to write, its content, what the error must say)
        ("b.csv", "", "is empty"),
        (
            "b.csv",
            "record_id,given_name,family_name,dob,a_number\n",
            "has no rows",
        ),
        (
            "b.csv",
            "record_id,given_name,family_name,dob,a_number\n1,Ana,Ruiz\n",
            "line 2: 3 fields where the header has 5",
        ),
        (
            "b.csv",
            "record_id,given,family_name,dob,a_number\n1,Ana,Ruiz,1990-01-02,1\n",
            "column \"given_name\" (field \"given_name\") is not in the input",
        ),
        (
            "b.csv",
            "record_id,record_id,family_name,dob,a_number\n1,1,Ruiz,1990-01-02,1\n",
            "appears twice",
        ),
    ];
    for (file, content, want) in cases {
        std::fs::write(d.join(file), content).unwrap();
        let (ok, _, stderr) = run_in(
            d,
            &[
                "link", "--model", "m.toml", "--left", "a.csv", "--right", file, "--out", "p.csv",
            ],
        );
        assert!(!ok && stderr.contains(want), "{content:?}: {stderr}");
    }
    for (model, want) in [
        (
            "[[field]]\nname = \"x\"\nkind = \"name\"\ncolum = \"y\"\n",
            "unknown field `colum`",
        ),
        (
            "[[field]]\nname = \"x\"\nkind = \"nickname\"\n",
            "unknown variant `nickname`",
        ),
        ("field = []\n", "the model has no fields"),
        ("not toml at all", "is not a valid model"),
    ] {
        std::fs::write(d.join("bad.toml"), model).unwrap();
        let (ok, _, stderr) = run_in(
            d,
            &[
                "link", "--model", "bad.toml", "--left", "a.csv", "--right", "a.csv", "--out",
                "p.csv",
            ],
        );
        assert!(!ok && stderr.contains(want), "{model:?}: {stderr}");
    }
    let (ok, _, stderr) = run_in(
        d,
        &[
            "dedupe", "--model", "m.toml", "--input", "a.csv", "--out", "p.csv",
        ],
    );
    assert!(!ok && stderr.contains("two rows or more"), "{stderr}");
    let (ok, _, stderr) = run_in(
        d,
        &[
            "eval",
            "--truth",
            "a.csv",
            "--pairs",
            "a.csv",
            "--min-probability",
            "1.5",
        ],
    );
    assert!(!ok && stderr.contains("between 0 and 1"), "{stderr}");
    let (ok, _, stderr) = run_in(d, &["eval", "--truth", "a.csv", "--pairs", "a.csv"]);
    assert!(
        !ok && stderr.contains("no column \"person_id\""),
        "{stderr}"
    );
}

#[test]
fn simulate_reports_a_day_close_to_erlang_c() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run_in(
        dir.path(),
        &[
            "simulate",
            "--calls-per-day",
            "6500",
            "--agents",
            "28",
            "--days",
            "3",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("3 day(s)"), "{out}");
    let total = out.lines().find(|l| l.starts_with("total")).unwrap();
    assert!(total.contains('%'), "{total}");
    assert!(out.contains("daily service level"), "{out}");
    for bad in [
        &["simulate", "--days", "0"][..],
        &["simulate", "--calls-per-day", "-3"][..],
        &["simulate", "--agents", "1,2,3"][..],
        &["simulate", "--interval", "7"][..],
    ] {
        let (ok, _, err) = run_in(dir.path(), bad);
        assert!(!ok, "{bad:?} should fail");
        assert!(!err.is_empty(), "{bad:?} says why");
    }
}

#[test]
fn staffing_prints_the_requirement_a_schedule_and_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run_in(
        dir.path(),
        &[
            "staffing",
            "--calls-per-day",
            "6500",
            "--shrinkage",
            "0",
            "--schedule",
            "--simulate",
            "2",
            "--csv",
            "plan.csv",
        ],
    );
    assert!(ok, "{err}");
    // The reference interval: 22.57 Erlangs need 28 agents for 80/20 (86.1%).
    assert!(
        out.lines().any(|l| l.starts_with("00:00")
            && l.contains("22.57")
            && l.contains(" 28 ")
            && l.contains("86.1%")),
        "{out}"
    );
    assert!(out.contains("efficient"), "{out}");
    assert!(out.contains("simulated over 2 day(s)"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("plan.csv")).unwrap();
    assert_eq!(csv.lines().count(), 49);
    assert!(csv.starts_with("time,open,calls"));
    // The juvenile-liaison desk: its hours only, Erlang A.
    let (ok, out, err) = run_in(
        dir.path(),
        &[
            "staffing",
            "--calls-per-day",
            "180",
            "--aht",
            "600",
            "--hours",
            "08:00-17:00",
            "--patience",
            "180",
            "--schedule",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("Erlang A"), "{out}");
    assert!(out.contains("07:30  closed"), "{out}");
    for (args, says) in [
        (&["staffing"][..], "--calls-per-day"),
        (&["staffing", "--calls-per-day", "0"][..], "positive"),
        (
            &[
                "staffing",
                "--calls-per-day",
                "100",
                "--service-level",
                "1.5",
            ][..],
            "share",
        ),
        (
            &["staffing", "--calls-per-day", "100", "--shrinkage", "1"][..],
            "shrinkage",
        ),
        (
            &["staffing", "--calls-per-day", "100", "--aht=-1"][..],
            "handle time",
        ),
        (
            &[
                "staffing",
                "--calls-per-day",
                "100",
                "--hours",
                "17:00-08:00",
            ][..],
            "hours",
        ),
        (
            &[
                "staffing",
                "--calls-per-day",
                "100",
                "--abandonment",
                "0.05",
            ][..],
            "patience",
        ),
    ] {
        let (ok, _, err) = run_in(dir.path(), args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn staffing_forecasts_from_the_stored_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("empty.db").display());
    let (ok, _, err) = run_in(
        dir.path(),
        &["--database-url", &db, "staffing", "--from-history"],
    );
    assert!(!ok);
    assert!(err.contains("no call history"), "{err}");
}

/// `n` identity records as JSON lines, ids `IDN-BURST-<first>…`, family name `family`.
fn burst_file(dir: &Path, name: &str, first: usize, n: usize, family: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for i in first..first + n {
        let r = json!({
            "system": "identity", "record_id": format!("IDN-BURST-{i:06}"),
            "a_number": format!("{:09}", 300_000_000 + i), "fin": "",
            "family_name": family, "given_name": format!("Burst{}", i % 977), "aliases": "",
            "dob": "1980-02-03", "sex": "F", "country_of_birth": "MX", "place_of_birth": null,
            "updated_on": "2026-11-01"
        });
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn import(dir: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["records", "import", "--input"])
        .arg(file)
        .current_dir(dir)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_server_stopped_during_a_burst_of_imports_catches_up_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pw = "stonebridge-tamale-77";
    let a = add_user(dir.path(), "admin.a", "administrator", pw);
    let b = add_user(dir.path(), "admin.b", "administrator", pw);
    let first = Running::start(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "http://")
        .account("administrator", "admin.a", pw, &a);
    // Ready (an empty index) and its snapshot written.
    let started = std::time::Instant::now();
    loop {
        let (s, st) = first.get("administrator", "/api/v1/records/status").await;
        if s == 200 && st["index"]["snapshot_position"].is_number() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A bad file imports nothing and names the line and the field.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"system\": \"identity\", \"record_id\": \"IDN X\"}}\n",
            json!({"system": "court_order", "record_id": "ORD-1"})
        ),
    )
    .unwrap();
    let (ok, text) = import(dir.path(), &bad);
    assert!(!ok, "{text}");
    assert!(text.contains("bad.jsonl:1:"), "{text}");
    assert!(text.contains("bad.jsonl:2:"), "{text}");
    assert!(text.contains("nothing was imported"), "{text}");

    // A burst of imports (4,000 new records, then 1,500 of them again, changed), and the
    // server killed in the middle of it.
    let one = burst_file(dir.path(), "one.jsonl", 0, 4_000, "Oldname");
    let two = burst_file(dir.path(), "two.jsonl", 1_000, 1_500, "Newname");
    let d = dir.path().to_owned();
    let burst = std::thread::spawn(move || {
        let r1 = import(&d, &one);
        let r2 = import(&d, &two);
        (r1, r2)
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let ((ok1, t1), (ok2, t2)) = burst.join().unwrap();
    assert!(ok1 && ok2, "{t1}\n{t2}");
    assert!(t1.contains("4000 new"), "{t1}");
    assert!(t2.contains("1500 updated"), "{t2}");

    // The restarted server starts from its snapshot and catches up: every record once.
    let second = Running::start(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "http://")
        .account("administrator", "admin.b", pw, &b);
    let started = std::time::Instant::now();
    let st = loop {
        let (s, st) = second.get("administrator", "/api/v1/records/status").await;
        if s == 200 && st["index_position"] == st["position"] {
            break st;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(st["index_records"], 4_000, "{st}");
    assert_eq!(st["position"], 5_500, "{st}");
    assert_eq!(st["index"]["started_from"], "snapshot", "{st}");
    assert!(second.stop().success());
}

#[test]
fn a_log_with_entries_never_gets_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    add_user(
        dir.path(),
        "admin.k",
        "administrator",
        "stonebridge-tamale-77",
    );
    let key = dir.path().join("data/audit.key");
    assert!(key.exists());
    std::fs::rename(&key, dir.path().join("audit.key.away")).unwrap();
    let (ok, _, err) = run_in(dir.path(), &["unlock-user", "--username", "admin.k"]);
    assert!(!ok);
    assert!(
        err.contains("signing key file") && err.contains("is missing"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made for a log with entries");
}

#[test]
fn an_empty_database_file_is_refused_not_started_as_a_new_center() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/switchboard.db"), b"").unwrap();
    let (ok, _, err) = run_in(dir.path(), &["migrate"]);
    assert!(!ok);
    assert!(err.contains("is empty (0 bytes)"), "{err}");
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `8m`) at `at`; `None` when this machine does not let the
    /// test mount one (not root), which fails the run under CI.
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs (root)"
            );
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` until a write fails for want of space.
fn fill(path: &Path) -> std::fs::File {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    for chunk in [65_536, 512] {
        let block = vec![0u8; chunk];
        while f.write_all(&block).is_ok() {}
    }
    f
}

#[tokio::test]
async fn a_full_disk_is_refused_quickly_and_once_freed_needs_no_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The database's folder on a small file system of its own.
    let Some(_disk) = Tmpfs::mount(&dir.path().join("data"), "8m") else {
        return;
    };
    let pw = "stonebridge-tamale-77";
    let secret = add_user(dir.path(), "admin.d", "administrator", pw);
    let server = Running::start(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "http://")
        .account("administrator", "admin.d", pw, &secret);
    let agency = |n: u32| json!({"ori": format!("VA{n:07}"), "name": format!("Agency {n}"), "kind": "partner_287g"});
    let (s, body) = server
        .post("administrator", "/api/v1/agencies", agency(1))
        .await;
    assert_eq!(s, 201, "{body}");
    let readyz = || async {
        let res = reqwest::get(format!("{}/readyz", server.base))
            .await
            .unwrap();
        res.status().as_u16()
    };
    assert_eq!(readyz().await, 200);

    // Full: every write is refused at once with the JSON shape, never left hanging, and
    // /readyz says so. Several refusals, so that connections whose commit failed go back to
    // the pool and are used again.
    let filler = dir.path().join("data/filler");
    let file = fill(&filler);
    let mut refused = 0;
    for n in 2..60 {
        let asked = std::time::Instant::now();
        let (s, body) = server
            .post("administrator", "/api/v1/agencies", agency(n))
            .await;
        assert!(asked.elapsed() < Duration::from_secs(5), "{body}");
        if s == 503 {
            assert!(body["code"].is_string(), "{body}");
            refused += 1;
            if refused == 12 {
                break;
            }
        }
    }
    assert_eq!(refused, 12, "writes to a full disk are refused");
    // /readyz probes a write at most once a second; a probe can still find a page freed
    // inside the file (a mark removed, a transaction rolled back), so it is asked a few times.
    let mut not_ready = false;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        if readyz().await == 503 {
            not_ready = true;
            break;
        }
        let _ = server
            .post("administrator", "/api/v1/agencies", agency(70))
            .await;
    }
    assert!(not_ready, "a full disk is not ready");

    // Freed: writes succeed again within seconds, with no restart, and quickly.
    drop(file);
    std::fs::remove_file(&filler).unwrap();
    let freed = std::time::Instant::now();
    let mut n = 100;
    loop {
        let (s, body) = server
            .post("administrator", "/api/v1/agencies", agency(n))
            .await;
        n += 1;
        if s == 201 {
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(15),
            "still refused after the disk was freed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..10 {
        let asked = std::time::Instant::now();
        let (s, body) = server
            .post("administrator", "/api/v1/agencies", agency(n))
            .await;
        n += 1;
        assert_eq!(s, 201, "{body}");
        assert!(asked.elapsed() < Duration::from_secs(2));
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(readyz().await, 200);
    let (_, list) = server
        .get("administrator", "/api/v1/agencies?limit=100")
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 12, "{list}");
    assert!(server.stop().success());
    let (ok, text, _) = run_in(dir.path(), &["audit", "verify"]);
    assert!(ok, "{text}");
}

#[test]
fn sealed_second_factors_never_get_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = add_user(
        dir.path(),
        "admin.t",
        "administrator",
        "stonebridge-tamale-77",
    );
    let key = dir.path().join("data/totp.key");
    assert!(key.exists(), "the first account made the sealing key");
    // The seed is sealed in the database, never stored as it was shown.
    let db = std::fs::read(dir.path().join("data/switchboard.db")).unwrap();
    let wal = std::fs::read(dir.path().join("data/switchboard.db-wal")).unwrap_or_default();
    let text = String::from_utf8_lossy(&db).into_owned() + &String::from_utf8_lossy(&wal);
    assert!(text.contains("sealed1:"), "no sealed seed in the database");
    assert!(
        !text.contains(&secret),
        "the seed is in the database as it was shown"
    );
    std::fs::rename(&key, dir.path().join("totp.key.away")).unwrap();
    let out = Command::new(BIN)
        .args([
            "add-user",
            "--username",
            "admin.u",
            "--display-name",
            "Test Admin",
            "--role",
            "administrator",
        ])
        .current_dir(dir.path())
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .env("SWITCHBOARD_NEW_PASSWORD", "stonebridge-tamale-77")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TOTP key file") && err.contains("is missing"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made for sealed seeds");
}
