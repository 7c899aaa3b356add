//! Mutual exclusion between the writer's batches and the checkpoints that need the write
//! lock (FULL/RESTART/TRUNCATE, and the last pass of a PASSIVE catch-up). Doing this
//! in-process means such a checkpoint never fights the writer through SQLite's busy handler,
//! and the writer's stall is bounded and measured. A catch-up that falls behind the writer
//! also sets a [`Pace`] here, which spreads short waits over the writer's batches.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shared by the writer and the checkpoint worker.
#[derive(Default)]
pub(crate) struct Gate {
    /// Who holds or wants the gate.
    state: Mutex<GateState>,
    /// Signalled whenever `state` changes.
    changed: Condvar,
}

/// What the gate's lock guards.
#[derive(Default)]
struct GateState {
    /// A checkpoint holds the gate or waits for the writer to leave its batch.
    checkpoint_wants_lock: bool,
    /// The writer is inside a batch (from before BEGIN to after COMMIT or ROLLBACK).
    writer_in_batch: bool,
    /// The writer waits for its pace.
    writer_pacing: bool,
    /// How fast the writer may grow the WAL, while a checkpoint catch-up falls behind it.
    pace: Option<Pace>,
}

/// How fast the writer may grow the WAL for a while: `burst` frames at once, then at
/// `frames_per_sec` from `since`, and by `allowance` frames in all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    /// When it was set.
    pub(crate) since: Instant,
    /// The WAL's frame count then.
    pub(crate) from_frames: u64,
    /// Frames the writer may commit at once, before `frames_per_sec` applies.
    pub(crate) burst: u64,
    /// Frames per second the writer may commit.
    pub(crate) frames_per_sec: f64,
    /// Frames the writer may commit in all; then it waits for the next pace.
    pub(crate) allowance: u64,
    /// The longest the writer waits for it before one batch.
    pub(crate) max_wait: Duration,
}

impl Pace {
    /// Whether a writer whose WAL holds `frames` kept to it: it overshoots the allowance
    /// by at most a batch, counted as half the allowance.
    pub(crate) fn kept(&self, frames: u64) -> bool {
        frames.saturating_sub(self.from_frames) <= self.allowance + self.allowance / 2
    }

    /// When a writer whose WAL holds `frames` may begin its next batch: once the time its
    /// commits since `since` beyond the burst are worth has passed; `None` once it used the
    /// allowance, or when that time is too far to count.
    fn due(&self, frames: u64) -> Option<Instant> {
        let done = frames.saturating_sub(self.from_frames);
        if done >= self.allowance {
            return None;
        }
        let paced = done.saturating_sub(self.burst);
        let worth = Duration::try_from_secs_f64(paced as f64 / self.frames_per_sec).ok()?;
        self.since.checked_add(worth)
    }
}

impl Gate {
    /// The writer calls this before BEGIN, with the WAL's frame count after its latest
    /// commit; it waits while a checkpoint holds the gate, and as long as the pace asks (at
    /// most its `max_wait`). The batch lasts until the guard is dropped (after COMMIT or
    /// ROLLBACK, or when a panic unwinds the batch).
    pub(crate) fn enter_batch(&self, wal_frames: u64) -> InBatch<'_> {
        let start = Instant::now();
        let mut st = self.lock();
        let (mut paused, mut paced) = (false, Duration::ZERO);
        loop {
            if st.checkpoint_wants_lock {
                paused = true;
                st = self.wait(st);
                continue;
            }
            let Some(pace) = st.pace else { break };
            let latest = start + pace.max_wait;
            let until = pace.due(wal_frames).map_or(latest, |due| due.min(latest));
            let now = Instant::now();
            if now >= until {
                break;
            }
            st.writer_pacing = true;
            st = self
                .changed
                .wait_timeout(st, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            st.writer_pacing = false;
            paced += now.elapsed();
        }
        st.writer_in_batch = true;
        InBatch {
            gate: self,
            paused: if paused {
                start.elapsed().saturating_sub(paced)
            } else {
                Duration::ZERO
            },
            paced,
        }
    }

