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
        let before = self.db.freelist_count();
        if before == 0 {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.idle_vacuum_budget_ms);
        let mut left = i64::from(self.config.idle_vacuum_pages);
        while left > 0 && Instant::now() < deadline && rx.is_empty() {
            let step = left.min(VACUUM_STEP_PAGES);
            let vacuumed = {
                let _in_batch = self.gate.enter_batch();
                self.db.incremental_vacuum(step)
            };
            if !vacuumed {
                break;
            }
            left -= step;
        }
        let after = self.db.freelist_count();
        emit(
            self.config.event_listener.as_ref(),
            Event::IdleVacuum {
                freelist_before: before,
                freelist_after: after,
            },
        );
    }
}
