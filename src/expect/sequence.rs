//! The judge of one expectation: a pure state machine fed observations in
//! receive order, that decides when the expect has passed or failed.
//!
//! ```text
//! Judge::new(&expectation)          // or .waiting_for_action()
//!   observe(&observation) -> Option<Verdict>   // each observation, in order
//!   tick(now)             -> Option<Verdict>   // at next_deadline(), without news
//!   end(now)              -> Verdict           // scenario timeout / end of recording
//! ```
//!
//! Time is data: every `Duration` is relative to the start of the recording
//! (the same clock as [`Observation::at`]); the judge never reads a clock.
//!
//! The format's semantics, as implemented here:
//! - Rule 2: each snapshot is offered to the current step; a match advances
//!   the sequence and the same snapshot is offered to the next step at once
//!   (coalesced updates satisfy several steps, recorded at the same time).
//! - Rule 3: snapshots that match no step are ignored (unless `never`).
//! - Rule 4: a step must match *before* `anchor + within` (half-open: at the
//!   deadline it is late), where the anchor is the previous match, the end of
//!   the previous step's hold, or for the first step the `actionFinished`
//!   marker (re-anchored by it while the first step is pending; with
//!   [`Judge::waiting_for_action`] there is no deadline before it).
//! - Rule 5: a step with `holdFor` matched at `t` must hold for every snapshot
//!   received before `t + holdFor`; at `t + holdFor` the next step starts and
//!   is offered the latest snapshot (the object is still in that state).
//! - Rule 6: every `never` state is checked on every snapshot (and on every
//!   Event, for states that name Events) until the verdict; it fails at once.
//! - Rule 7: see [`super::fail_fast`]: checked on each new snapshot against
//!   the steps that were remaining when it arrived (so a snapshot that
//!   matches a step naming the failure is not a failure). A named target's
//!   deletion while no remaining step expects `deleted: true` is a failure at
//!   once too (`TargetDeleted`); `fail_fast: false` disables both.
//! - Rule 8: gaps are kept; a missed deadline or an end while a gap overlaps
//!   the wait says so in the failure.
//! - Selector targets: objects are tracked by uid (`namespace/name` when a
//!   hand-written object has no uid). A step holds when at least `count`
//!   (default: all candidates, and at least one) of the candidates satisfy
//!   it in the same snapshot-state. Candidates are the objects that exist;
//!   for a state with `deleted: true` also those that were deleted.
//! - Named targets: the state is judged on the object most recently seen
//!   (so a recreated namesake replaces a deleted one); before the first
//!   snapshot nothing holds.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::fail_fast::{self, Diagnosis};
use super::labels::label_for;
use super::matchers::{Condition, Explanation, diff_against, why_not};
use super::state::{Expectation, Matcher, State, Target};
use super::snapshot::Snapshot;
use super::timeline::{Observation, Timeline};

/// A period when the watch was interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub start: Duration,
    pub end: Duration,
    pub reason: String,
}

impl Gap {
    fn overlaps(&self, from: Duration, to: Duration) -> bool {
        // A gap ending exactly at the anchor (a relist that matched the
        // previous step) may still have hidden the states after it.
        self.start < to && self.end >= from
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the watch was interrupted from {} to {} ({})",
            ms(self.start),
            ms(self.end),
            self.reason
        )
    }
}

/// When a step of the sequence matched, and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepMatch {
    /// Index into the sequence.
    pub step: usize,
    /// The state's label for reports.
    pub state: String,
    /// When it matched (the receive time of the matching observation, or the
    /// end of the previous step's hold).
    pub at: Duration,
    /// Index (0-based, in feed order) of the observation whose snapshot matched.
    pub observation: usize,
    /// `Kind/name@resourceVersion` of each object that satisfied the state.
    pub objects: Vec<String>,
    /// For `holdFor` steps: when the hold completed.
    pub held_until: Option<Duration>,
}

/// How many objects of a selector held a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub satisfied: usize,
    pub required: usize,
    pub candidates: usize,
}

