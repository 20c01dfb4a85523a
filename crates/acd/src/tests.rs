use std::collections::HashSet;

use jiff::civil::{Time, date, time};
use proptest::prelude::*;

use super::*;
use crate::config::{MINUTE, SECOND};
use crate::sim::{Dist, SimConfig, SimError, simulate};

const INQUIRY: QueueId = QueueId(1);
const JUVENILE: QueueId = QueueId(2);
const GENERAL: SkillId = SkillId(1);
const CHILDREN: SkillId = SkillId(2);
/// Monday 2026-11-23, 00:00 in New York (EST, UTC−5).
const MONDAY: Millis = 1_795_410_000_000;

fn local(d: jiff::civil::Date, t: Time) -> Millis {
    d.to_datetime(t)
        .in_tz("America/New_York")
        .unwrap()
        .timestamp()
        .as_millisecond() as Millis
}

fn agent(id: u64, skills: Vec<(SkillId, u8)>, after_call: Millis) -> AgentConfig {
    AgentConfig {
        id: AgentId(id),
        name: format!("agent {id}"),
        skills,
        after_call_limit: after_call,
        user: None,
    }
}

fn config() -> Config {
    let mut juvenile = QueueConfig::new(JUVENILE, "juvenile liaison", CHILDREN);
    juvenile.priority = 5;
    juvenile.max_wait = Some(120_000);
    juvenile.overflow_to = Some(INQUIRY);
    let mut inquiry = QueueConfig::new(INQUIRY, "inquiry desk", GENERAL);
    inquiry.priority = 1;
    Config {
        queues: vec![inquiry, juvenile],
        agents: vec![
            agent(1, vec![(GENERAL, 5)], 30_000),
            agent(2, vec![(GENERAL, 3), (CHILDREN, 9)], 30_000),
        ],
        ..Config::default()
    }
}

fn send(acd: &mut Acd, at: Millis, event: Event) -> Vec<Command> {
    acd.handle(at, event).unwrap()
}

fn login(acd: &mut Acd, at: Millis, agent: u64) -> Vec<Command> {
    state(acd, at, agent, Requested::LogIn, false)
}

fn state(acd: &mut Acd, at: Millis, agent: u64, to: Requested, forced: bool) -> Vec<Command> {
    send(
        acd,
        at,
        Event::AgentStateChanged {
            agent: AgentId(agent),
            to,
            forced,
        },
    )
}

fn arrive(acd: &mut Acd, at: Millis, call: u64, queue: QueueId, priority: u8) -> Vec<Command> {
    send(
        acd,
        at,
        Event::CallArrived {
            call: CallId(call),
            queue,
            priority,
        },
    )
}

fn answer(acd: &mut Acd, at: Millis, agent: u64, call: u64) -> Vec<Command> {
    send(
        acd,
        at,
        Event::AgentAnswered {
            agent: AgentId(agent),
            call: CallId(call),
        },
    )
}

fn end(acd: &mut Acd, at: Millis, call: u64) -> Vec<Command> {
    send(acd, at, Event::CallEnded { call: CallId(call) })
}

/// The commands for callers and phones, without the state notices.
fn actions(out: &[Command]) -> Vec<Command> {
    out.iter()
        .filter(|c| !matches!(c, Command::AgentStatus { .. } | Command::QueueStatus { .. }))
        .cloned()
        .collect()
}

fn offer(call: u64, agent: u64, queue: QueueId) -> Command {
    Command::OfferCall {
        call: CallId(call),
        agent: AgentId(agent),
        queue,
        callback: false,
    }
}

fn state_of(acd: &Acd, agent: u64) -> &'static str {
    acd.agent_state(AgentId(agent)).unwrap().name()
}

#[test]
fn a_call_is_offered_to_the_longest_idle_agent_with_the_skill() {
    let mut acd = Acd::new(config()).unwrap();
    let out = login(&mut acd, MONDAY, 2);
    assert_eq!(
        out,
        vec![Command::AgentStatus {
            agent: AgentId(2),
            state: AgentState::Available { since: MONDAY },
            pending: None
        }],
        "every state change is announced"
    );
    login(&mut acd, MONDAY + 10, 1);
    // Both can take the inquiry desk; agent 2 has waited longer.
    let out = arrive(&mut acd, MONDAY + 20, 7, INQUIRY, 0);
    assert_eq!(actions(&out), vec![offer(7, 2, INQUIRY)]);
    assert_eq!(state_of(&acd, 2), "offered");
    // Only agent 2 has the juvenile skill, and it is busy: the call waits.
    let out = arrive(&mut acd, MONDAY + 30, 8, JUVENILE, 0);
    assert!(actions(&out).is_empty());
    assert_eq!(acd.waiting(JUVENILE), vec![CallId(8)]);
    assert_eq!(acd.call(CallId(8)).unwrap().position, Some(1));
}

#[test]
fn the_most_skilled_selection_picks_proficiency_before_idle_time() {
    let mut cfg = config();
    cfg.queues[0].selection = Selection::MostSkilled;
    let mut acd = Acd::new(cfg).unwrap();
    login(&mut acd, MONDAY, 2); // proficiency 3, idle longest
    login(&mut acd, MONDAY + 10, 1); // proficiency 5
    let out = arrive(&mut acd, MONDAY + 20, 1, INQUIRY, 0);
    assert_eq!(actions(&out), vec![offer(1, 1, INQUIRY)]);
}

