use proptest::prelude::*;

use super::*;

const INQUIRY: QueueId = QueueId(1);
const JUVENILE: QueueId = QueueId(2);
const GENERAL: SkillId = SkillId(1);
const CHILDREN: SkillId = SkillId(2);

fn config() -> Config {
    Config {
        queues: vec![
            QueueConfig {
                id: INQUIRY,
                name: "inquiry desk".into(),
                skill: GENERAL,
                priority: 1,
                ring_timeout: 15_000,
                max_wait: None,
                overflow_to: None,
            },
            QueueConfig {
                id: JUVENILE,
                name: "juvenile liaison".into(),
                skill: CHILDREN,
                priority: 5,
                ring_timeout: 15_000,
                max_wait: Some(120_000),
                overflow_to: Some(INQUIRY),
            },
        ],
        agents: vec![
            AgentConfig {
                id: AgentId(1),
                skills: vec![(GENERAL, 5)],
                after_call_limit: 30_000,
            },
            AgentConfig {
                id: AgentId(2),
                skills: vec![(GENERAL, 3), (CHILDREN, 9)],
                after_call_limit: 30_000,
            },
        ],
    }
}

fn login(acd: &mut Acd, at: Millis, agent: u64) -> Vec<Command> {
    acd.handle(
        at,
        Event::AgentStateChanged {
            agent: AgentId(agent),
            to: Requested::LogIn,
            forced: false,
        },
    )
    .unwrap()
}

fn arrive(acd: &mut Acd, at: Millis, call: u64, queue: QueueId, priority: u8) -> Vec<Command> {
    acd.handle(
        at,
        Event::CallArrived {
            call: CallId(call),
            queue,
            priority,
        },
    )
    .unwrap()
}

#[test]
fn a_call_is_offered_to_the_longest_idle_agent_with_the_skill() {
    let mut acd = Acd::new(config()).unwrap();
    login(&mut acd, 0, 2);
    login(&mut acd, 10, 1);
    // Both can take the inquiry desk; agent 2 has waited longer.
    let out = arrive(&mut acd, 20, 7, INQUIRY, 0);
    assert_eq!(
        out,
        vec![Command::OfferCall {
            call: CallId(7),
            agent: AgentId(2)
        }]
    );
    // Only agent 2 has the juvenile skill, and it is busy: the call waits.
    let out = arrive(&mut acd, 30, 8, JUVENILE, 0);
    assert!(out.is_empty());
    assert_eq!(acd.waiting(JUVENILE), vec![CallId(8)]);
}

#[test]
fn ring_timeout_requeues_at_the_head_and_answer_connects() {
    let mut acd = Acd::new(config()).unwrap();
    login(&mut acd, 0, 1);
    arrive(&mut acd, 0, 1, INQUIRY, 0);
    arrive(&mut acd, 1, 2, INQUIRY, 0);
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2)]);
    let out = acd.handle(15_000, Event::Tick).unwrap();
    assert_eq!(
        out,
        vec![Command::CancelOffer {
            call: CallId(1),
            agent: AgentId(1)
        }]
    );
    // Call 1 keeps its place ahead of call 2.
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(1), CallId(2)]);
    // The agent who did not answer rests for the after-call limit, then gets call 1 again.
    let out = acd.handle(45_000, Event::Tick).unwrap();
    assert_eq!(
        out,
        vec![Command::OfferCall {
            call: CallId(1),
            agent: AgentId(1)
        }]
    );
    acd.handle(
        46_000,
        Event::AgentAnswered {
            agent: AgentId(1),
            call: CallId(1),
        },
    )
    .unwrap();
    assert!(matches!(
        acd.agent_state(AgentId(1)),
        Some(AgentState::OnCall { .. })
    ));
    let out = acd
        .handle(50_000, Event::CallEnded { call: CallId(1) })
        .unwrap();
    assert_eq!(
        out,
        vec![Command::Close {
            call: CallId(1),
            reason: CloseReason::Completed
        }]
    );
}

#[test]
fn priority_and_overflow() {
    let mut acd = Acd::new(config()).unwrap();
    arrive(&mut acd, 0, 1, INQUIRY, 0);
    arrive(&mut acd, 1, 2, INQUIRY, 9);
    assert_eq!(acd.waiting(INQUIRY), vec![CallId(2), CallId(1)]);
    arrive(&mut acd, 2, 3, JUVENILE, 0);
    let out = acd.handle(120_002, Event::Tick).unwrap();
    assert_eq!(
        out,
        vec![Command::Overflow {
            call: CallId(3),
            from: JUVENILE,
            to: INQUIRY
        }]
    );
    // The higher-priority queue's calls come first for an agent who has both skills.
    arrive(&mut acd, 120_003, 4, JUVENILE, 0);
    let out = login(&mut acd, 120_004, 2);
    assert_eq!(
        out,
        vec![Command::OfferCall {
            call: CallId(4),
            agent: AgentId(2)
        }]
    );
}

