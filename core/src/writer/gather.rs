//! Gathering the next batch from the queue: the flush policies, flush barriers, and the
//! writer's wait for work once closing started.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::event::{emit, Event, FlushTrigger};
use crate::modes::FlushPolicy;

use super::{Job, Msg, Writer};

/// While closing, how long the writer waits at a time for the message of a caller that is
/// still inside the intake.
const CLOSING_POLL: Duration = Duration::from_millis(1);

/// A gathered batch.
pub(super) struct Gathered {
    /// Why it is flushed.
    pub(super) trigger: FlushTrigger,
    /// Whether a checkpoint ran at any point while it was gathered.
    pub(super) checkpoint_running: bool,
}

impl Gathered {
    /// The writer stops after this batch: closing drained the queue, or every sender is gone.
    pub(super) fn is_last(&self) -> bool {
        self.trigger == FlushTrigger::Close
    }
}

/// What waiting for the next message of a batch gave.
enum Next {
    /// A message.
    Msg(Msg),
    /// No more: flush the batch for this reason.
    Flush(FlushTrigger),
    /// The ticker fired while a checkpoint ran: the batch keeps growing for another period.
    TimerSuppressed,
}

impl Writer {
    /// Gathers the next batch into `batch`, and the flush barriers that end it into
    /// `barriers`.
    pub(super) fn collect(
        &mut self,
        rx: &Receiver<Msg>,
        batch: &mut Vec<Job>,
        barriers: &mut Vec<Sender<()>>,
    ) -> Gathered {
        let mut first_at = Instant::now();
        let mut checkpoint_seen = false;
        loop {
            let running = self
                .shared
                .metrics
                .checkpoint_running
                .load(Ordering::Acquire);
            checkpoint_seen |= running;
            let trigger = if batch.len() >= self.shared.config.effective_max_batch(running) {
                Some(FlushTrigger::Size)
            } else {
                match self.next_for_batch(rx, batch.len(), first_at) {
                    Next::Msg(msg) => self.take(msg, batch, barriers, &mut first_at),
                    Next::Flush(trigger) => Some(trigger),
                    Next::TimerSuppressed => {
                        first_at = Instant::now();
                        None
                    }
                }
            };
            if let Some(trigger) = trigger {
                self.announce_room();
                return Gathered {
                    trigger,
                    checkpoint_running: checkpoint_seen,
                };
            }
        }
    }

    /// Adds a message to the batch being gathered; returns a trigger when it ends the batch.
    fn take(
        &mut self,
        msg: Msg,
        batch: &mut Vec<Job>,
        barriers: &mut Vec<Sender<()>>,
        first_at: &mut Instant,
    ) -> Option<FlushTrigger> {
        self.taken += 1;
        match msg {
            Msg::Tx(tx, reply) => {
                if batch.is_empty() {
                    *first_at = Instant::now();
                }
                batch.push(Job { tx, reply });
                None
            }
            Msg::Flush(done) => {
                barriers.push(done);
                Some(FlushTrigger::Flush)
            }
            Msg::Close => {
                self.closing = true;
                None
            }
            #[cfg(test)]
            fault => {
                if let Some(db) = self.shared.lock().db.as_mut() {
                    db.inject(fault);
                }
                self.shared.unqueued();
                None
            }
        }
    }

    /// Waits for the next message of a batch holding `queued` transactions, the first of
    /// which arrived at `first_at`.
    fn next_for_batch(&mut self, rx: &Receiver<Msg>, queued: usize, first_at: Instant) -> Next {
        self.closing |= self.shared.intake.is_closed();
        let next = if self.closing {
            self.announce_room();
            self.next_message(rx)
        } else if queued == 0 {
            self.announce_room();
            self.wait_first(rx)
        } else {
            return match self.shared.config.flush_policy {
                FlushPolicy::Adaptive => self.next_adaptive(rx, first_at),
                FlushPolicy::Ticker => {
                    self.announce_room();
                    self.next_ticker(rx, queued, first_at)
                }
            };
        };
        // `None`: closing and drained, or every sender is gone.
        next.map_or(Next::Flush(FlushTrigger::Close), Next::Msg)
    }

    /// Adaptive policy: what is queued now, or what arrives within `linger_ms` of the
    /// batch's first transaction.
    fn next_adaptive(&mut self, rx: &Receiver<Msg>, first_at: Instant) -> Next {
        let linger = Duration::from_millis(self.shared.config.linger_ms);
        match rx.try_recv() {
            Ok(msg) => Next::Msg(msg),
            Err(TryRecvError::Disconnected) => Next::Flush(FlushTrigger::Close),
            Err(TryRecvError::Empty) if linger.is_zero() => Next::Flush(FlushTrigger::Adaptive),
            Err(TryRecvError::Empty) => {
                self.announce_room();
                match rx.recv_deadline(first_at + linger) {
                    Ok(msg) => Next::Msg(msg),
                    Err(RecvTimeoutError::Disconnected) => Next::Flush(FlushTrigger::Close),
                    Err(RecvTimeoutError::Timeout) => Next::Flush(FlushTrigger::Adaptive),
                }
            }
        }
    }

    /// Ticker policy: what arrives within `max_wait_ms` of the batch's first transaction;
    /// no timer flush while a checkpoint runs.
    fn next_ticker(&self, rx: &Receiver<Msg>, queued: usize, first_at: Instant) -> Next {
        let max_wait = Duration::from_millis(self.shared.config.max_wait_ms);
        match rx.recv_deadline(first_at + max_wait) {
            Ok(msg) => Next::Msg(msg),
            Err(RecvTimeoutError::Disconnected) => Next::Flush(FlushTrigger::Close),
            Err(RecvTimeoutError::Timeout) => {
                if !self
                    .shared
                    .metrics
                    .checkpoint_running
                    .load(Ordering::Acquire)
                {
                    return Next::Flush(FlushTrigger::Timer);
                }
                emit(
                    self.shared.config.event_listener.as_ref(),
                    Event::TimerFlushSuppressed { queued },
                );
                Next::TimerSuppressed
            }
        }
    }

    /// Wakes a waiter for room in the queue per message taken since the last call (see
    /// `Room`): before each wait for more messages, after each batch's gathering, and when
    /// the writer gives up serving.
    pub(super) fn announce_room(&mut self) {
        if self.taken > 0 {
            self.shared
                .intake
                .room
                .freed(std::mem::take(&mut self.taken));
        }
    }

    /// Waits for the first message of a batch, running idle work when there is time.
    fn wait_first(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        if self.shared.config.idle_vacuum_pages > 0 && self.shared.lock().idle_vacuum_due {
            match rx.recv_timeout(Duration::from_millis(self.shared.config.idle_ms)) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    self.idle_vacuum(rx);
                }
            }
        }
        self.next_message(rx)
    }

    /// The next message. Once closing it does not wait for new work: `None` when the queue
    /// is empty and no caller is still inside the intake (the message of one that is comes
    /// at once). `None` also when every sender is gone.
    pub(super) fn next_message(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        self.closing |= self.shared.intake.is_closed();
        if !self.closing {
            return rx.recv().ok();
        }
        loop {
            match rx.try_recv() {
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if self.shared.intake.inside() == 0 {
                // A caller leaves only after its send returned: its message is visible now.
                return rx.try_recv().ok();
            }
            // A caller is between its check of `closed` and its send, which does not block
            // on an empty queue.
            match rx.recv_timeout(CLOSING_POLL) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}