#[test]
fn ring_timeout_requeues_in_place_and_the_agent_is_not_ready() {
    let mut acd = Acd::new(config()).unwrap();
    let t = MONDAY;
    login(&mut acd, t, 1);
    arrive(&mut acd, t, 1, INQUIRY, 0);
    arrive(&mut acd, t + 1, 2, INQUIRY, 0);
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2)]);
    assert_eq!(acd.next_deadline(), Some(t + 15_000));
    let out = send(&mut acd, t + 15_000, Event::Tick);
    assert_eq!(
        actions(&out),
        vec![Command::CancelOffer {
            call: CallId(1),
            agent: AgentId(1)
        }]
    );
    // Call 1 keeps its place ahead of call 2; the agent who did not answer is not ready.
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(1), CallId(2)]);
    assert_eq!(
        acd.agent_state(AgentId(1)),
        Some(&AgentState::Break {
            reason: "no answer".into(),
            since: t + 15_000
        })
    );
    let out = state(&mut acd, t + 20_000, 1, Requested::Available, false);
    assert_eq!(actions(&out), vec![offer(1, 1, INQUIRY)]);
    answer(&mut acd, t + 21_000, 1, 1);
    assert_eq!(state_of(&acd, 1), "on_call");
    let out = end(&mut acd, t + 50_000, 1);
    assert_eq!(
        actions(&out),
        vec![Command::Close {
            call: CallId(1),
            reason: CloseReason::Completed
        }]
    );
    assert_eq!(state_of(&acd, 1), "after_call_work");
    // After-call work ends on its own at the limit, and the next call is offered.
    assert_eq!(acd.next_deadline(), Some(t + 80_000));
    let out = send(&mut acd, t + 80_000, Event::Tick);
    assert_eq!(actions(&out), vec![offer(2, 1, INQUIRY)]);
}

#[test]
fn a_declined_call_goes_back_and_the_next_agent_gets_it() {
    let mut acd = Acd::new(config()).unwrap();
    login(&mut acd, MONDAY, 1);
    login(&mut acd, MONDAY + 1, 2);
    arrive(&mut acd, MONDAY + 2, 1, INQUIRY, 0);
    let out = send(
        &mut acd,
        MONDAY + 3,
        Event::AgentRejected {
            agent: AgentId(1),
            call: CallId(1),
        },
    );
    assert_eq!(
        actions(&out),
        vec![
            Command::CancelOffer {
                call: CallId(1),
                agent: AgentId(1)
            },
            offer(1, 2, INQUIRY)
        ]
    );
    assert_eq!(state_of(&acd, 1), "break");
}

#[test]
fn priority_and_overflow() {
    let mut acd = Acd::new(config()).unwrap();
    let t = MONDAY;
    arrive(&mut acd, t, 1, INQUIRY, 0);
    arrive(&mut acd, t + 1, 2, INQUIRY, 9);
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2), CallId(1)]);
    arrive(&mut acd, t + 2, 3, JUVENILE, 0);
    let out = send(&mut acd, t + 120_002, Event::Tick);
    assert_eq!(
        actions(&out),
        vec![Command::Overflow {
            call: CallId(3),
            from: JUVENILE,
            to: INQUIRY,
            reason: OverflowReason::MaxWait
        }]
    );
    // The overflowed call joins the inquiry line in its arrival order.
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2), CallId(1), CallId(3)]);
    // The higher-priority queue's calls come first for an agent who has both skills.
    arrive(&mut acd, t + 120_003, 4, JUVENILE, 0);
    let out = login(&mut acd, t + 120_004, 2);
    assert_eq!(actions(&out), vec![offer(4, 2, JUVENILE)]);
    // Within a queue, call priority, then arrival.
    let out = login(&mut acd, t + 120_005, 1);
    assert_eq!(actions(&out), vec![offer(2, 1, INQUIRY)]);
}

