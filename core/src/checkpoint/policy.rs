//! What to checkpoint when: the automatic thresholds in WAL frames, the bookkeeping of how
//! much of the WAL is copied (and when the WAL restarted), the RESTART backoff, and when
//! idle work is due.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::event::CheckpointReason;
use crate::modes::CheckpointMode;

use super::CheckpointResult;

/// Bytes of header before each page in a WAL frame.
const WAL_FRAME_HEADER_BYTES: i64 = 24;
/// SQLite's smallest page size.
const MIN_PAGE_SIZE: i64 = 512;
/// Bytes in a MB, as the thresholds count them.
const MB: f64 = 1024.0 * 1024.0;
/// Once an automatic PASSIVE is requested, the next one waits until this fraction of the
/// passive threshold (1/N) more frames has been written.
const PASSIVE_SPACING_DIVISOR: u64 = 4;
/// After an automatic RESTART gave up on readers, the next one waits this many busy
/// timeouts, doubled after each further one that gives up.
const RESTART_BACKOFF_TIMEOUTS: u32 = 5;
/// The backoff doubles at most this many times (to 64 times its first length).
const MAX_BACKOFF_DOUBLINGS: u32 = 6;
/// The busy timeout counted for the RESTART backoff is at least this.
const MIN_BACKOFF_TIMEOUT: Duration = Duration::from_millis(10);
/// When the writer committed at most this many frames (or 1/`CATCH_UP_RESIDUAL_DIVISOR` of
/// the WAL, when more) since a catch-up pass began, the last pass runs with it paused.
const CATCH_UP_SMALL_FRAMES: u64 = 64;
/// See `CATCH_UP_SMALL_FRAMES`: an 8 MB WAL wraps after a pause that copies up to 1 MB.
const CATCH_UP_RESIDUAL_DIVISOR: u64 = 8;
/// A writer that outpaced a catch-up pass commits up to about this many times as much
/// before the next one ends: the database sync between them and the next pass's sync of
/// the WAL carry what it wrote meanwhile.
const OUTPACED_GROWTH: u64 = 2;
/// Of what a catch-up pass left for the next one, the most the writer may commit during that
/// next pass while it outpaces the passes (1/N): each pass then copies at most half as much
/// as the one before, so the catch-up ends with a short pause, the writer slowed meanwhile
/// rather than stopped.
const PACE_DIVISOR: u64 = 2;
/// How fast a catch-up pass is taken to copy, in bytes of WAL per second, until one has
/// run: about what a 7200 rpm disk gives (a pass syncs the WAL, copies, syncs the database:
/// 4 MB in about 100 ms).
const SLOW_PASS_BYTES_PER_SEC: f64 = 40.0 * MB;

/// When automatic checkpoints run.
pub(super) struct Policy {
    /// Frames not yet checkpointed that call for a PASSIVE.
    passive_frames: u64,
    /// Frames in the WAL that call for a RESTART (the WAL is not wrapping).
    restart_frames: u64,
    /// Frames in the WAL past which a RESTART may pause the writer longer.
    limit_frames: u64,
    /// How long automatic RESTARTs wait after the first one that gave up on readers.
    restart_backoff: Duration,
    /// [`SLOW_PASS_BYTES_PER_SEC`] in frames.
    slow_pass_frames_per_sec: f64,
}

impl Policy {
    /// The configured thresholds, in frames of pages of `page_size` bytes.
    pub(super) fn new(config: &Config, page_size: i64) -> Policy {
        let frame_bytes = (page_size.max(MIN_PAGE_SIZE) + WAL_FRAME_HEADER_BYTES) as f64;
        let frames = |mb: f64| (mb * MB / frame_bytes).ceil().max(1.0) as u64;
        let timeout = Duration::from_millis(config.checkpoint_busy_timeout_ms);
        Policy {
            passive_frames: frames(config.passive_threshold_mb),
            restart_frames: frames(config.restart_threshold_mb),
            limit_frames: frames(config.wal_hard_limit_mb.max(config.restart_threshold_mb)),
            restart_backoff: timeout.max(MIN_BACKOFF_TIMEOUT) * RESTART_BACKOFF_TIMEOUTS,
            slow_pass_frames_per_sec: SLOW_PASS_BYTES_PER_SEC / frame_bytes,
        }
    }

