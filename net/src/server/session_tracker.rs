//! Session liveness, kept by the leader: a session expires when no shard has reported activity
//! for it within its timeout. Expiry itself is a log entry (CloseSession), so every replica
//! deletes the same ephemerals at the same zxid.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corral_engine::types::SessionId;

#[derive(Default)]
pub struct SessionTracker {
    sessions: HashMap<SessionId, Tracked>,
}

struct Tracked {
    timeout: Duration,
    deadline: Instant,
}

impl SessionTracker {
    /// Starts tracking with a fresh timeout (also what a new leader grants recovered sessions).
    pub fn add(&mut self, session_id: SessionId, timeout_ms: i32, now: Instant) {
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        self.sessions.insert(
            session_id,
            Tracked {
                timeout,
                deadline: now + timeout,
            },
        );
    }

    pub fn contains(&self, session_id: SessionId) -> bool {
        self.sessions.contains_key(&session_id)
    }

    pub fn touch(&mut self, session_id: SessionId, now: Instant) {
        if let Some(tracked) = self.sessions.get_mut(&session_id) {
            tracked.deadline = now + tracked.timeout;
        }
    }

    pub fn remove(&mut self, session_id: SessionId) {
        self.sessions.remove(&session_id);
    }

    /// Sessions past their deadline. They stop being tracked: their close is being proposed.
    pub fn expired(&mut self, now: Instant) -> Vec<SessionId> {
        let mut expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, tracked)| tracked.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        expired.sort_unstable();
        for id in &expired {
            self.sessions.remove(id);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touched_session_lives_past_its_first_deadline() {
        let start = Instant::now();
        let mut tracker = SessionTracker::default();
        tracker.add(1, 1000, start);
        tracker.add(2, 1000, start);
        tracker.touch(2, start + Duration::from_millis(900));
        assert_eq!(
            tracker.expired(start + Duration::from_millis(1000)),
            vec![1]
        );
        assert!(tracker
            .expired(start + Duration::from_millis(1800))
            .is_empty());
        assert_eq!(
            tracker.expired(start + Duration::from_millis(1900)),
            vec![2]
        );
        assert!(!tracker.contains(2));
    }
}
