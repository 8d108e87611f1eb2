//! The progress line of a replay (`events`, `audit trail`) on stderr.
//!
//! A replay does not say up front where the log ends: the head is only
//! known when the caught-up marker arrives. So the catch-up shows a spinner
//! with the count read, the position reached and the rate; with `--limit`
//! the count is bounded and a bar is drawn instead. With `--follow` the line
//! turns into a "following" spinner once caught up.
//!
//! It is drawn only when stderr is a terminal and `--no-progress` is not
//! given; otherwise nothing at all is written, so logs and pipes get no
//! control characters. Whatever the replay prints goes through
//! [`ReplayProgress::suspend`], which lifts the line off the screen first,
//! so rows and the line never tangle on a shared terminal.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a visible spinner moves while nothing arrives.
const TICK: Duration = Duration::from_millis(120);

/// `--no-progress`, shared by the replay commands.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ProgressOptions {
    /// Draw no progress line on stderr, even on a terminal (it is never
    /// drawn when stderr is not a terminal).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Where a replay is, as the progress line tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading what was in the log when the replay started.
    CatchingUp,
    /// Caught up, waiting for new items (`--follow`).
    Following,
    /// Caught up or ended; the line is gone.
    Done,
}

/// What the progress line shows, kept apart from the drawing so it can be
/// checked without a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgressState {
    /// What is replayed: "events", "decisions".
    items: &'static str,
    /// Items to read at most (`--limit`), when bounded.
    limit: Option<u64>,
    follow: bool,
    phase: Phase,
    /// Items read so far, catch-up and live.
    read: u64,
    /// Items read when the replay caught up.
    read_at_catch_up: u64,
    /// Highest log (or audit) position reached.
    position: u64,
}

impl ProgressState {
    /// A replay of `items` about to start; `limit` 0 means unbounded.
    pub(crate) fn new(items: &'static str, limit: u64, follow: bool) -> Self {
        Self {
            items,
            limit: (limit > 0).then_some(limit),
            follow,
            phase: Phase::CatchingUp,
            read: 0,
            read_at_catch_up: 0,
            position: 0,
        }
    }

    /// One item at `position` arrived.
    pub(crate) fn item(&mut self, position: u64) {
        self.read += 1;
        self.position = self.position.max(position);
    }

    /// The caught-up marker at `position`: following, or done.
    pub(crate) fn caught_up(&mut self, position: u64) {
        self.position = self.position.max(position);
        self.read_at_catch_up = self.read;
        self.phase = if self.follow {
            Phase::Following
        } else {
            Phase::Done
        };
    }

    /// The replay ended (or failed).
    pub(crate) fn finish(&mut self) {
        self.phase = Phase::Done;
    }

    /// Where the replay is.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The length of the bar: the limit while catching up, if any; `None`
    /// draws a spinner.
    pub(crate) fn length(&self) -> Option<u64> {
        match self.phase {
            Phase::CatchingUp => self.limit,
            Phase::Following | Phase::Done => None,
        }
    }

    /// The words of the line.
    pub(crate) fn message(&self) -> String {
        let Self {
            items, position, ..
        } = self;
        match self.phase {
            Phase::CatchingUp => {
                format!(
                    "replaying {items}: {} read, at position {position}",
                    self.read
                )
            }
            Phase::Following => format!(
                "following {items}: {} new since catching up, at position {position}; Ctrl-C to stop",
                self.read - self.read_at_catch_up
            ),
            Phase::Done => format!("{} {items} read, to position {position}", self.read),
        }
    }
}

/// Whether to draw the line: asked for, and somewhere a person sees it.
pub(crate) fn visible(options: &ProgressOptions, stderr_is_terminal: bool) -> bool {
    !options.no_progress && stderr_is_terminal
}

/// The progress line of one replay.
#[derive(Debug)]
pub(crate) struct ReplayProgress {
    bar: ProgressBar,
    state: ProgressState,
}