    /// Whether a PASSIVE catch-up, whose latest pass copied all of the WAL's first `log`
    /// frames while the writer went on to `committed`, is close enough to run its next pass
    /// with the writer paused: the pause is short and lets the WAL wrap.
    ///
    /// A `paced` writer is slower than the disk only thanks to its pace, and the passes
    /// shrink until the residual is the smallest, whatever the WAL's length.
    pub(super) fn residual_is_small(&self, committed: u64, log: i64, paced: bool) -> bool {
        let log = u64::try_from(log).unwrap_or(0);
        // The longer the WAL, the larger a residual is worth a pause to let it wrap.
        let small = if paced {
            CATCH_UP_SMALL_FRAMES
        } else {
            CATCH_UP_SMALL_FRAMES.max(log / CATCH_UP_RESIDUAL_DIVISOR)
        };
        committed.saturating_sub(log) <= small
    }

    /// Whether the WAL of such a catch-up, at `committed` frames, could pass the restart
    /// threshold before another pass ends if the writer commits `growth` frames during the
    /// next one (see `OUTPACED_GROWTH`), so the next pass runs with the writer paused
    /// however much is left.
    ///
    /// That is a writer faster than the disk (durability normal, where commits do not sync,
    /// on a slow disk) which does not keep to its pace ([`Policy::allowance`]): it outpaces
    /// every pass, so without a pause the WAL would never wrap. It then waits while the disk
    /// takes what it wrote since the latest pass.
    pub(super) fn outpaced_near_restart(&self, committed: u64, growth: u64) -> bool {
        committed.saturating_add(OUTPACED_GROWTH.saturating_mul(growth)) >= self.restart_frames
    }

    /// How many frames the writer may commit during the next pass of a catch-up whose
    /// latest pass copied `copied` frames while the writer went on to `committed`, `grown`
    /// past what that pass saw (the next pass copies them). `None` when it committed
    /// nothing since, or when, not `paced` yet, it did not outpace the pass (it committed
    /// at most 1/`PACE_DIVISOR` of what the pass copied): the passes shrink by themselves.
    /// Never so much that the WAL could pass the restart threshold before the pass after it
    /// ends; zero when it is that close already.
    pub(super) fn allowance(
        &self,
        copied: u64,
        committed: u64,
        grown: u64,
        paced: bool,
    ) -> Option<u64> {
        if grown == 0 || !paced && grown.saturating_mul(PACE_DIVISOR) <= copied {
            return None;
        }
        Some((grown / PACE_DIVISOR).min(self.room(committed)))
    }

    /// Half of what is left below the restart threshold with `committed` frames in the WAL:
    /// the writer may commit as much during the next pass and again during the one after it
    /// without the WAL passing the threshold. What it may commit during a catch-up's first
    /// pass.
    pub(super) fn room(&self, committed: u64) -> u64 {
        self.restart_frames
            .saturating_sub(committed)
            .saturating_sub(1)
            / OUTPACED_GROWTH
    }

    /// How the writer spends `room` during a catch-up's first pass over `backlog` frames when
    /// no first pass ran before: half of it at once, which lasts a fast disk's whole pass, and
    /// the other half spread over the time the pass would take on a slow disk, so that it does
    /// not wait out the rest of a slow pass before one batch. The burst and the frames per
    /// second; `None` without a backlog.
    pub(super) fn unknown_first_pass_pace(&self, room: u64, backlog: u64) -> Option<(u64, f64)> {
        let seconds = backlog as f64 / self.slow_pass_frames_per_sec;
        let burst = room / 2;
        (backlog > 0).then(|| (burst, (room - burst) as f64 / seconds))
    }
}