#[test]
fn hang_ups_and_refusals_leave_nothing_behind() {
    let mut acd = Acd::new(config()).unwrap();
    arrive(&mut acd, 0, 1, INQUIRY, 0);
    let out = acd
        .handle(5, Event::CallerHungUp { call: CallId(1) })
        .unwrap();
    assert_eq!(
        out,
        vec![Command::Close {
            call: CallId(1),
            reason: CloseReason::Abandoned
        }]
    );
    assert!(acd.waiting(INQUIRY).is_empty());
    assert_eq!(
        acd.handle(6, Event::CallerHungUp { call: CallId(1) }),
        Err(EventError::UnknownCall(CallId(1)))
    );
    assert_eq!(
        acd.handle(1, Event::Tick),
        Err(EventError::TimeWentBack { now: 1, last: 5 })
    );
    let out = arrive(&mut acd, 7, 9, QueueId(99), 0);
    assert_eq!(
        out,
        vec![Command::Close {
            call: CallId(9),
            reason: CloseReason::NoSuchQueue
        }]
    );
    let mut bad = config();
    bad.queues[1].overflow_to = Some(QueueId(42));
    assert!(Acd::new(bad).is_err());
}

#[derive(Debug, Clone)]
enum Step {
    Arrive(u8, bool, u8),
    HangUp(u8),
    Answer(u8),
    Reject(u8),
    End(u8),
    Agent(u8, u8, bool),
    Wait(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..40, any::<bool>(), 0u8..3).prop_map(|(c, j, p)| Step::Arrive(c, j, p)),
        (0u8..40).prop_map(Step::HangUp),
        (0u8..3).prop_map(Step::Answer),
        (0u8..3).prop_map(Step::Reject),
        (0u8..40).prop_map(Step::End),
        (0u8..3, 0u8..4, any::<bool>()).prop_map(|(a, s, f)| Step::Agent(a, s, f)),
        (0u16..40_000).prop_map(Step::Wait),
    ]
}

fn three_agents() -> Config {
    let mut c = config();
    c.agents.push(AgentConfig {
        id: AgentId(0),
        skills: vec![(CHILDREN, 4)],
        after_call_limit: 10_000,
    });
    c
}

proptest! {
    /// Whatever happens, in whatever order: no call is lost or duplicated (every call the edges
    /// opened is held exactly once, waiting or with one agent, until it is closed once), and
    /// calls go only to agents with their queue's skill.
    #[test]
    fn invariants_hold_under_any_events(steps in proptest::collection::vec(step(), 1..200)) {
        let cfg = three_agents();
        let mut acd = Acd::new(cfg.clone()).unwrap();
        let mut now: Millis = 0;
        let mut open: std::collections::HashSet<CallId> = Default::default();
        for s in steps {
            let event = match s {
                Step::Arrive(c, j, p) => Event::CallArrived {
                    call: CallId(u64::from(c)),
                    queue: if j { JUVENILE } else { INQUIRY },
                    priority: p,
                },
                Step::HangUp(c) => Event::CallerHungUp { call: CallId(u64::from(c)) },
                Step::End(c) => Event::CallEnded { call: CallId(u64::from(c)) },
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
            // Refused events (an unknown call, a busy agent) are part of the mix.
            if let Ok(commands) = acd.handle(now, event) {
                if let Some(c) = arriving {
                    open.insert(c);
                }
                for cmd in commands {
                    match cmd {
                        Command::Close { call, .. } => {
                            prop_assert!(open.remove(&call), "closed {call:?} twice or never opened");
                        }
                        Command::OfferCall { call, agent } => {
                            let queue = acd.calls().find(|(c, _)| *c == call).map(|x| x.1);
                            let skill = cfg.queues.iter().find(|q| Some(q.id) == queue).map(|q| q.skill);
                            let holds = cfg.agents.iter().find(|a| a.id == agent)
                                .is_some_and(|a| a.skills.iter().any(|(s, _)| Some(*s) == skill));
                            prop_assert!(holds, "{call:?} offered to {agent:?} without the skill");
                        }
                        _ => {}
                    }
                }
            }
            // Every open call is held exactly once: waiting in one line, or with one agent.
            let held: std::collections::HashSet<CallId> = acd.calls().map(|c| c.0).collect();
            prop_assert_eq!(&held, &open);
            let mut seen = std::collections::HashSet::new();
            for q in [INQUIRY, JUVENILE] {
                for c in acd.waiting(q) {
                    prop_assert!(seen.insert(c), "{c:?} waits twice");
                }
            }
            for a in 0..3 {
                if let Some(AgentState::Offered { call, .. } | AgentState::OnCall { call, .. }) =
                    acd.agent_state(AgentId(a))
                {
                    prop_assert!(seen.insert(*call), "{call:?} both waiting and with an agent, or with two agents");
                }
            }
        }
    }
}
