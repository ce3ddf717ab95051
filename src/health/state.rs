//! The rise/fall state machine of one target (L0, pure): consecutive results decide when the
//! status flips, so an endpoint that alternates faster than the thresholds never flaps DNS.
//! Imports nothing of the crate.

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Up,
    Down,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// What one probe result says about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The check passed.
    Pass,
    /// The target failed the check.
    Fail,
    /// The probe could not run for a reason on this host (no descriptor, buffer, memory or
    /// ephemeral port): it says nothing about the target, so it neither raises nor lowers it.
    Local,
}

/// A status flip, reported once per flip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
}

/// Per-target hysteresis: `rise` consecutive successes to come up, `fall` consecutive failures
/// to go down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub status: Status,
    ok_run: u32,
    fail_run: u32,
    /// Results seen since start (0 until the first probe round reports).
    pub probes: u64,
}

impl TargetState {
    pub fn new(initial: Status) -> TargetState {
        TargetState {
            status: initial,
            ok_run: 0,
            fail_run: 0,
            probes: 0,
        }
    }

    /// Folds one probe result in; returns the transition when the status flips.
    pub fn apply(&mut self, ok: bool, rise: u32, fall: u32) -> Option<Transition> {
        self.observe(if ok { Verdict::Pass } else { Verdict::Fail }, rise, fall)
    }

    /// Folds one verdict in; returns the transition when the status flips. A [`Verdict::Local`]
    /// counts as a result seen (the first round completes) but leaves the status and both runs
    /// as they were: `fall` failures in a row stay in a row across it, and so do `rise` passes.
    pub fn observe(&mut self, verdict: Verdict, rise: u32, fall: u32) -> Option<Transition> {
        self.probes += 1;
        let ok = match verdict {
            Verdict::Pass => true,
            Verdict::Fail => false,
            Verdict::Local => return None,
        };
        if ok {
            self.ok_run = self.ok_run.saturating_add(1);
            self.fail_run = 0;
        } else {
            self.fail_run = self.fail_run.saturating_add(1);
            self.ok_run = 0;
        }
        let to = match self.status {
            Status::Down if self.ok_run >= rise.max(1) => Status::Up,
            Status::Up if self.fail_run >= fall.max(1) => Status::Down,
            s => s,
        };
        if to == self.status {
            return None;
        }
        let t = Transition { from: self.status, to };
        self.status = to;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a result sequence ("+" ok, "-" fail) and returns the status after each step.
    fn run(initial: Status, rise: u32, fall: u32, seq: &str) -> String {
        let mut s = TargetState::new(initial);
        seq.chars()
            .map(|c| {
                s.apply(c == '+', rise, fall);
                if s.status == Status::Up {
                    'U'
                } else {
                    'D'
                }
            })
            .collect()
    }

    #[test]
    fn table_of_sequences() {
        let cases = [
            // (initial, rise, fall, results, statuses)
            (Status::Up, 2, 3, "+++", "UUU"),
            (Status::Up, 2, 3, "--+--+", "UUUUUU"),
            (Status::Up, 2, 3, "---", "UUD"),
            (Status::Up, 2, 3, "---+", "UUDD"),
            (Status::Up, 2, 3, "---++", "UUDDU"),
            (Status::Up, 2, 3, "---+-++", "UUDDDDU"),
            (Status::Down, 2, 3, "+", "D"),
            (Status::Down, 2, 3, "++", "DU"),
            (Status::Down, 1, 1, "+-+-", "UDUD"),
            // alternating faster than the thresholds: no flap
            (Status::Up, 2, 2, "+-+-+-+-", "UUUUUUUU"),
            (Status::Down, 2, 2, "+-+-+-+-", "DDDDDDDD"),
            // zero thresholds behave as one
            (Status::Up, 0, 0, "-+", "DU"),
        ];
        for (init, rise, fall, seq, want) in cases {
            assert_eq!(
                run(init, rise, fall, seq),
                want,
                "{init:?} rise {rise} fall {fall} {seq}"
            );
        }
    }

    #[test]
    fn local_failures_neither_lower_nor_raise() {
        // "L" a local failure, "+" pass, "-" fail; statuses after each step.
        let cases = [
            (Status::Up, 2, 1, "LLLLL", "UUUUU"),
            (Status::Up, 2, 2, "-L-", "UUD"),
            (Status::Up, 2, 2, "-L+-", "UUUU"),
            (Status::Down, 2, 2, "LLLL", "DDDD"),
            (Status::Down, 2, 2, "+L+", "DDU"),
            (Status::Down, 1, 1, "L+L-L", "DUUDD"),
        ];
        for (init, rise, fall, seq, want) in cases {
            let mut s = TargetState::new(init);
            let got: String = seq
                .chars()
                .map(|c| {
                    let v = match c {
                        '+' => Verdict::Pass,
                        '-' => Verdict::Fail,
                        _ => Verdict::Local,
                    };
                    s.observe(v, rise, fall);
                    if s.status == Status::Up {
                        'U'
                    } else {
                        'D'
                    }
                })
                .collect();
            assert_eq!(got, want, "{init:?} rise {rise} fall {fall} {seq}");
            assert_eq!(s.probes, seq.len() as u64);
        }
    }

    #[test]
    fn transitions_are_reported_once() {
        let mut s = TargetState::new(Status::Up);
        assert_eq!(s.apply(false, 2, 2), None);
        assert_eq!(
            s.apply(false, 2, 2),
            Some(Transition {
                from: Status::Up,
                to: Status::Down
            })
        );
        assert_eq!(s.apply(false, 2, 2), None);
        assert_eq!(s.probes, 3);
    }
}