/// Frames per second at which the writer spreads `allowance` over the next pass of a
/// catch-up, which copies `grown` frames at the rate the latest one copied `copied` in
/// `took`; `None` when that rate is unknown.
pub(super) fn pace_rate(allowance: u64, grown: u64, copied: u64, took: Duration) -> Option<f64> {
    let seconds = took.as_secs_f64();
    if grown == 0 || copied == 0 || seconds <= 0.0 {
        return None;
    }
    let rate = allowance as f64 * copied as f64 / (grown as f64 * seconds);
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// An automatic checkpoint the policy asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Due {
    /// The mode to run.
    pub(super) mode: CheckpointMode,
    /// The threshold that was crossed.
    pub(super) reason: CheckpointReason,
}

/// What the WAL holds and how much of it is copied, shared by the writer (after each
/// commit) and the scheduler thread (after each checkpoint).
pub(super) struct TriggerState {
    /// The WAL hook's frame count at the latest commit.
    frames: u64,
    /// Frames of the current WAL generation known to be checkpointed.
    backfilled: u64,
    /// Counts WAL restarts seen by commits, so a checkpoint's counts are applied only to
    /// the generation they describe.
    generation: u64,
    /// The salt of the WAL header at the latest commit: it changes when the WAL restarts.
    salt: u64,
    /// WAL frames when the latest automatic PASSIVE was requested.
    passive_requested_at: u64,
    /// No RESTART before this instant (after one gave up on readers).
    restart_not_before: Instant,
    /// Automatic RESTARTs in a row that gave up on readers.
    restarts_given_up: u32,
    /// When the latest commit happened: idle work waits for a quiet stretch after it.
    last_commit: Instant,
    /// Idle work has run since the latest commit (nothing more to do until the next one).
    idle_work_done: bool,
}

impl TriggerState {
    /// A WAL with nothing to do yet.
    pub(super) fn new(now: Instant) -> TriggerState {
        TriggerState {
            frames: 0,
            backfilled: 0,
            generation: 0,
            salt: 0,
            passive_requested_at: 0,
            restart_not_before: now,
            restarts_given_up: 0,
            last_commit: now,
            idle_work_done: true,
        }
    }

    /// Records a commit, the WAL hook's frame count after it and the WAL header's salt;
    /// returns the backlog (frames not yet checkpointed).
    ///
    /// The WAL restarted when its salt changed. A smaller frame count says so too, but a
    /// first commit after a restart that is larger than the old WAL does not.
    pub(super) fn record_commit(&mut self, frames: u64, salt: u64, now: Instant) -> u64 {
        if frames < self.frames || salt != self.salt {
            // The WAL restarted from its beginning: nothing of it is checkpointed yet.
            self.generation += 1;
            self.backfilled = 0;
            self.passive_requested_at = 0;
            self.restarts_given_up = 0;
            self.salt = salt;
        }
        self.frames = frames;
        self.last_commit = now;
        self.idle_work_done = false;
        self.backlog()
    }

    /// The checkpoint to request after a commit, if a threshold is crossed. Called only
    /// while no checkpoint runs.
    pub(super) fn due(&mut self, policy: &Policy, now: Instant) -> Option<Due> {
        if self.frames >= policy.restart_frames && now >= self.restart_not_before {
            // The WAL has not wrapped: PASSIVE is not keeping up (often a reader pins it).
            let reason = if self.frames >= policy.limit_frames {
                CheckpointReason::Limit
            } else {
                CheckpointReason::Restart
            };
            return Some(Due {
                mode: CheckpointMode::Restart,
                reason,
            });
        }
        let spacing = policy.passive_frames / PASSIVE_SPACING_DIVISOR;
        if self.backlog() >= policy.passive_frames
            && self.frames >= self.passive_requested_at + spacing
        {
            self.passive_requested_at = self.frames;
            return Some(Due {
                mode: CheckpointMode::Passive,
                reason: CheckpointReason::Passive,
            });
        }
        None
    }

