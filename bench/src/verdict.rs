//! Verdicts on a benchmark's targets. A target is met or MISSED only when the run produced
//! the situation it is about; otherwise it is "not reached" (for example a WAL limit in a
//! run too short to fill the WAL). A smoke run judges nothing. A MISSED target fails the
//! run unless `--no-fail` is given.

use std::fmt;

/// What a run shows about one target.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Met,
    Missed,
    /// The condition the target is about never occurred; the reason says which.
    NotReached(String),
    /// A smoke run: too small and too noisy to judge.
    NotJudged,
}

impl Verdict {
    /// Met or MISSED by `ok`, when the condition occurred (`reached`); otherwise not reached
    /// because of `why`.
    pub fn of(reached: bool, ok: bool, why: &str) -> Verdict {
        match (reached, ok) {
            (false, _) => Verdict::NotReached(why.to_string()),
            (true, true) => Verdict::Met,
            (true, false) => Verdict::Missed,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Met => f.write_str("met"),
            Verdict::Missed => f.write_str("MISSED"),
            Verdict::NotReached(why) => write!(f, "not reached ({why})"),
            Verdict::NotJudged => f.write_str("smoke: not judged"),
        }
    }
}

/// Collects the verdicts of one run.
pub struct Judge {
    smoke: bool,
    missed: Vec<String>,
}

impl Judge {
    /// `smoke`: every verdict is "not judged".
    pub fn new(smoke: bool) -> Judge {
        Judge {
            smoke,
            missed: Vec::new(),
        }
    }

    /// The verdict to print for `target`, remembering a MISSED one.
    pub fn judge(&mut self, target: &str, verdict: Verdict) -> Verdict {
        if self.smoke {
            return Verdict::NotJudged;
        }
        if verdict == Verdict::Missed {
            self.missed.push(target.to_string());
        }
        verdict
    }

    /// `Err` naming the MISSED targets; with `no_fail`, a line of output names them instead.
    pub fn finish(self, no_fail: bool) -> Result<(), String> {
        if self.missed.is_empty() {
            return Ok(());
        }
        let missed = format!(
            "{} target(s) MISSED: {}",
            self.missed.len(),
            self.missed.join("; ")
        );
        if no_fail {
            println!("{missed} (reported without failing the run)");
            return Ok(());
        }
        Err(format!(
            "{missed} (pass --no-fail, or BENCH_NO_FAIL=1 to make, to report without failing)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_fails_the_run_unless_no_fail() {
        let mut judge = Judge::new(false);
        assert_eq!(judge.judge("a", Verdict::of(true, true, "")), Verdict::Met);
        assert_eq!(
            judge.judge("b", Verdict::of(true, false, "")),
            Verdict::Missed
        );
        let err = judge.finish(false).unwrap_err();
        assert!(err.contains("1 target(s) MISSED: b"), "{err}");

        let mut judge = Judge::new(false);
        judge.judge("b", Verdict::Missed);
        assert!(judge.finish(true).is_ok());
    }

    #[test]
    fn a_condition_that_never_occurred_is_not_reached_and_does_not_fail() {
        let mut judge = Judge::new(false);
        let v = judge.judge("wal", Verdict::of(false, true, "no checkpoint ran"));
        assert_eq!(v.to_string(), "not reached (no checkpoint ran)");
        let v = judge.judge("wal", Verdict::of(false, false, "no checkpoint ran"));
        assert!(matches!(v, Verdict::NotReached(_)));
        assert!(judge.finish(false).is_ok());
    }

    #[test]
    fn a_smoke_run_judges_nothing() {
        let mut judge = Judge::new(true);
        assert_eq!(
            judge.judge("a", Verdict::Missed).to_string(),
            "smoke: not judged"
        );
        assert!(judge.finish(false).is_ok());
    }
}