    /// Sets the writer's pace (`None` lifts it) until the returned guard is dropped.
    pub(crate) fn pacing(&self) -> Pacing<'_> {
        Pacing { gate: self }
    }

    /// Replaces the pace and wakes a writer waiting for the old one.
    fn set_pace(&self, pace: Option<Pace>) {
        let mut st = self.lock();
        if st.pace == pace {
            return;
        }
        st.pace = pace;
        let waiting = st.writer_pacing;
        drop(st);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// Closes the gate: returns once the writer is between batches; it stays there until
    /// the returned guard is dropped (also when unwinding).
    pub(crate) fn pause_writer(&self) -> WriterPaused<'_> {
        let mut st = self.lock();
        st.checkpoint_wants_lock = true;
        if st.writer_pacing {
            // It waits for the gate from now on, and counts that as a pause.
            self.changed.notify_all();
        }
        while st.writer_in_batch {
            st = self.wait(st);
        }
        WriterPaused { gate: self }
    }

    /// Whether the writer may enter a batch now (no checkpoint holds or wants the gate).
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        !self.lock().checkpoint_wants_lock
    }

    /// The pace set now, if any.
    #[cfg(test)]
    pub(crate) fn pace(&self) -> Option<Pace> {
        self.lock().pace
    }

    /// Whether the pace lets a writer whose WAL holds `frames` begin a batch now.
    #[cfg(test)]
    pub(crate) fn pace_allows(&self, frames: u64) -> bool {
        self.lock().pace.map_or(true, |pace| {
            pace.due(frames).is_some_and(|due| due <= Instant::now())
        })
    }

    /// Locks the state (a panic while it was held does not poison it).
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the next change of the state.
    fn wait<'a>(&self, guard: MutexGuard<'a, GateState>) -> MutexGuard<'a, GateState> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer is inside a batch; dropping this lets a waiting checkpoint pause it.
pub(crate) struct InBatch<'a> {
    /// The gate it holds open.
    gate: &'a Gate,
    /// How long a checkpoint kept the writer paused before it could enter.
    paused: Duration,
    /// How long the writer waited for its pace before it could enter.
    paced: Duration,
}

impl InBatch<'_> {
    /// How long a checkpoint kept the writer paused before it could enter.
    pub(crate) fn paused(&self) -> Duration {
        self.paused
    }

    /// How long the writer waited for its pace before it could enter.
    pub(crate) fn paced(&self) -> Duration {
        self.paced
    }
}

impl Drop for InBatch<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.writer_in_batch = false;
        // Only a checkpoint waits for the batch to end, and only once it wants the gate
        // (set under the same lock). A notification is a system call even with nobody
        // waiting; this one would come after every batch.
        let wanted = st.checkpoint_wants_lock;
        drop(st);
        if wanted {
            self.gate.changed.notify_all();
        }
    }
}

/// A checkpoint catch-up's hold on the writer's pace; dropping it lifts the pace.
pub(crate) struct Pacing<'a> {
    /// The gate whose pace it sets.
    gate: &'a Gate,
}

impl Pacing<'_> {
    /// Sets the pace; `None` lifts it.
    pub(crate) fn set(&self, pace: Option<Pace>) {
        self.gate.set_pace(pace);
    }
}

impl Drop for Pacing<'_> {
    fn drop(&mut self) {
        self.gate.set_pace(None);
    }
}

/// A checkpoint holds the writer between batches; dropping this lets it go on.
pub(crate) struct WriterPaused<'a> {
    /// The gate it holds closed.
    gate: &'a Gate,
}