#[test]
fn hang_ups_and_refusals_leave_nothing_behind() {
    let mut acd = Acd::new(config()).unwrap();
    let t = MONDAY;
    arrive(&mut acd, t, 1, INQUIRY, 0);
    let out = send(&mut acd, t + 5, Event::CallerHungUp { call: CallId(1) });
    assert_eq!(
        out,
        vec![Command::Close {
            call: CallId(1),
            reason: CloseReason::Abandoned
        }]
    );
    assert!(acd.waiting(INQUIRY).is_empty());
    let refused = acd
        .handle(t + 6, Event::CallerHungUp { call: CallId(1) })
        .unwrap_err();
    assert_eq!(refused.error, EventError::UnknownCall(CallId(1)));
    assert_eq!(
        acd.handle(t + 1, Event::Tick).unwrap_err().error,
        EventError::TimeWentBack {
            now: t + 1,
            last: t + 6
        }
    );
    let out = arrive(&mut acd, t + 7, 9, QueueId(99), 0);
    assert_eq!(
        out,
        vec![Command::Close {
            call: CallId(9),
            reason: CloseReason::NoSuchQueue
        }]
    );
    let refused = acd
        .handle(
            t + 8,
            Event::AgentStateChanged {
                agent: AgentId(1),
                to: Requested::Break {
                    reason: String::new(),
                },
                forced: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.error, EventError::BadReason);
    let mut bad = config();
    bad.queues[1].overflow_to = Some(QueueId(42));
    assert!(Acd::new(bad).is_err());
    let mut bad = config();
    bad.time_zone = "Mars/Olympus_Mons".into();
    assert_eq!(
        Acd::new(bad).unwrap_err(),
        ConfigError::TimeZone("Mars/Olympus_Mons".into())
    );
}

#[test]
fn a_refused_event_still_returns_what_fell_due_before_it() {
    let mut acd = Acd::new(config()).unwrap();
    login(&mut acd, MONDAY, 1);
    arrive(&mut acd, MONDAY, 1, INQUIRY, 0);
    // The ring timed out at +15 s; an answer at +20 s is too late and refused, but the timeout
    // itself happened and its commands are handed over.
    let refused = acd
        .handle(
            MONDAY + 20_000,
            Event::AgentAnswered {
                agent: AgentId(1),
                call: CallId(1),
            },
        )
        .unwrap_err();
    assert_eq!(
        refused.error,
        EventError::NotOffered {
            agent: AgentId(1),
            call: CallId(1)
        }
    );
    assert_eq!(
        actions(&refused.commands),
        vec![Command::CancelOffer {
            call: CallId(1),
            agent: AgentId(1)
        }]
    );
}

#[test]
fn a_busy_agents_request_waits_for_the_call_to_end_unless_forced() {
    let mut acd = Acd::new(config()).unwrap();
    let t = MONDAY;
    login(&mut acd, t, 1);
    arrive(&mut acd, t, 1, INQUIRY, 0);
    answer(&mut acd, t + 1_000, 1, 1);
    let reason = Requested::Break {
        reason: "training".into(),
    };
    let out = state(&mut acd, t + 2_000, 1, reason.clone(), false);
    assert_eq!(
        out,
        vec![Command::AgentStatus {
            agent: AgentId(1),
            state: AgentState::OnCall {
                call: CallId(1),
                since: t + 1_000
            },
            pending: Some(reason.clone())
        }]
    );
    end(&mut acd, t + 60_000, 1);
    assert_eq!(state_of(&acd, 1), "after_call_work");
    send(&mut acd, t + 90_000, Event::Tick);
    assert_eq!(
        acd.agent_state(AgentId(1)),
        Some(&AgentState::Break {
            reason: "training".into(),
            since: t + 90_000
        })
    );
    // A supervisor forcing a log-out mid-call ends the call.
    state(&mut acd, t + 91_000, 1, Requested::Available, false);
    arrive(&mut acd, t + 92_000, 2, INQUIRY, 0);
    answer(&mut acd, t + 93_000, 1, 2);
    let out = state(&mut acd, t + 94_000, 1, Requested::LogOut, true);
    assert_eq!(
        actions(&out),
        vec![Command::Close {
            call: CallId(2),
            reason: CloseReason::Forced
        }]
    );
    assert_eq!(state_of(&acd, 1), "logged_out");
    assert_eq!(acd.call_count(), 0);
}

/// The juvenile-liaison desk, weekdays 08:00–17:00 New York time, with a holiday.
fn juvenile_hours(after_hours: AfterHours) -> Config {
    let mut cfg = config();
    cfg.queues[1].hours = Hours::weekdays(time(8, 0, 0, 0), time(17, 0, 0, 0));
    cfg.queues[1].hours.holidays = vec![date(2026, 11, 26)];
    cfg.queues[1].after_hours = after_hours;
    cfg.queues[1].max_wait = None;
    cfg
}

#[test]
fn hours_follow_local_time_holidays_and_daylight_saving() {
    let hours = Hours::weekdays(time(8, 0, 0, 0), time(17, 0, 0, 0));
    let tz = jiff::tz::db().get("America/New_York").unwrap();
    let mon = date(2026, 11, 23);
    assert!(!hours.is_open(&tz, local(mon, time(7, 59, 59, 0))));
    assert!(hours.is_open(&tz, local(mon, time(8, 0, 0, 0))));
    assert!(!hours.is_open(&tz, local(mon, time(17, 0, 0, 0))));
    assert_eq!(
        hours.next_change(&tz, local(mon, time(12, 0, 0, 0))),
        Some(local(mon, time(17, 0, 0, 0)))
    );
    // Friday evening: next opening is Monday.
    assert_eq!(
        hours.next_change(&tz, local(date(2026, 11, 27), time(18, 0, 0, 0))),
        Some(local(date(2026, 11, 30), time(8, 0, 0, 0)))
    );
    // 08:00 is 13:00 UTC in winter and 12:00 UTC in summer.
    let before = local(date(2026, 3, 6), time(8, 0, 0, 0));
    let after = local(date(2026, 3, 9), time(8, 0, 0, 0));
    assert_eq!(before % 86_400_000, 13 * 3_600_000);
    assert_eq!(after % 86_400_000, 12 * 3_600_000);
    assert_eq!(
        hours.next_change(&tz, local(date(2026, 3, 6), time(18, 0, 0, 0))),
        Some(after)
    );
    let mut holiday = hours.clone();
    holiday.holidays.push(date(2026, 11, 26));
    assert!(!holiday.is_open(&tz, local(date(2026, 11, 26), time(10, 0, 0, 0))));
    assert_eq!(
        holiday.next_change(&tz, local(date(2026, 11, 25), time(18, 0, 0, 0))),
        Some(local(date(2026, 11, 27), time(8, 0, 0, 0)))
    );
    // Around the clock with a holiday: closed that whole day.
    let always = Hours {
        weekly: Vec::new(),
        holidays: vec![date(2026, 12, 25)],
    };
    assert!(always.is_open(&tz, local(date(2026, 12, 24), time(23, 0, 0, 0))));
    assert_eq!(
        always.next_change(&tz, local(date(2026, 12, 24), time(23, 0, 0, 0))),
        Some(local(date(2026, 12, 25), Time::midnight()))
    );
    assert_eq!(
        always.next_change(&tz, local(date(2026, 12, 25), time(1, 0, 0, 0))),
        Some(local(date(2026, 12, 26), Time::midnight()))
    );
}

#[test]
fn after_hours_calls_become_callbacks_offered_when_the_desk_opens() {
    let mut acd = Acd::new(juvenile_hours(AfterHours::Callback)).unwrap();
    let mon = date(2026, 11, 23);
    let evening = local(mon, time(18, 0, 0, 0));
    login(&mut acd, evening, 2);
    assert_eq!(acd.is_open(JUVENILE), Some(false));
    let out = arrive(&mut acd, evening + 1, 1, JUVENILE, 0);
    assert_eq!(
        actions(&out),
        vec![Command::SendToCallback { call: CallId(1) }]
    );
    // The liaison is free, but the desk is closed: nothing is offered.
    assert_eq!(acd.waiting(JUVENILE), vec![CallId(1)]);
    assert_eq!(state_of(&acd, 2), "available");
    acd.check_invariants().unwrap();
    let opening = local(date(2026, 11, 24), time(8, 0, 0, 0));
    assert_eq!(acd.next_deadline(), Some(opening));
    let out = send(&mut acd, opening, Event::Tick);
    assert_eq!(
        out.iter()
            .filter(|c| matches!(c, Command::QueueStatus { .. } | Command::OfferCall { .. }))
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            Command::QueueStatus {
                queue: JUVENILE,
                open: true
            },
            Command::OfferCall {
                call: CallId(1),
                agent: AgentId(2),
                queue: JUVENILE,
                callback: true
            }
        ]
    );
    let today = acd.today(Scope::Queue(JUVENILE), opening);
    assert_eq!(today.callbacks, 0, "the callback was counted yesterday");
    let yesterday = acd.totals(
        Scope::Queue(JUVENILE),
        evening - 3_600_000,
        opening,
        opening,
    );
    assert_eq!((yesterday.entered, yesterday.callbacks), (1, 1));
    assert_eq!(yesterday.offered(), 0, "callbacks are not offered calls");
}

