//! A page's live stream: its fragments re-rendered by the page's own templates and sent as
//! server-sent events (htmx swaps each by name), only those that changed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::{self, PageSession, Principal};
use crate::error::ApiError;

/// What a live page shows: its fragments by name (the page's `sse-swap` names).
pub(crate) trait Live: Send + 'static {
    fn render(
        &mut self,
        app: &AppState,
        who: &Principal,
    ) -> impl Future<Output = Result<Vec<(&'static str, String)>, ApiError>> + Send;
}

/// How long a burst of call-distributor entries is gathered into one refresh: a busy center
/// logs hundreds of entries a second, a page needs a few redraws a second at most.
const GATHER: Duration = Duration::from_millis(120);

/// Refreshes `view` on every tick of `every`, and (with `follow_acd`) whenever the call
/// distributor logs something. Before each refresh the session is checked: a locked or ended
/// session gets one `session` event saying so, and the stream ends.
pub(crate) fn live<L: Live>(
    app: AppState,
    who: Principal,
    view: L,
    every: Duration,
    follow_acd: bool,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = if follow_acd {
        app.acd.as_ref().map(|h| h.subscribe())
    } else {
        None
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = State {
        app,
        who,
        view,
        rx,
        tick,
        pending: Vec::new(),
        last: HashMap::new(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(e) = st.pending.pop() {
                return Some((Ok(e), st));
            }
            if st.ended {
                return None;
            }
            st.wait().await?;
            match auth::page_session(&st.app, &st.who).await {
                PageSession::Active => {}
                over => {
                    st.pending.push(session_message(over));
                    st.ended = true;
                    continue;
                }
            }
            let fragments = match st.view.render(&st.app, &st.who).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e.body.message, "a live page could not be rendered");
                    continue;
                }
            };
            // Only what changed is sent: a redraw would take the focus off a button. Pushed
            // in reverse, so they leave the stack in the page's order.
            for (name, html) in fragments.into_iter().rev() {
                if st.last.get(name) != Some(&html) {
                    st.pending
                        .push(SseEvent::default().event(name).data(html.clone()));
                    st.last.insert(name, html);
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The event that tells a page its session has locked or ended.
fn session_message(state: PageSession) -> SseEvent {
    let html = if state == PageSession::Locked {
        LOCKED
    } else {
        OVER
    };
    SseEvent::default().event("session").data(html)
}

/// A stream of that one event, for a page whose session locked or ended before it connected.
pub(crate) fn session_event(
    state: PageSession,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    Sse::new(futures_util::stream::iter([Ok(session_message(state))]))
}

const LOCKED: &str = "<p class=\"error\" role=\"alert\" data-locked=\"true\">Your session locked after 30 minutes without activity. <button type=\"button\" data-unlock-open=\"true\">Unlock</button></p>";
const OVER: &str = "<p class=\"error\" role=\"alert\" data-ended=\"true\">Your session has ended, so nothing more is shown. <a href=\"/login\">Log on again</a>.</p>";

struct State<L> {
    app: AppState,
    who: Principal,
    view: L,
    rx: Option<tokio::sync::broadcast::Receiver<Arc<switchboard_acd_host::FeedItem>>>,
    tick: tokio::time::Interval,
    pending: Vec<SseEvent>,
    last: HashMap<&'static str, String>,
    ended: bool,
}

impl<L> State<L> {
    /// Until the next refresh: a tick, or a burst of what the call distributor logged. `None`
    /// when the distributor is gone.
    async fn wait(&mut self) -> Option<()> {
        let Some(rx) = self.rx.as_mut() else {
            self.tick.tick().await;
            return Some(());
        };
        tokio::select! {
            _ = self.tick.tick() => {}
            item = rx.recv() => match item {
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    tokio::time::sleep(GATHER).await;
                    while rx.try_recv().is_ok() {}
                }
                Err(RecvError::Closed) => return None,
            },
        }
        Some(())
    }
}