/// Why an expect failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A step did not match within its deadline.
    DeadlineMissed {
        step: usize,
        state: String,
        within: Duration,
        /// From the anchor to the failure (equal to `within`).
        waited: Duration,
        last_object: Option<Value>,
        why_not: Explanation,
        /// Unified diff of the last object's relevant parts against the state.
        diff: String,
        selection: Option<Selection>,
        /// A gap overlapping the wait, which may explain the miss.
        gap: Option<Gap>,
    },
    /// A `never` state was observed.
    NeverViolated {
        state: String,
        at: Duration,
        observation: usize,
        object: Option<Value>,
    },
    /// A terminal failure no remaining step names.
    FailFast {
        step: usize,
        state: String,
        diagnosis: Diagnosis,
        at: Duration,
        observation: usize,
        object: Value,
    },
    /// A `holdFor` step stopped holding before its time was up.
    HoldBroken {
        step: usize,
        state: String,
        matched_at: Duration,
        hold_for: Duration,
        broken_at: Duration,
        observation: usize,
        object: Option<Value>,
        why_not: Explanation,
    },
    /// The (named) target was deleted while the remaining steps need it.
    TargetDeleted {
        step: usize,
        state: String,
        at: Duration,
        observation: usize,
        last_object: Value,
    },
    /// The expect was ended (scenario timeout, end of the recording) before
    /// the sequence completed.
    Ended {
        step: usize,
        state: String,
        at: Duration,
        /// Since the step's anchor (if it had one).
        waited: Option<Duration>,
        last_object: Option<Value>,
        why_not: Explanation,
        diff: String,
        selection: Option<Selection>,
        gap: Option<Gap>,
    },
}

/// How an expect ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(Box<Failure>),
}

/// The decision about an expect, with the record of its matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// When the decision was made.
    pub at: Duration,
    /// Each step that matched, in order.
    pub matches: Vec<StepMatch>,
    /// Every gap seen while judging.
    pub gaps: Vec<Gap>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }

    /// Rewrites every observation index (of the matches and of the
    /// failure) with `new_index`, for a timeline that was re-ordered after
    /// judging (see `Timeline::into_receive_order`).
    pub fn renumber_observations(&mut self, new_index: impl Fn(usize) -> usize) {
        for m in &mut self.matches {
            m.observation = new_index(m.observation);
        }
        if let Outcome::Failed(failure) = &mut self.outcome {
            match failure.as_mut() {
                Failure::NeverViolated { observation, .. }
                | Failure::FailFast { observation, .. }
                | Failure::HoldBroken { observation, .. }
                | Failure::TargetDeleted { observation, .. } => *observation = new_index(*observation),
                Failure::DeadlineMissed { .. } | Failure::Ended { .. } => {}
            }
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Passed => None,
            Outcome::Failed(failure) => Some(failure),
        }
    }
}

/// Milliseconds, humanly: `1.5s`, `250ms`, `2m 3s`.
fn ms(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let explain = |f: &mut fmt::Formatter<'_>, why: &Explanation| -> fmt::Result {
            for line in why.to_string().lines() {
                write!(f, "\n  not met: {line}")?;
            }
            Ok(())
        };
        let selection = |f: &mut fmt::Formatter<'_>, s: &Option<Selection>| -> fmt::Result {
            if let Some(s) = s {
                write!(
                    f,
                    "\n  {} of {} selected objects held it, {} needed",
                    s.satisfied, s.candidates, s.required
                )?;
            }
            Ok(())
        };
        let gap_note = |f: &mut fmt::Formatter<'_>, gap: &Option<Gap>| -> fmt::Result {
            if let Some(gap) = gap {
                write!(
                    f,
                    "\n  note: {gap}; the state may have come and gone unseen"
                )?;
            }
            Ok(())
        };
        match self {
            Failure::DeadlineMissed {
                step,
                state,
                within,
                why_not,
                selection: s,
                gap,
                ..
            } => {
                write!(
                    f,
                    "step {} \"{state}\" was not reached within {}",
                    step + 1,
                    ms(*within)
                )?;
                explain(f, why_not)?;
                selection(f, s)?;
                gap_note(f, gap)
            }
            Failure::NeverViolated {
                state, at, object, ..
            } => {
                write!(f, "never-state \"{state}\" was observed at {}", ms(*at))?;
                match object {
                    Some(object) => write!(
                        f,
                        " on {} ({})",
                        fail_fast::object_ref(object),
                        label_for(Some(object))
                    ),
                    None => write!(f, " (the object was gone)"),
                }
            }
            Failure::FailFast {
                step,
                state,
                diagnosis,
                at,
                ..
            } => write!(
                f,
                "{diagnosis} (at {}, while expecting step {} \"{state}\"; fail fast: no remaining step names {})",
                ms(*at),
                step + 1,
                diagnosis.kind.keyword()
            ),
            Failure::HoldBroken {
                step,
                state,
                matched_at,
                hold_for,
                broken_at,
                why_not,
                ..
            } => {
                write!(
                    f,
                    "step {} \"{state}\" matched at {} but stopped holding at {}, before its {} hold",
                    step + 1,
                    ms(*matched_at),
                    ms(*broken_at),
                    ms(*hold_for)
                )?;
                explain(f, why_not)
            }
            Failure::TargetDeleted {
                step,
                state,
                at,
                last_object,
                ..
            } => write!(
                f,
                "{} was deleted at {} while expecting step {} \"{state}\"",
                fail_fast::object_ref(last_object),
                ms(*at),
                step + 1
            ),
            Failure::Ended {
                step,
                state,
                at,
                waited,
                why_not,
                selection: s,
                gap,
                ..
            } => {
                write!(
                    f,
                    "the expect ended at {} before step {} \"{state}\" was reached",
                    ms(*at),
                    step + 1
                )?;
                if let Some(waited) = waited {
                    write!(f, " (waited {})", ms(*waited))?;
                }
                explain(f, why_not)?;
                selection(f, s)?;
                gap_note(f, gap)
            }
        }
    }
}