#[test]
fn after_hours_calls_can_go_to_the_24_7_desk_or_voicemail() {
    let evening = local(date(2026, 11, 23), time(18, 0, 0, 0));
    let mut acd = Acd::new(juvenile_hours(AfterHours::Redirect(INQUIRY))).unwrap();
    login(&mut acd, evening, 1);
    let out = arrive(&mut acd, evening + 1, 1, JUVENILE, 0);
    assert_eq!(
        actions(&out),
        vec![
            Command::Overflow {
                call: CallId(1),
                from: JUVENILE,
                to: INQUIRY,
                reason: OverflowReason::AfterHours
            },
            offer(1, 1, INQUIRY)
        ]
    );
    let mut acd = Acd::new(juvenile_hours(AfterHours::Voicemail)).unwrap();
    let holiday = local(date(2026, 11, 26), time(10, 0, 0, 0));
    let out = arrive(&mut acd, holiday, 1, JUVENILE, 0);
    assert_eq!(
        actions(&out),
        vec![
            Command::SendToVoicemail { call: CallId(1) },
            Command::Close {
                call: CallId(1),
                reason: CloseReason::Voicemail
            }
        ]
    );
    assert_eq!(acd.call_count(), 0);
}

#[test]
fn callers_still_waiting_at_closing_get_the_after_hours_rule() {
    let mon = date(2026, 11, 23);
    let mut acd = Acd::new(juvenile_hours(AfterHours::Redirect(INQUIRY))).unwrap();
    arrive(&mut acd, local(mon, time(16, 50, 0, 0)), 1, JUVENILE, 0);
    assert_eq!(acd.waiting(JUVENILE), vec![CallId(1)]);
    let closing = local(mon, time(17, 0, 0, 0));
    let out = send(&mut acd, closing, Event::Tick);
    assert_eq!(
        out,
        vec![
            Command::QueueStatus {
                queue: JUVENILE,
                open: false
            },
            Command::Overflow {
                call: CallId(1),
                from: JUVENILE,
                to: INQUIRY,
                reason: OverflowReason::AfterHours
            }
        ]
    );
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(1)]);
}