impl ReplayProgress {
    /// The line for a replay of `items`, drawn on stderr only when
    /// [`visible`].
    pub(crate) fn new(
        options: &ProgressOptions,
        items: &'static str,
        limit: u64,
        follow: bool,
    ) -> Self {
        let state = ProgressState::new(items, limit, follow);
        let shown = visible(options, std::io::stderr().is_terminal());
        let target = if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(state.length(), target);
        if shown {
            bar.enable_steady_tick(TICK);
        }
        let progress = Self { bar, state };
        progress.redraw();
        progress
    }

    /// One item at `position` arrived.
    pub(crate) fn item(&mut self, position: u64) {
        self.state.item(position);
        self.bar.inc(1);
        self.bar.set_message(self.state.message());
    }

    /// The caught-up marker at `position`.
    pub(crate) fn caught_up(&mut self, position: u64) {
        self.state.caught_up(position);
        self.redraw();
    }

    /// Runs `print` with the line lifted off the screen.
    pub(crate) fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.bar.suspend(print)
    }

    /// A handle on the line itself, to lift it (`suspend`) while printing
    /// from code that needs `&mut` access to what holds this progress.
    pub(crate) fn line(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Removes the line for good.
    pub(crate) fn finish(&mut self) {
        self.state.finish();
        self.redraw();
    }

    /// Draws the line as the state now says.
    fn redraw(&self) {
        match self.state.phase() {
            Phase::Done => {
                self.bar.finish_and_clear();
                return;
            }
            Phase::CatchingUp if self.state.length().is_some() => {
                self.bar
                    .set_style(style("{bar:30} {pos}/{len} {msg} ({rate})"));
            }
            Phase::CatchingUp => self.bar.set_style(style("{spinner} {msg} ({rate})")),
            Phase::Following => {
                self.bar.unset_length();
                self.bar.set_style(style("{spinner} {msg} [{elapsed}]"));
            }
        }
        self.bar.set_message(self.state.message());
    }
}

/// A style from one of the templates above, which are fixed and valid,
/// with `{rate}`: items a second, whole (indicatif's own `{per_sec}` shows
/// four decimals, noise at a glance).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0}/s", state.per_sec());
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catch_up_counts_items_and_the_position_reached() {
        let mut state = ProgressState::new("events", 0, false);
        assert_eq!(state.phase(), Phase::CatchingUp);
        assert_eq!(state.length(), None, "the head is not known: a spinner");
        state.item(3);
        state.item(9);
        assert_eq!(state.message(), "replaying events: 2 read, at position 9");
        state.caught_up(12);
        assert_eq!(state.phase(), Phase::Done);
        assert_eq!(state.message(), "2 events read, to position 12");
    }

    #[test]
    fn a_limit_draws_a_bar_of_that_length() {
        let mut state = ProgressState::new("decisions", 50, false);
        assert_eq!(state.length(), Some(50));
        state.item(1);
        assert_eq!(state.length(), Some(50));
        state.finish();
        assert_eq!(state.length(), None);
    }

    #[test]
    fn follow_mode_turns_into_a_following_spinner_counting_new_items() {
        let mut state = ProgressState::new("events", 0, true);
        state.item(4);
        state.caught_up(4);
        assert_eq!(state.phase(), Phase::Following);
        assert_eq!(state.length(), None);
        state.item(5);
        state.item(6);
        assert_eq!(
            state.message(),
            "following events: 2 new since catching up, at position 6; Ctrl-C to stop"
        );
        state.finish();
        assert_eq!(state.phase(), Phase::Done);
    }

    #[test]
    fn the_position_never_goes_back() {
        let mut state = ProgressState::new("events", 0, false);
        state.item(8);
        state.caught_up(5);
        assert_eq!(state.message(), "1 events read, to position 8");
    }

    #[test]
    fn the_line_is_drawn_only_on_a_terminal_and_when_not_turned_off() {
        let on = ProgressOptions { no_progress: false };
        let off = ProgressOptions { no_progress: true };
        assert!(visible(&on, true));
        assert!(!visible(&on, false));
        assert!(!visible(&off, true));
        assert!(!visible(&off, false));
    }
}