/// One object the judge tracks.
#[derive(Debug, Clone)]
struct Tracked {
    key: String,
    /// Its latest snapshot, compact: parsed when a state is judged on it,
    /// which the memo below makes once per change.
    last: Snapshot,
    gone: bool,
    /// Feed index of the last observation about it, to find the current one.
    last_seen: usize,
    /// Whether this snapshot holds the state of a step, remembered so that
    /// a selector over many objects re-judges only the object that changed
    /// (see [`Judge::evaluate`]).
    holds_memo: Cell<Option<Memo>>,
}

/// A remembered answer of `State::holds` for one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Memo {
    step: usize,
    /// How many Events the answer saw, for states that name Events (their
    /// answer can change when one arrives); 0 for the others.
    events: usize,
    holds: bool,
}


/// Where the judge is in the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Waiting for `step` to match; its deadline counts from `since` (none
    /// yet when waiting for the action to finish).
    Seeking {
        step: usize,
        since: Option<Duration>,
    },
    /// `step` matched at `matched_at` and must hold until `until`.
    Holding {
        step: usize,
        matched_at: Duration,
        until: Duration,
    },
    /// A verdict was given.
    Done,
}

/// The sequence state machine for one [`Expectation`].
#[derive(Debug, Clone)]
pub struct Judge {
    expectation: Expectation,
    selector: bool,
    /// Whether any state (of the sequence or `never`) names Events.
    names_events: bool,
    /// In the order first seen (reports list objects that way).
    objects: Vec<Tracked>,
    /// Key → index into `objects`: thousands of selected objects are found
    /// without a scan.
    index_of: HashMap<String, usize>,
    /// The object the last observation was about (index into `objects`),
    /// parsed: never, the current step and fail fast all judge it, and it
    /// is parsed once for all three.
    latest: Option<(usize, Value)>,
    events: Vec<Value>,
    gaps: Vec<Gap>,
    progress: Progress,
    matches: Vec<StepMatch>,
    /// How many observations were fed (the next one's index).
    fed: usize,
    /// Index of the last observation that changed an object.
    last_change: usize,
    verdict: Option<Verdict>,
}

/// How a state fares on the tracked objects right now.
struct Evaluation<'a> {
    holds: bool,
    satisfied: Vec<&'a Tracked>,
    /// The first candidate that does not satisfy it (for explanations).
    first_unsatisfied: Option<&'a Tracked>,
    selection: Selection,
}

impl Judge {
    /// A judge whose first deadline counts from time zero (or from an
    /// `actionFinished` observation, if one arrives before the first match).
    pub fn new(expectation: &Expectation) -> Judge {
        let progress = if expectation.sequence.is_empty() {
            Progress::Done
        } else {
            Progress::Seeking {
                step: 0,
                since: Some(Duration::ZERO),
            }
        };
        let mut judge = Judge {
            expectation: expectation.clone(),
            selector: matches!(expectation.target, Target::Selector { .. }),
            names_events: expectation
                .sequence
                .iter()
                .map(|s| &s.state)
                .chain(&expectation.never)
                .any(State::names_events),
            objects: Vec::new(),
            index_of: HashMap::new(),
            latest: None,
            events: Vec::new(),
            gaps: Vec::new(),
            progress,
            matches: Vec::new(),
            fed: 0,
            last_change: 0,
            verdict: None,
        };
        // An empty sequence has nothing to wait for (the loader rejects it,
        // but the judge must not hang on it).
        if judge.progress == Progress::Done {
            judge.pass(Duration::ZERO);
        }
        judge
    }