#[test]
fn announcements_give_position_and_wait_and_offer_a_callback_that_keeps_the_place() {
    let mut cfg = config();
    cfg.queues[0].announcements = Some(Announcements {
        first_after: 10 * SECOND,
        every: 60 * SECOND,
    });
    cfg.queues[0].callback_after = Some(4 * MINUTE);
    cfg.queues[0].expected_handle = 5 * MINUTE;
    let mut acd = Acd::new(cfg).unwrap();
    let t = MONDAY;
    login(&mut acd, t, 1);
    arrive(&mut acd, t, 1, INQUIRY, 0);
    answer(&mut acd, t + 1_000, 1, 1);
    arrive(&mut acd, t + 2_000, 2, INQUIRY, 0);
    arrive(&mut acd, t + 3_000, 3, INQUIRY, 0);
    // Call 2: first in line, one agent staffed, 5 min AHT: 300 s, over the 240 s limit.
    let out = send(&mut acd, t + 12_000, Event::Tick);
    assert_eq!(
        out,
        vec![
            Command::PlayAnnouncement {
                call: CallId(2),
                position: 1,
                estimated_wait_seconds: Some(300)
            },
            Command::OfferCallback {
                call: CallId(2),
                estimated_wait_seconds: 300
            }
        ]
    );
    let out = send(
        &mut acd,
        t + 12_500,
        Event::CallbackRequested { call: CallId(2) },
    );
    assert_eq!(out, vec![Command::SendToCallback { call: CallId(2) }]);
    // The callback keeps its place ahead of call 3, and gets no more announcements.
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2), CallId(3)]);
    let out = send(&mut acd, t + 13_000, Event::Tick);
    assert_eq!(
        out[0],
        Command::PlayAnnouncement {
            call: CallId(3),
            position: 2,
            estimated_wait_seconds: Some(600)
        }
    );
    assert_eq!(
        acd.handle(t + 14_000, Event::CallbackRequested { call: CallId(2) })
            .unwrap_err()
            .error,
        EventError::NotWaiting(CallId(2))
    );
    end(&mut acd, t + 100_000, 1);
    let out = send(&mut acd, t + 130_000, Event::Tick);
    assert!(actions(&out).contains(&Command::OfferCall {
        call: CallId(2),
        agent: AgentId(1),
        queue: INQUIRY,
        callback: true
    }));
    let out = send(&mut acd, t + 132_000, Event::Tick);
    assert!(out.is_empty());
    // Call 3 hears its next announcement a minute after the first, now first in line.
    let out = send(&mut acd, t + 73_000 + 60_000, Event::Tick);
    assert!(out.iter().any(|c| matches!(
        c,
        Command::PlayAnnouncement {
            call: CallId(3),
            position: 1,
            ..
        }
    )));
}