    /// Frames of the current WAL generation known to be checkpointed.
    pub(super) fn backfilled(&self) -> u64 {
        self.backfilled
    }

    /// The WAL generation now; pass it back to [`TriggerState::record_checkpoint`].
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Applies what a checkpoint that started in `generation` reported, unless the WAL
    /// restarted since; returns the new backlog when it was applied.
    pub(super) fn record_checkpoint(
        &mut self,
        generation: u64,
        result: &CheckpointResult,
    ) -> Option<u64> {
        if self.generation != generation || result.log_frames < 0 {
            return None;
        }
        if result.log_frames == 0 {
            self.frames = 0; // a TRUNCATE emptied it
        }
        self.backfilled = result.checkpointed_frames.max(0) as u64;
        Some(self.backlog())
    }

    /// An automatic RESTART (or the checkpoint itself) gave up: no RESTART for a while,
    /// twice as long as last time when the previous one gave up too.
    pub(super) fn back_off_restart(&mut self, policy: &Policy, now: Instant) {
        let doublings = self.restarts_given_up.min(MAX_BACKOFF_DOUBLINGS);
        self.restart_not_before = now + policy.restart_backoff * (1 << doublings);
        self.restarts_given_up = self.restarts_given_up.saturating_add(1);
    }

    /// An automatic RESTART succeeded: the next one that gives up backs off from the start.
    pub(super) fn restart_succeeded(&mut self) {
        self.restarts_given_up = 0;
    }

    /// Whether idle work is due: nothing committed for `idle` and none done since.
    pub(super) fn idle_work_due(&self, idle: Duration) -> bool {
        !self.idle_work_done && self.last_commit.elapsed() >= idle
    }

    /// Idle work finished: none again until the next commit.
    pub(super) fn idle_work_done(&mut self) {
        self.idle_work_done = true;
    }