    /// No deadline for the first step until an `actionFinished` observation
    /// arrives: for an expect that follows a step that may take long.
    pub fn waiting_for_action(mut self) -> Judge {
        if let Progress::Seeking { step: 0, .. } = self.progress {
            self.progress = Progress::Seeking {
                step: 0,
                since: None,
            };
        }
        self
    }

    /// The verdict, once given.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// The steps matched so far.
    pub fn matches(&self) -> &[StepMatch] {
        &self.matches
    }

    /// When [`Judge::tick`] must be called if nothing is observed before:
    /// the current step's deadline, or the end of the current hold.
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.progress {
            Progress::Seeking {
                step,
                since: Some(since),
            } => self
                .expectation
                .sequence
                .get(step)?
                .within
                .map(|w| since + w),
            Progress::Holding { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Advance time to `now` without a new observation: completes holds and
    /// fails missed deadlines.
    pub fn tick(&mut self, now: Duration) -> Option<Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        loop {
            match self.progress {
                Progress::Holding { step, until, .. } if now >= until => {
                    if let Some(m) = self.matches.last_mut() {
                        m.held_until = Some(until);
                    }
                    if step + 1 == self.expectation.sequence.len() {
                        return self.pass(until);
                    }
                    // The next step starts after the hold, on the state the
                    // object is in now: the latest snapshot.
                    self.progress = Progress::Seeking {
                        step: step + 1,
                        since: Some(until),
                    };
                    if let Some(verdict) = self.advance(until, self.last_change) {
                        return Some(verdict);
                    }
                }
                Progress::Seeking {
                    step,
                    since: Some(since),
                } => {
                    let within = self.expectation.sequence.get(step).and_then(|s| s.within)?;
                    let deadline = since + within;
                    if now < deadline {
                        return None;
                    }
                    return self.deadline_missed(step, since, within);
                }
                _ => return None,
            }
        }
    }

    /// Offer the next observation (in receive order). Observations after a
    /// verdict are ignored.
    pub fn observe(&mut self, observation: &Observation) -> Option<Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        let index = self.fed;
        self.fed += 1;
        let at = observation.at();
        // A gap is known once the watch is back, and covers the time before:
        // record it first so that a deadline missed during it says so.
        if let Observation::Gap { start, reason, .. } = observation {
            self.gaps.push(Gap {
                start: *start,
                end: at,
                reason: reason.clone(),
            });
        }
        // Deadlines that passed before this arrived come first.
        if let Some(verdict) = self.tick(at) {
            return Some(verdict);
        }
        match observation {
            Observation::ActionFinished { .. } => {
                if let Progress::Seeking { step: 0, .. } = self.progress
                    && self.matches.is_empty()
                {
                    self.progress = Progress::Seeking {
                        step: 0,
                        since: Some(at),
                    };
                }
                None
            }
            Observation::Gap { .. } => None,
            Observation::Event { event, .. } => {
                // Only states that name Events look at them: a selector over
                // many Pods receives thousands, which are not kept otherwise.
                if !self.names_events {
                    return None;
                }
                self.events.push(event.value());
                self.after_change(at, index, &[], false)
            }
            Observation::Added { object, .. } | Observation::Modified { object, .. } => {
                let key = self.upsert(object, index, false);
                self.after_change(at, index, &[key], false)
            }
            Observation::Deleted { object, .. } => {
                let key = self.upsert(object, index, true);
                self.after_change(at, index, &[key], true)
            }
            Observation::Relisted { objects, .. } => {
                let mut keys: Vec<String> = objects
                    .iter()
                    .map(|o| self.upsert(o, index, false))
                    .collect();
                let listed: HashSet<String> = keys.iter().cloned().collect();
                // Objects missing from the list are gone; their DELETED
                // events were lost in the gap.
                for tracked in &mut self.objects {
                    if !tracked.gone && !listed.contains(&tracked.key) {
                        tracked.gone = true;
                        tracked.last_seen = index;
                        tracked.holds_memo.set(None);
                        keys.push(tracked.key.clone());
                    }
                }
                self.after_change(at, index, &keys, false)
            }
        }
    }