#[test]
fn statistics_follow_the_product_definitions() {
    let mut acd = Acd::new(config()).unwrap();
    let t = MONDAY + 9 * 3_600_000; // 09:00 New York
    login(&mut acd, t, 1);
    // Call 1 answered at once, call 2 after 30 s, call 3 abandoned after 10 s.
    arrive(&mut acd, t, 1, INQUIRY, 0);
    answer(&mut acd, t + 2_000, 1, 1);
    arrive(&mut acd, t + 10_000, 2, INQUIRY, 0);
    arrive(&mut acd, t + 11_000, 3, INQUIRY, 0);
    send(
        &mut acd,
        t + 21_000,
        Event::CallerHungUp { call: CallId(3) },
    );
    end(&mut acd, t + 40_000, 1); // talk 38 s, then 30 s after-call work
    send(&mut acd, t + 70_000, Event::Tick);
    answer(&mut acd, t + 70_000, 1, 2); // waited 60 s
    end(&mut acd, t + 100_000, 2);
    let now = t + 200_000;
    send(&mut acd, now, Event::Tick);
    let q = acd.queue_status(now);
    let inquiry = q.iter().find(|q| q.queue == INQUIRY).unwrap();
    let c = inquiry.interval;
    assert_eq!((c.entered, c.answered, c.abandoned), (3, 2, 1));
    assert_eq!(c.answered_in_threshold, 1);
    assert_eq!(c.answered_wait_ms, 2_000 + 60_000);
    let m = inquiry.interval_measures;
    assert_eq!(m.offered, 3);
    assert!((m.service_level.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(m.asa_seconds, Some(31.0));
    assert!((m.abandonment.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    // Handle: talk 38 + 30 s, after-call 30 + 30 s.
    assert_eq!(c.handled, 2);
    assert_eq!(c.talk_ms, 68_000);
    assert_eq!(c.after_call_ms, 60_000);
    assert_eq!(m.aht_seconds, Some(64.0));
    // Idle: 0–2 s and 130–200 s; agent 1 only has the general skill.
    assert_eq!(c.idle_ms, 2_000 + 70_000);
    assert_eq!(inquiry.today, c, "one interval so far today");
    let agents = acd.agent_status(now);
    let a1 = agents.iter().find(|a| a.agent == AgentId(1)).unwrap();
    assert_eq!((a1.today.handled, a1.today.answered), (2, 2));
    assert_eq!(a1.today.idle_ms, 72_000);
    let occupancy = 128_000.0 / 200_000.0;
    assert!((a1.today_occupancy.unwrap() - occupancy).abs() < 1e-12);
    assert!((m.occupancy.unwrap() - occupancy).abs() < 1e-12);
    let center = acd.today(Scope::Center, now);
    assert_eq!((center.answered, center.abandoned), (2, 1));
    assert_eq!(inquiry.longest_wait_ms, None);
    // A new day starts from zero, and a call waiting shows its wait.
    let tomorrow = MONDAY + 86_400_000 + 3_600_000;
    arrive(&mut acd, tomorrow, 9, JUVENILE, 0);
    let q = acd.queue_status(tomorrow + 5_000);
    let juvenile = q.iter().find(|q| q.queue == JUVENILE).unwrap();
    assert_eq!(juvenile.waiting, 1);
    assert_eq!(juvenile.longest_wait_ms, Some(5_000));
    let inquiry = q.iter().find(|q| q.queue == INQUIRY).unwrap();
    assert_eq!(inquiry.today.answered, 0);
}

#[test]
fn a_snapshot_restores_an_engine_that_behaves_identically() {
    let mut cfg = juvenile_hours(AfterHours::Callback);
    cfg.queues[0].announcements = Some(Announcements {
        first_after: 5_000,
        every: 20_000,
    });
    let mut a = Acd::new(cfg).unwrap();
    let t = local(date(2026, 11, 23), time(16, 59, 0, 0));
    login(&mut a, t, 1);
    login(&mut a, t, 2);
    for i in 0..6 {
        arrive(
            &mut a,
            t + i * 1_000,
            i,
            if i % 2 == 0 { INQUIRY } else { JUVENILE },
            0,
        );
    }
    answer(&mut a, t + 7_000, 2, 1);
    let json = serde_json::to_string(&a.snapshot()).unwrap();
    let mut b = Acd::restore(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(a.snapshot(), b.snapshot());
    b.check_invariants().unwrap();
    let later: Vec<(Millis, Event)> = vec![
        (t + 20_000, Event::Tick),
        (t + 61_000, Event::Tick), // the juvenile desk closes at 17:00
        (t + 62_000, Event::CallEnded { call: CallId(1) }),
        (t + 200_000, Event::Tick),
        (t + 86_400_000, Event::Tick),
    ];
    for (at, e) in later {
        let x = a.handle(at, e.clone());
        let y = b.handle(at, e);
        assert_eq!(x, y);
        assert_eq!(a.queue_status(at), b.queue_status(at));
        assert_eq!(a.agent_status(at), b.agent_status(at));
    }
}

#[test]
fn configuration_changes_keep_the_calls_and_refuse_to_drop_a_busy_queue() {
    let mut acd = Acd::new(config()).unwrap();
    arrive(&mut acd, MONDAY, 1, JUVENILE, 0);
    login(&mut acd, MONDAY, 1);
    let mut smaller = config();
    smaller.queues.retain(|q| q.id != JUVENILE);
    let err = acd
        .handle(MONDAY + 1, Event::ConfigChanged { config: smaller })
        .unwrap_err();
    assert_eq!(
        err.error,
        EventError::Config(ConfigError::QueueInUse(JUVENILE))
    );
    // Agent 1 gains the juvenile skill: the waiting call is offered to them at once.
    let mut more = config();
    more.agents[0].skills.push((CHILDREN, 2));
    let out = send(&mut acd, MONDAY + 2, Event::ConfigChanged { config: more });
    assert_eq!(actions(&out), vec![offer(1, 1, JUVENILE)]);
    acd.check_invariants().unwrap();
}

#[test]
fn events_and_commands_round_trip_through_json() {
    let events = vec![
        Event::CallArrived {
            call: CallId(1),
            queue: INQUIRY,
            priority: 3,
        },
        Event::AgentStateChanged {
            agent: AgentId(2),
            to: Requested::Break {
                reason: "lunch".into(),
            },
            forced: true,
        },
        Event::Tick,
        Event::ConfigChanged { config: config() },
    ];
    for e in events {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e, "{json}");
    }
    let json = serde_json::to_string(&Event::AgentStateChanged {
        agent: AgentId(2),
        to: Requested::Available,
        forced: false,
    })
    .unwrap();
    assert_eq!(
        json,
        r#"{"event":"agent_state_changed","agent":2,"to":{"state":"available"},"forced":false}"#
    );
}

// ----- the simulator -----

#[test]
fn the_simulator_agrees_with_erlang_c() {
    // Published figures (issue 6): 6,500 calls a day, AHT 300 s, 28 agents. At 81% occupancy
    // waits are strongly correlated, so the run is long: 100 days, 650,000 calls (over eight
    // seeds, service level 0.856–0.866 and ASA 10.6–11.6 s).
    let report = simulate(&SimConfig::erlang(6_500.0, 300.0, 28, 100, 1)).unwrap();
    let m = report.total.measures();
    let sl = m.service_level.unwrap();
    let asa = m.asa_seconds.unwrap();
    assert!((sl - 0.861383).abs() < 0.02, "service level {sl}");
    assert!((asa - 10.998).abs() < 1.0998, "ASA {asa}");
    assert!((m.occupancy.unwrap() - 0.806052).abs() < 0.02, "{m:?}");
    assert_eq!(m.abandonment, Some(0.0));
    // A second load: 3,000 calls, AHT 240 s, 11 agents: SL 0.760084, ASA 26.966 s.
    let report = simulate(&SimConfig::erlang(3_000.0, 240.0, 11, 100, 11)).unwrap();
    let m = report.total.measures();
    assert!((m.service_level.unwrap() - 0.760084).abs() < 0.02, "{m:?}");
    assert!((m.asa_seconds.unwrap() - 26.966).abs() < 2.6966, "{m:?}");
}

#[test]
fn the_simulator_is_deterministic_and_reports_per_interval() {
    let cfg = SimConfig::erlang(2_000.0, 300.0, 10, 2, 3);
    let a = simulate(&cfg).unwrap();
    assert_eq!(a, simulate(&cfg).unwrap());
    assert_eq!(a.intervals.len(), 48);
    assert_eq!(a.days.len(), 2);
    let summed = a.intervals.iter().fold(Counters::default(), |mut s, i| {
        s.add(&i.counters);
        s
    });
    assert_eq!(summed.entered, a.total.entered);
    assert_eq!(a.total.entered, a.calls);
    assert!(a.intervals.iter().all(|i| i.staff == 10.0));
    let other = simulate(&SimConfig { seed: 4, ..cfg }).unwrap();
    assert_ne!(a.total, other.total);
}

#[test]
fn impatient_callers_abandon_and_after_call_work_raises_occupancy() {
    let mut cfg = SimConfig::erlang(6_500.0, 300.0, 24, 3, 5);
    cfg.patience = Some(Dist::Exponential { mean: 60.0 });
    cfg.after_call_seconds = 30.0;
    cfg.handle = Dist::LogNormal {
        mean: 270.0,
        cv: 0.6,
    };
    let r = simulate(&cfg).unwrap();
    let m = r.total.measures();
    assert!(m.abandonment.unwrap() > 0.05, "{m:?}");
    assert!(r.total.answered + r.total.abandoned == r.total.entered);
    assert!(m.occupancy.unwrap() > 0.85, "{m:?}");
    assert!((m.aht_seconds.unwrap() - 300.0).abs() < 10.0, "{m:?}");
}

#[test]
fn the_simulator_follows_a_curve_and_a_schedule() {
    let mut cfg = SimConfig::erlang(4_000.0, 300.0, 1, 1, 9);
    // Calls only from 08:00 to 20:00, staffed only then.
    cfg.curve = (0..48)
        .map(|i| if (16..40).contains(&i) { 1.0 } else { 0.0 })
        .collect();
    cfg.staff = (0..48)
        .map(|i| if (16..40).contains(&i) { 34 } else { 0 })
        .collect();
    let r = simulate(&cfg).unwrap();
    assert!(r.intervals[..16].iter().all(|i| i.counters.entered == 0));
    assert!(r.intervals[16..40].iter().all(|i| i.counters.entered > 0));
    assert_eq!(r.intervals[20].staff, 34.0);
    assert_eq!(r.intervals[0].staff, 0.0);
    assert!(r.total.measures().service_level.unwrap() > 0.5);
}

#[test]
fn the_daytime_curve_peaks_at_about_twice_the_average() {
    let c = sim::daytime_curve(48);
    let mean = c.iter().sum::<f64>() / 48.0;
    let peak = c.iter().copied().fold(0.0, f64::max);
    assert!((1.9..2.3).contains(&(peak / mean)), "{}", peak / mean);
    assert_eq!(c.iter().position(|w| *w == peak), Some(27), "13:30–14:00");
}

#[test]
fn the_simulator_refuses_nonsense() {
    let ok = SimConfig::erlang(100.0, 300.0, 2, 1, 1);
    let bad = |f: &dyn Fn(&mut SimConfig)| {
        let mut c = ok.clone();
        f(&mut c);
        simulate(&c).unwrap_err()
    };
    assert_eq!(bad(&|c| c.days = 0), SimError::NoDays);
    assert_eq!(bad(&|c| c.calls_per_day = -5.0), SimError::Volume);
    assert_eq!(bad(&|c| c.calls_per_day = f64::NAN), SimError::Volume);
    assert!(matches!(
        bad(&|c| c.curve = vec![1.0; 47]),
        SimError::Curve { .. }
    ));
    assert!(matches!(
        bad(&|c| c.staff = vec![1, 2]),
        SimError::Staff { .. }
    ));
    assert_eq!(
        bad(&|c| c.handle = Dist::Exponential { mean: 0.0 }),
        SimError::Duration("handle time")
    );
}

// ----- properties -----

#[derive(Debug, Clone)]
enum Step {
    Arrive(u8, bool, u8),
    HangUp(u8),
    Answer(u8),
    Reject(u8),
    End(u8),
    Callback(u8),
    Agent(u8, u8, bool),
    Wait(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..40, any::<bool>(), 0u8..3).prop_map(|(c, j, p)| Step::Arrive(c, j, p)),
        1 => (0u8..40).prop_map(Step::HangUp),
        3 => (0u8..4).prop_map(Step::Answer),
        1 => (0u8..4).prop_map(Step::Reject),
        2 => (0u8..40).prop_map(Step::End),
        1 => (0u8..40).prop_map(Step::Callback),
        2 => (0u8..4, 0u8..4, any::<bool>()).prop_map(|(a, s, f)| Step::Agent(a, s, f)),
        3 => (0u32..4 * 3_600_000).prop_map(Step::Wait),
    ]
}

fn property_config() -> Config {
    let mut c = juvenile_hours(AfterHours::Callback);
    c.queues[0].announcements = Some(Announcements {
        first_after: 5_000,
        every: 30_000,
    });
    c.queues[0].callback_after = Some(60_000);
    c.queues[1].max_wait = Some(90_000);
    c.queues[1].overflow_to = Some(INQUIRY);
    c.queues[1].selection = Selection::MostSkilled;
    c.agents.push(agent(0, vec![(CHILDREN, 4)], 10_000));
    c.agents
        .push(agent(3, vec![(GENERAL, 7), (CHILDREN, 1)], 0));
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever happens, in whatever order: no call is lost or duplicated (every call the
    /// edges opened is held exactly once, waiting or with one agent, until it is closed once);
    /// no agent is offered two calls; calls go only to agents with their queue's skill, never
    /// from a closed queue, and always the head of the line; the indexes match the state; and
    /// a snapshot taken anywhere restores an engine that answers the rest identically.
    #[test]
    fn invariants_hold_under_any_events(
        steps in proptest::collection::vec(step(), 1..150),
        cut in 0usize..150,
    ) {
        let cfg = property_config();
        let mut acd = Acd::new(cfg.clone()).unwrap();
        let mut twin: Option<Acd> = None;
        let mut now: Millis = local(date(2026, 11, 23), time(7, 0, 0, 0));
        let mut open: HashSet<CallId> = HashSet::new();
        for (i, s) in steps.into_iter().enumerate() {
            if i == cut {
                let json = serde_json::to_string(&acd.snapshot()).unwrap();
                twin = Some(Acd::restore(serde_json::from_str(&json).unwrap()).unwrap());
            }
            let event = match s {
                Step::Arrive(c, j, p) => Event::CallArrived {
                    call: CallId(u64::from(c)),
                    queue: if j { JUVENILE } else { INQUIRY },
                    priority: p,
                },
                Step::HangUp(c) => Event::CallerHungUp { call: CallId(u64::from(c)) },
                Step::End(c) => Event::CallEnded { call: CallId(u64::from(c)) },
                Step::Callback(c) => Event::CallbackRequested { call: CallId(u64::from(c)) },
                Step::Answer(a) | Step::Reject(a) => {
                    let Some(AgentState::Offered { call, .. }) = acd.agent_state(AgentId(u64::from(a))).cloned() else {
                        continue;
                    };
                    if matches!(s, Step::Answer(_)) {
                        Event::AgentAnswered { agent: AgentId(u64::from(a)), call }
                    } else {
                        Event::AgentRejected { agent: AgentId(u64::from(a)), call }
                    }
                }
                Step::Agent(a, to, forced) => Event::AgentStateChanged {
                    agent: AgentId(u64::from(a)),
                    to: match to {
                        0 => Requested::LogIn,
                        1 => Requested::Available,
                        2 => Requested::Break { reason: "lunch".into() },
                        _ => Requested::LogOut,
                    },
                    forced,
                },
                Step::Wait(ms) => {
                    now += u64::from(ms);
                    Event::Tick
                }
            };
            let arriving = match &event {
                Event::CallArrived { call, .. } => Some(*call),
                _ => None,
            };
            let mut open_now: std::collections::HashMap<QueueId, bool> =
                [INQUIRY, JUVENILE].iter().map(|q| (*q, acd.is_open(*q).unwrap())).collect();
            let mut left: HashSet<CallId> = HashSet::new();
            let lines_before: Vec<(QueueId, Vec<CallId>)> =
                [INQUIRY, JUVENILE].iter().map(|q| (*q, acd.waiting(*q))).collect();
            let result = acd.handle(now, event.clone());
            if let Some(t) = twin.as_mut() {
                prop_assert_eq!(&t.handle(now, event), &result);
            }
            let (commands, accepted) = match result {
                Ok(c) => (c, true),
                // Refused events (an unknown call, a busy agent) are part of the mix.
                Err(r) => (r.commands, false),
            };
            if accepted && let Some(c) = arriving {
                open.insert(c);
            }
            for cmd in &commands {
                match cmd {
                    Command::Close { call, reason } if *reason != CloseReason::NoSuchQueue => {
                        left.insert(*call);
                        prop_assert!(open.remove(call), "closed {call:?} twice or never opened");
                    }
                    Command::OfferCall { call, agent, queue, .. } => {
                        let q = cfg.queues.iter().find(|q| q.id == *queue).unwrap();
                        let holds = cfg.agents.iter().find(|a| a.id == *agent)
                            .is_some_and(|a| a.skills.iter().any(|(s, _)| *s == q.skill));
                        prop_assert!(holds, "{call:?} offered to {agent:?} without the skill");
                        // Commands come in the order things happened: the queue's state
                        // at the offer is the last QueueStatus before it.
                        prop_assert!(open_now[queue], "{call:?} offered from closed {queue:?}");

                        // Head of the line: every call that was ahead of it has left the
                        // line (offered, closed, moved) earlier in this batch.
                        if let Some((_, before)) = lines_before.iter().find(|(q, _)| q == queue)
                            && let Some(pos) = before.iter().position(|c| c == call)
                        {
                            for ahead in &before[..pos] {
                                prop_assert!(left.contains(ahead),
                                    "{call:?} offered while {ahead:?} waited ahead of it");
                            }
                        }
                        left.insert(*call);
                    }
                    Command::Overflow { call, .. } | Command::SendToVoicemail { call } => {
                        left.insert(*call);
                    }
                    Command::CancelOffer { call, .. } => {
                        left.remove(call);
                    }
                    Command::QueueStatus { queue, open } => {
                        open_now.insert(*queue, *open);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(acd.check_invariants(), Ok(()));
            // Every open call is held exactly once: waiting in one line, or with one agent.
            let held: HashSet<CallId> = acd.calls().iter().map(|c| c.call).collect();
            prop_assert_eq!(&held, &open);
            let mut seen = HashSet::new();
            for q in [INQUIRY, JUVENILE] {
                for c in acd.waiting(q) {
                    prop_assert!(seen.insert(c), "{c:?} waits twice");
                }
            }
            for a in 0..4 {
                if let Some(AgentState::Offered { call, .. } | AgentState::OnCall { call, .. }) =
                    acd.agent_state(AgentId(a))
                {
                    prop_assert!(seen.insert(*call), "{call:?} both waiting and with an agent, or with two agents");
                }
            }
            // Accounting: every call that entered is accounted for once.
            let today = acd.totals(Scope::Center, 0, now + 1, now);
            let settled = today.answered + today.abandoned + today.callbacks + today.voicemail;
            prop_assert!(settled <= today.entered, "{today:?}");
        }
    }
}
