//! What an operator is told as it happens: a new proposal, a change of
//! state of one of this node's matches, a refusal by central, a new
//! challenge, a bid on one of this node's challenges, an assessment of one
//! of this node's records or of a bid on its challenge, an invitation of
//! its experts into another node's service team. Events go to every
//! `watch` stream and console page listening, and to `notify_url`.
//!
//! Events are told, not stored: a listener that falls behind misses the
//! oldest (the records themselves are in the store; `list` shows them).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kechuang_types::{Body, Lang, MatchState, NodeId, Record, Timestamp};
use serde::Serialize;
use tokio::sync::broadcast;

/// How many events the console shows from before it was opened.
const RECENT: usize = 100;

/// Something that happened, for people and scripts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Increasing within the daemon's run.
    pub seq: u64,
    /// `proposal`, `match`, `refused`, `challenge`, `bid`, `assessment` or `team`.
    pub kind: &'static str,
    /// When the node learnt it, in China Standard Time.
    pub at: String,
    /// The record it is about.
    pub record: String,
    /// The record's title (a match: demand ↔ supply).
    pub title: String,
    /// A match's state (`proposed`, `connected`, …); empty otherwise.
    pub state: String,
    /// The match's explanation, the refusal's reason, the bid's proposal.
    pub detail: String,
}

impl Event {
    /// The kind for people, in `lang`: 新的对接建议, 对接状态变化, ….
    pub fn label(&self, lang: Lang) -> String {
        let english = match self.kind {
            "proposal" => "new proposal",
            "match" => "match changed",
            "refused" => "refused by central",
            "challenge" => "new challenge",
            "assessment" => "new assessment",
            "team" => "team invitation",
            _ => "new bid",
        };
        lang.tr(english)
    }

    /// The event as `watch --json` prints it and `notify_url` receives it:
    /// its fields and the node's id.
    pub fn json(&self, node: &NodeId) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["node"] = node.as_str().into();
        value
    }

    /// The event on one line for people: time, what, title, state, detail.
    pub fn line(&self, lang: Lang) -> String {
        let mut line = format!("{}  {}  {}", self.at, self.label(lang), self.title);
        if !self.state.is_empty() {
            line.push_str(&format!("  [{}]", lang.state(&self.state)));
        }
        if !self.detail.is_empty() {
            line.push_str(&format!("  {}", kechuang_types::present::truncate(&self.detail, 80)));
        }
        line
    }
}

/// The kind of an event named on the wire, as one of the known kinds.
pub fn kind_of(name: &str) -> &'static str {
    ["proposal", "match", "refused", "challenge", "bid", "assessment", "team"]
        .into_iter()
        .find(|k| *k == name)
        .unwrap_or("match")
}

/// The events of one change the feed applied (`held` before, `now` after),
/// as seen by node `me`.
pub fn of_change(me: &NodeId, held: Option<&Record>, now: &Record) -> Option<Event> {
    let event = |kind, state: String, detail: String| Event {
        seq: 0,
        kind,
        at: String::new(),
        record: now.meta.id.to_string(),
        title: now.title(),
        state,
        detail,
    };
    if now.meta.deleted {
        return None;
    }
    match &now.body {
        Body::Match(m) => {
            let before = held.and_then(|h| match &h.body {
                Body::Match(b) => Some(b.state()),
                _ => None,
            });
            let state = m.state();
            match before {
                None if state == MatchState::Proposed => {
                    Some(event("proposal", state.as_str().into(), m.explanation.to_string()))
                }
                Some(before) if before == state => None,
                _ => Some(event("match", state.as_str().into(), String::new())),
            }
        }
        Body::Demand(d) if d.is_challenge && now.meta.owner != *me => {
            let was_open =
                held.is_some_and(|h| matches!(&h.body, Body::Demand(b) if b.is_challenge && !h.meta.deleted));
            (!was_open).then(|| event("challenge", String::new(), d.description.chars().take(120).collect()))
        }
        Body::Bid(b) if held.is_none() && b.demand_owner == *me && now.meta.owner != *me => {
            Some(event("bid", String::new(), b.proposal.to_string()))
        }
        Body::Assessment(a) if now.meta.owner != *me => {
            let scores: Vec<String> = a.scores.named().iter().map(|(_, label, s)| format!("{label}{s}")).collect();
            Some(event("assessment", String::new(), format!("{}：{}", scores.join(" "), a.text)))
        }
        Body::Team(t) if held.is_none() && now.meta.owner != *me => {
            let mine: Vec<&str> = t.members.iter().filter(|m| m.node == *me).map(|m| m.name.as_str()).collect();
            (!mine.is_empty()).then(|| event("team", String::new(), format!("邀请：{}", mine.join("、"))))
        }
        _ => None,
    }
}

/// The node's event bus: a broadcast to live listeners and the last few
/// events for a page opened later.
#[derive(Debug)]
pub struct Events {
    sender: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
    seq: AtomicU64,
}

impl Default for Events {
    fn default() -> Self {
        Self { sender: broadcast::channel(1024).0, recent: Mutex::default(), seq: AtomicU64::new(0) }
    }
}

impl Events {
    /// Numbers, stamps and tells `event`.
    pub fn tell(&self, mut event: Event) {
        event.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        event.at = Timestamp::now().in_china();
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // No listener is not an error: events are told, not kept.
        let _ = self.sender.send(event);
    }

    /// A receiver of every event told from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The last events told, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}