    /// The expect ends at `now` (scenario timeout, end of a recording):
    /// the verdict, failing with `Ended` if the sequence is not complete.
    pub fn end(&mut self, now: Duration) -> Verdict {
        if let Some(verdict) = self.tick(now) {
            return verdict;
        }
        if let Some(verdict) = &self.verdict {
            return verdict.clone();
        }
        let (step, since) = match self.progress {
            Progress::Seeking { step, since } => (step, since),
            Progress::Holding {
                step, matched_at, ..
            } => (step, Some(matched_at)),
            Progress::Done => (0, None),
        };
        let state = &self.expectation.sequence[step].state;
        let evaluation = self.evaluate(step, state);
        let last_object = self.explained_object(&evaluation);
        let failure = Failure::Ended {
            step,
            state: state.display_label(),
            at: now,
            waited: since.map(|s| now.saturating_sub(s)),
            why_not: why_not(state, last_object.as_ref(), &self.events),
            diff: diff_against(state, last_object.as_ref()),
            last_object,
            selection: self.selector.then_some(evaluation.selection),
            gap: self.gap_within(since.unwrap_or_default(), now),
        };
        self.finish(now, Outcome::Failed(Box::new(failure)))
    }

    /// Record a snapshot; returns the object's key.
    fn upsert(&mut self, snapshot: &Snapshot, index: usize, gone: bool) -> String {
        let object = snapshot.value();
        let key = object_key(&object, snapshot);
        self.last_change = index;
        let position = match self.index_of.get(&key) {
            Some(&position) => {
                let tracked = &mut self.objects[position];
                tracked.last = snapshot.clone();
                tracked.gone = gone;
                tracked.last_seen = index;
                tracked.holds_memo.set(None);
                position
            }
            None => {
                self.index_of.insert(key.clone(), self.objects.len());
                self.objects.push(Tracked {
                    key: key.clone(),
                    last: snapshot.clone(),
                    gone,
                    last_seen: index,
                    holds_memo: Cell::new(None),
                });
                self.objects.len() - 1
            }
        };
        self.latest = Some((position, object));
        key
    }

    fn tracked(&self, key: &str) -> Option<&Tracked> {
        self.index_of.get(key).map(|&position| &self.objects[position])
    }