impl Drop for WriterPaused<'_> {
    fn drop(&mut self) {
        self.gate.lock().checkpoint_wants_lock = false;
        self.gate.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(60);

    /// Waits until the gate's state satisfies `condition`, failing after `PATIENCE`. Polls:
    /// closing the gate does not signal the condition variable.
    fn wait_for(gate: &Gate, condition: impl Fn(&GateState) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        let mut st = gate.lock();
        while !condition(&st) {
            assert!(
                Instant::now() < deadline,
                "the gate never reached the state"
            );
            st = gate
                .changed
                .wait_timeout(st, Duration::from_millis(1))
                .unwrap()
                .0;
        }
    }

    #[test]
    fn a_checkpoint_waits_for_the_batch_to_end() {
        let gate = Arc::new(Gate::default());
        let in_batch = gate.enter_batch(0);
        let (paused_tx, paused_rx) = crossbeam_channel::bounded(1);
        let pausing = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let paused = gate.pause_writer();
                paused_tx.send(()).unwrap();
                drop(paused);
            })
        };
        wait_for(&gate, |st| st.checkpoint_wants_lock);
        assert!(
            paused_rx.try_recv().is_err(),
            "the checkpoint paused the writer inside its batch"
        );
        drop(in_batch);
        paused_rx.recv_timeout(PATIENCE).unwrap();
        pausing.join().unwrap();
        // The checkpoint let go: the next batch enters.
        let next = gate.enter_batch(0);
        assert!(gate.lock().writer_in_batch);
        drop(next);
    }

    fn pace(frames_per_sec: f64, allowance: u64, max_wait: Duration) -> Pace {
        Pace {
            // A second ago: what the writer committed is worth a second at most.
            since: Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now),
            from_frames: 100,
            burst: 0,
            frames_per_sec,
            allowance,
            max_wait,
        }
    }

    #[test]
    fn a_writer_within_its_pace_enters_at_once() {
        let gate = Gate::default();
        let pacing = gate.pacing();
        pacing.set(Some(pace(1_000.0, 1_000, PATIENCE)));
        // 500 frames are worth half a second, and a second has passed.
        let in_batch = gate.enter_batch(600);
        assert_eq!(in_batch.paced(), Duration::ZERO);
    }

    #[test]
    fn a_writer_that_used_its_allowance_waits_until_the_pace_is_lifted() {
        let gate = Arc::new(Gate::default());
        let pacing = gate.pacing();
        pacing.set(Some(pace(1_000_000.0, 10, PATIENCE)));
        assert!(!gate.pace_allows(110));
        let (entered_tx, entered_rx) = crossbeam_channel::bounded(1);
        let writer = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let in_batch = gate.enter_batch(110);
                entered_tx
                    .send((in_batch.paused(), in_batch.paced()))
                    .unwrap();
            })
        };
        wait_for(&gate, |st| st.writer_pacing);
        assert!(
            entered_rx.try_recv().is_err(),
            "the writer entered past its allowance"
        );
        drop(pacing);
        let (paused, paced) = entered_rx.recv_timeout(PATIENCE).unwrap();
        assert_eq!(paused, Duration::ZERO, "a pace is no pause");
        assert!(paced > Duration::ZERO);
        writer.join().unwrap();
        assert!(gate.lock().pace.is_none());
    }

    #[test]
    fn a_checkpoint_that_pauses_a_pacing_writer_counts_as_a_pause() {
        let gate = Arc::new(Gate::default());
        let pacing = gate.pacing();
        pacing.set(Some(pace(1_000_000.0, 10, PATIENCE)));
        let (entered_tx, entered_rx) = crossbeam_channel::bounded(1);
        let writer = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let in_batch = gate.enter_batch(110);
                entered_tx.send(in_batch.paused()).unwrap();
            })
        };
        wait_for(&gate, |st| st.writer_pacing);
        let paused = gate.pause_writer();
        // Woken, it waits for the gate instead.
        wait_for(&gate, |st| !st.writer_pacing);
        drop(paused);
        drop(pacing);
        assert!(entered_rx.recv_timeout(PATIENCE).unwrap() > Duration::ZERO);
        writer.join().unwrap();
    }

    #[test]
    fn a_writer_waits_for_its_pace_at_most_max_wait() {
        let gate = Gate::default();
        let pacing = gate.pacing();
        pacing.set(Some(pace(1_000_000.0, 10, Duration::ZERO)));
        let in_batch = gate.enter_batch(110);
        assert_eq!(in_batch.paced(), Duration::ZERO);
    }

    #[test]
    fn a_writer_commits_its_burst_at_once_and_the_rest_at_the_pace() {
        let gate = Gate::default();
        let pacing = gate.pacing();
        pacing.set(Some(Pace {
            since: Instant::now(),
            burst: 50,
            ..pace(1.0, 1_000, PATIENCE)
        }));
        assert!(gate.pace_allows(100 + 50));
        // 10 frames past the burst are worth 10 s at one frame a second.
        assert!(!gate.pace_allows(100 + 60));
    }

    #[test]
    fn a_pace_holds_longer_than_one_wait_may_last() {
        let gate = Gate::default();
        let pacing = gate.pacing();
        // Set a second ago, the longest wait 10 ms: 100 frames at 0.1 a second are worth
        // 1,000 s, not the longest wait.
        pacing.set(Some(pace(0.1, 1_000, Duration::from_millis(10))));
        assert!(!gate.pace_allows(100 + 100));
        assert!(gate.pace_allows(100));
    }

    #[test]
    fn a_pace_is_kept_within_half_an_allowance_more() {
        let pace = pace(1_000.0, 10, PATIENCE);
        assert!(pace.kept(100 + 15));
        assert!(!pace.kept(100 + 16));
        // A WAL that restarted since holds fewer frames than when the pace was set.
        assert!(pace.kept(3));
    }
}
