//! The work the writer does while idle: `PRAGMA incremental_vacuum` in small steps.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::event::{emit, Event};

use super::{Msg, Writer};

/// Pages freed per `PRAGMA incremental_vacuum` step: small steps let work that arrives
/// stop the vacuum soon.
const VACUUM_STEP_PAGES: i64 = 64;

impl Writer {
    /// Runs `PRAGMA incremental_vacuum` in small steps within the page and time budgets,
    /// stopping as soon as work arrives.
    pub(super) fn idle_vacuum(&mut self, rx: &Receiver<Msg>) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        state.idle_vacuum_due = false;
        let Some(db) = state.db.as_ref() else { return };
        let before = db.freelist_count();
        if before == 0 {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(shared.config.idle_vacuum_budget_ms);
        let mut left = i64::from(shared.config.idle_vacuum_pages);
        while left > 0 && Instant::now() < deadline && rx.is_empty() {
            let step = left.min(VACUUM_STEP_PAGES);
            let vacuumed = {
                let _in_batch = shared.gate.enter_batch(db.wal_frames());
                db.incremental_vacuum(step)
            };
            if !vacuumed {
                break;
            }
            left -= step;
        }
        let after = db.freelist_count();
        drop(state);
        emit(
            shared.config.event_listener.as_ref(),
            Event::IdleVacuum {
                freelist_before: before,
                freelist_after: after,
            },
        );
    }
}