    /// A tracked object as it is now, parsed (or borrowed when it is the
    /// one the last observation was about); `None` once it is gone.
    fn current(&self, tracked: &Tracked) -> Option<Cow<'_, Value>> {
        if tracked.gone {
            return None;
        }
        match &self.latest {
            Some((position, value)) if std::ptr::eq(&self.objects[*position], tracked) => {
                Some(Cow::Borrowed(value))
            }
            _ => Some(Cow::Owned(tracked.last.value())),
        }
    }

    /// After objects or Events changed: never, hold, advance, fail fast.
    fn after_change(
        &mut self,
        at: Duration,
        index: usize,
        changed: &[String],
        deletion: bool,
    ) -> Option<Verdict> {
        if let Some(verdict) = self.check_never(at, index, changed) {
            return Some(verdict);
        }
        let remaining_from = match self.progress {
            Progress::Seeking { step, .. } | Progress::Holding { step, .. } => step,
            Progress::Done => return None,
        };
        if let Progress::Holding {
            step,
            matched_at,
            until,
        } = self.progress
        {
            let state = &self.expectation.sequence[step].state;
            let evaluation = self.evaluate(step, state);
            if !evaluation.holds {
                let object = self.explained_object(&evaluation);
                let failure = Failure::HoldBroken {
                    step,
                    state: state.display_label(),
                    matched_at,
                    hold_for: until.saturating_sub(matched_at),
                    broken_at: at,
                    observation: index,
                    why_not: why_not(state, object.as_ref(), &self.events),
                    object,
                };
                return self.fail(at, failure);
            }
        } else if let Some(verdict) = self.advance(at, index) {
            return Some(verdict);
        }
        if !self.expectation.fail_fast {
            return None;
        }
        let current_step = match self.progress {
            Progress::Seeking { step, .. } | Progress::Holding { step, .. } => step,
            Progress::Done => return None,
        };
        let state_label = self.expectation.sequence[current_step]
            .state
            .display_label();
        for key in changed {
            let Some(object) = self.tracked(key).and_then(|t| self.current(t))
            else {
                continue;
            };
            if let Some(diagnosis) =
                fail_fast::unnamed_failure(&object, &self.expectation.sequence[remaining_from..])
            {
                let failure = Failure::FailFast {
                    step: current_step,
                    state: state_label,
                    diagnosis,
                    at,
                    observation: index,
                    object: object.into_owned(),
                };
                return self.fail(at, failure);
            }
        }
        let deletion_expected = self.expectation.sequence[current_step..].iter().any(|s| {
            s.state
                .matchers
                .iter()
                .any(|m| matches!(m, Matcher::Deleted(true)))
        });
        if deletion && !self.selector && !deletion_expected {
            let last_object = changed
                .first()
                .and_then(|key| self.tracked(key))
                .map(|t| t.last.value())
                .unwrap_or_default();
            let failure = Failure::TargetDeleted {
                step: current_step,
                state: state_label,
                at,
                observation: index,
                last_object,
            };
            return self.fail(at, failure);
        }
        None
    }

    /// Rule 6: any `never` state holding on a changed object (or, after an
    /// Event, on any current object) fails at once.
    fn check_never(&mut self, at: Duration, index: usize, changed: &[String]) -> Option<Verdict> {
        let to_check: Vec<&Tracked> = if changed.is_empty() {
            self.current_objects()
        } else {
            changed.iter().filter_map(|key| self.tracked(key)).collect()
        };
        // After an Event only states that name Events can have changed.
        let after_event = changed.is_empty();
        let violation = self.expectation.never.iter().find_map(|state| {
            if after_event && !state.names_events() {
                return None;
            }
            to_check
                .iter()
                .map(|t| self.current(t))
                .find(|object| state.holds(object.as_deref(), &self.events))
                .map(|object| (state.display_label(), object.map(Cow::into_owned)))
        });
        let (state, object) = violation?;
        self.fail(
            at,
            Failure::NeverViolated {
                state,
                at,
                observation: index,
                object,
            },
        )
    }

    /// The objects the current state is judged on: all of a selector's, or a
    /// named target's most recent one.
    fn current_objects(&self) -> Vec<&Tracked> {
        if self.selector {
            self.objects.iter().collect()
        } else {
            self.objects
                .iter()
                .max_by_key(|t| t.last_seen)
                .into_iter()
                .collect()
        }
    }

    fn evaluate<'a>(&'a self, step: usize, state: &State) -> Evaluation<'a> {
        let wants_deleted = state
            .matchers
            .iter()
            .any(|m| matches!(m, Matcher::Deleted(true)));
        let candidates: Vec<&Tracked> = self
            .current_objects()
            .into_iter()
            .filter(|t| !self.selector || !t.gone || wants_deleted)
            .collect();
        let (satisfied, unsatisfied): (Vec<&Tracked>, Vec<&Tracked>) = candidates
            .iter()
            .partition(|t| self.holds_on(step, state, t));
        let required = if self.selector {
            let count = self.expectation.sequence.get(step).and_then(|s| s.count);
            count.map_or(candidates.len(), |c| c as usize).max(1)
        } else {
            1
        };
        Evaluation {
            holds: satisfied.len() >= required,
            selection: Selection {
                satisfied: satisfied.len(),
                required,
                candidates: candidates.len(),
            },
            first_unsatisfied: unsatisfied.first().copied(),
            satisfied,
        }
    }

    /// `state.holds` on one tracked object's current snapshot, remembered
    /// until the object or the Events change: on each event a selector
    /// re-judges only the object it is about, not every candidate.
    /// (`state` is always the state of sequence step `step`.)
    fn holds_on(&self, step: usize, state: &State, tracked: &Tracked) -> bool {
        let events = if state.names_events() { self.events.len() } else { 0 };
        if let Some(memo) = tracked.holds_memo.get()
            && memo.step == step
            && memo.events == events
        {
            return memo.holds;
        }
        let holds = state.holds(self.current(tracked).as_deref(), &self.events);
        tracked.holds_memo.set(Some(Memo { step, events, holds }));
        holds
    }

    /// The object a failure explanation should show.
    fn explained_object(&self, evaluation: &Evaluation<'_>) -> Option<Value> {
        evaluation
            .first_unsatisfied
            .or_else(|| self.current_objects().first().copied())
            .and_then(|t| self.current(t))
            .map(Cow::into_owned)
    }

    /// Rule 2: offer the current objects to the current step, and on a match
    /// to the following ones.
    fn advance(&mut self, at: Duration, index: usize) -> Option<Verdict> {
        while let Progress::Seeking { step, .. } = self.progress {
            let sequence_step = &self.expectation.sequence[step];
            let evaluation = self.evaluate(step, &sequence_step.state);
            if !evaluation.holds {
                return None;
            }
            let objects = evaluation
                .satisfied
                .iter()
                .map(|t| describe_object(t))
                .collect();
            self.matches.push(StepMatch {
                step,
                state: sequence_step.state.display_label(),
                at,
                observation: index,
                objects,
                held_until: None,
            });
            if let Some(hold) = sequence_step.hold_for.filter(|h| !h.is_zero()) {
                self.progress = Progress::Holding {
                    step,
                    matched_at: at,
                    until: at + hold,
                };
                return None;
            }
            if step + 1 == self.expectation.sequence.len() {
                return self.pass(at);
            }
            self.progress = Progress::Seeking {
                step: step + 1,
                since: Some(at),
            };
        }
        None
    }

    fn deadline_missed(
        &mut self,
        step: usize,
        since: Duration,
        within: Duration,
    ) -> Option<Verdict> {
        let deadline = since + within;
        let state = &self.expectation.sequence[step].state;
        let evaluation = self.evaluate(step, state);
        let last_object = self.explained_object(&evaluation);
        let failure = Failure::DeadlineMissed {
            step,
            state: state.display_label(),
            within,
            waited: within,
            why_not: why_not(state, last_object.as_ref(), &self.events),
            diff: diff_against(state, last_object.as_ref()),
            last_object,
            selection: self.selector.then_some(evaluation.selection),
            gap: self.gap_within(since, deadline),
        };
        self.fail(deadline, failure)
    }

    fn gap_within(&self, from: Duration, to: Duration) -> Option<Gap> {
        self.gaps
            .iter()
            .rev()
            .find(|g| g.overlaps(from, to))
            .cloned()
    }

    fn pass(&mut self, at: Duration) -> Option<Verdict> {
        Some(self.finish(at, Outcome::Passed))
    }

    fn fail(&mut self, at: Duration, failure: Failure) -> Option<Verdict> {
        Some(self.finish(at, Outcome::Failed(Box::new(failure))))
    }

    fn finish(&mut self, at: Duration, outcome: Outcome) -> Verdict {
        self.progress = Progress::Done;
        let verdict = Verdict {
            outcome,
            at,
            matches: self.matches.clone(),
            gaps: self.gaps.clone(),
        };
        self.verdict = Some(verdict.clone());
        verdict
    }
}