    /// Frames of the current WAL generation not yet checkpointed.
    fn backlog(&self) -> u64 {
        self.frames.saturating_sub(self.backfilled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WAL header's salt of the generation the tests start in.
    const SALT: u64 = 7;

    /// 1 MB passive and 2 MB restart thresholds with 4 KiB pages (4120-byte frames): 255
    /// and 510 frames.
    fn policy() -> Policy {
        let config = Config {
            passive_threshold_mb: 1.0,
            restart_threshold_mb: 2.0,
            checkpoint_busy_timeout_ms: 100,
            wal_hard_limit_mb: 4.0,
            ..Config::default()
        };
        Policy::new(&config, 4096)
    }

    fn passive() -> Option<Due> {
        Some(Due {
            mode: CheckpointMode::Passive,
            reason: CheckpointReason::Passive,
        })
    }

    fn restart() -> Option<Due> {
        Some(Due {
            mode: CheckpointMode::Restart,
            reason: CheckpointReason::Restart,
        })
    }

    fn copied(log_frames: i64, checkpointed_frames: i64) -> CheckpointResult {
        CheckpointResult {
            mode: CheckpointMode::Passive,
            log_frames,
            checkpointed_frames,
            busy: false,
        }
    }

    #[test]
    fn thresholds_are_counted_in_frames_of_page_and_header() {
        let policy = policy();
        assert_eq!(policy.passive_frames, 255);
        assert_eq!(policy.restart_frames, 510);
        assert_eq!(policy.limit_frames, 1019);
        assert_eq!(policy.restart_backoff, Duration::from_millis(500));
    }

    #[test]
    fn a_passive_is_asked_for_at_the_threshold_then_spaced_out() {
        let (policy, now) = (policy(), Instant::now());
        let mut st = TriggerState::new(now);
        assert_eq!(st.record_commit(254, SALT, now), 254);
        assert_eq!(st.due(&policy, now), None);
        st.record_commit(255, SALT, now);
        assert_eq!(st.due(&policy, now), passive());
        // Not again until a quarter of the threshold (63 frames) more has been written.
        st.record_commit(255 + 62, SALT, now);
        assert_eq!(st.due(&policy, now), None);
        st.record_commit(255 + 63, SALT, now);
        assert_eq!(st.due(&policy, now), passive());
    }

    #[test]
    fn checkpointed_frames_lower_the_backlog_of_their_generation_only() {
        let (policy, now) = (policy(), Instant::now());
        let mut st = TriggerState::new(now);
        st.record_commit(300, SALT, now);
        let generation = st.generation();
        assert_eq!(st.record_checkpoint(generation, &copied(300, 300)), Some(0));
        assert_eq!(st.record_commit(310, SALT, now), 10);
        assert_eq!(st.due(&policy, now), None);
        // The WAL restarts: counts from before describe another generation.
        assert_eq!(st.record_commit(20, SALT, now), 20);
        assert_eq!(st.record_checkpoint(generation, &copied(310, 310)), None);
        assert_eq!(st.record_commit(30, SALT, now), 30);
    }

    #[test]
    fn a_restart_is_seen_by_its_new_salt_even_when_the_wal_grew() {
        let now = Instant::now();
        let mut st = TriggerState::new(now);
        st.record_commit(10, SALT, now);
        let generation = st.generation();
        assert_eq!(st.record_checkpoint(generation, &copied(10, 10)), Some(0));
        // The first commit after the WAL restarted is larger than the whole old WAL.
        assert_eq!(st.record_commit(50, SALT + 1, now), 50);
        assert_ne!(st.generation(), generation);
    }

    #[test]
    fn a_restart_is_asked_for_when_the_wal_does_not_wrap_and_backs_off() {
        let (policy, now) = (policy(), Instant::now());
        let mut st = TriggerState::new(now);
        st.record_commit(510, SALT, now);
        assert_eq!(st.due(&policy, now), restart());
        st.back_off_restart(&policy, now);
        // Within the backoff a PASSIVE is asked for instead.
        assert_eq!(st.due(&policy, now + Duration::from_millis(499)), passive());
        assert_eq!(st.due(&policy, now + Duration::from_millis(500)), restart());
    }

    #[test]
    fn restarts_that_keep_giving_up_back_off_exponentially_until_one_succeeds() {
        let (policy, now) = (policy(), Instant::now());
        let mut st = TriggerState::new(now);
        st.record_commit(510, SALT, now);
        let ms = Duration::from_millis;
        let mut at = now;
        for expected in [500, 1000, 2000, 4000, 8000, 16000, 32000, 32000] {
            st.back_off_restart(&policy, at);
            assert_ne!(st.due(&policy, at + ms(expected - 1)), restart());
            assert_eq!(st.due(&policy, at + ms(expected)), restart());
            at += ms(expected);
        }
        st.restart_succeeded();
        st.back_off_restart(&policy, at);
        assert_eq!(st.due(&policy, at + ms(500)), restart());
    }

    #[test]
    fn past_the_hard_limit_the_restart_says_so() {
        let (policy, now) = (policy(), Instant::now());
        let mut st = TriggerState::new(now);
        st.record_commit(1018, SALT, now);
        assert_eq!(st.due(&policy, now), restart());
        st.record_commit(1019, SALT, now);
        assert_eq!(
            st.due(&policy, now),
            Some(Due {
                mode: CheckpointMode::Restart,
                reason: CheckpointReason::Limit,
            })
        );
    }

    #[test]
    fn a_catch_up_pauses_the_writer_for_a_small_residual_or_before_the_restart_threshold() {
        let policy = policy();
        // At most 64 frames (or an eighth of the WAL) committed during the pass: small.
        assert!(policy.residual_is_small(300 + 64, 300, false));
        assert!(policy.residual_is_small(800 + 100, 800, false));
        assert!(!policy.residual_is_small(300 + 65, 300, false));
        // A WAL that restarted since the pass (fewer frames now): a short pause wraps it.
        assert!(policy.residual_is_small(10, 300, false));
        // A paced writer: the passes shrink until 64 frames are left, whatever the WAL.
        assert!(!policy.residual_is_small(800 + 65, 800, true));
        assert!(policy.residual_is_small(800 + 64, 800, true));
        // Twice as much more stays below 510 frames: not yet.
        assert!(!policy.outpaced_near_restart(300 + 65, 65));
        assert!(!policy.outpaced_near_restart(200 + 100, 100));
        // Twice as much more would reach 510 frames or pass them: pause whatever is left.
        assert!(policy.outpaced_near_restart(300 + 70, 70));
        assert!(policy.outpaced_near_restart(600 + 300, 300));
    }

    #[test]
    fn a_writer_that_outpaces_a_pass_may_commit_half_of_what_the_next_one_copies() {
        let policy = policy();
        // The pass copied 100 frames while the writer committed 50 more: it keeps up.
        assert_eq!(policy.allowance(100, 150, 50, false), None);
        // 60 more: half of them during the next pass, which copies the 60.
        assert_eq!(policy.allowance(100, 160, 60, false), Some(30));
        // Once paced, it stays paced while the passes shrink.
        assert_eq!(policy.allowance(100, 150, 50, true), Some(25));
        // Nothing committed since the pass: nothing to pace.
        assert_eq!(policy.allowance(100, 100, 0, true), None);
        // Never so much that twice as much would reach the restart threshold (510 frames).
        assert_eq!(policy.allowance(100, 400, 300, false), Some(54));
        assert!(!policy.outpaced_near_restart(400, 54));
        assert!(policy.outpaced_near_restart(400, 55));
        assert_eq!(policy.allowance(100, 509, 300, false), Some(0));
        assert_eq!(policy.allowance(100, 600, 300, false), Some(0));
    }

    #[test]
    fn the_pace_spreads_the_allowance_over_the_time_the_next_pass_should_take() {
        // 100 frames copied in 10 ms: the next pass's 200 should take 20 ms, over which
        // 100 frames are 5,000 a second.
        let rate = pace_rate(100, 200, 100, Duration::from_millis(10)).unwrap();
        assert!((rate - 5_000.0).abs() < 1e-6, "{rate}");
        assert_eq!(pace_rate(100, 0, 100, Duration::from_millis(10)), None);
        assert_eq!(pace_rate(100, 200, 0, Duration::from_millis(10)), None);
        assert_eq!(pace_rate(100, 200, 100, Duration::ZERO), None);
        assert_eq!(pace_rate(0, 200, 100, Duration::from_millis(10)), None);
    }

    #[test]
    fn an_unknown_first_pass_gets_half_the_room_at_once_and_the_rest_at_a_slow_disks_pace() {
        let policy = Policy::new(&Config::default(), 4096);
        let (burst, rate) = policy.unknown_first_pass_pace(200, 1_000).unwrap();
        assert_eq!(burst, 100);
        // 1,000 frames of 4,120 bytes at 40 MB/s take 98 ms, over which 100 frames are
        // about 1,018 a second.
        let seconds = 1_000.0 * 4_120.0 / SLOW_PASS_BYTES_PER_SEC;
        assert!((rate * seconds - 100.0).abs() < 1e-6, "{rate}");
        assert_eq!(policy.unknown_first_pass_pace(200, 0), None);
    }

    #[test]
    fn idle_work_is_due_once_per_quiet_stretch() {
        let now = Instant::now();
        let mut st = TriggerState::new(now);
        assert!(!st.idle_work_due(Duration::ZERO));
        st.record_commit(1, SALT, now);
        assert!(st.idle_work_due(Duration::ZERO));
        st.idle_work_done();
        assert!(!st.idle_work_due(Duration::ZERO));
    }
}