/// How objects are told apart: uid, else `namespace/name` (hand-written
/// objects), else their whole text.
fn object_key(object: &Value, snapshot: &Snapshot) -> String {
    if let Some(uid) = object.pointer("/metadata/uid").and_then(Value::as_str) {
        return uid.to_string();
    }
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    match object.pointer("/metadata/name").and_then(Value::as_str) {
        Some(name) => format!("{namespace}/{name}"),
        None => snapshot.as_json().to_string(),
    }
}

/// `Pod/nginx@1234` for match records.
fn describe_object(tracked: &Tracked) -> String {
    let last = tracked.last.value();
    let rv = last.pointer("/metadata/resourceVersion").and_then(Value::as_str);
    let name = fail_fast::object_ref(&last);
    match (rv, tracked.gone) {
        (_, true) => format!("{name} (deleted)"),
        (Some(rv), false) => format!("{name}@{rv}"),
        (None, false) => name,
    }
}

/// Judge a whole timeline: feed every observation, then end at the
/// timeline's end. With an `actionFinished` marker in the timeline the first
/// deadline waits for it.
pub fn judge_timeline(expectation: &Expectation, timeline: &Timeline) -> Verdict {
    let mut judge = Judge::new(expectation);
    if timeline.has_action_marker() {
        judge = judge.waiting_for_action();
    }
    for observation in &timeline.observations {
        if let Some(verdict) = judge.observe(observation) {
            return verdict;
        }
    }
    judge.end(timeline.end_time())
}

#[cfg(test)]
mod tests;
