//! What `events` and `audit trail` share: the time window they filter on,
//! draining a replay stream (with its caught-up marker and follow mode),
//! and printing rows as they arrive.
//!
//! A replay sends everything that matches up to where the log was when it
//! got there, then one caught-up marker; in follow mode it goes on with new
//! items live until the client stops. The marker goes to stderr, so stdout
//! holds only rows (or JSON lines) and stays safe to pipe.

use std::io::{self, Write};

use anyhow::Result;
use clap::Args;
use prost_types::Timestamp;
use serde_json::Value;
use tonic::Streaming;

use crate::dates;
use crate::failure::CallContext;
use crate::output::{self, Output};
use crate::progress::ReplayProgress;

/// `--since` and `--until`: the window of recorded times to read.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TimeWindow {
    /// Only what was recorded at or after this instant (RFC 3339, e.g.
    /// 2026-03-01T09:00:00Z) or from the start of this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "WHEN", value_parser = dates::parse_since)]
    pub(crate) since: Option<Timestamp>,
    /// Only what was recorded before this instant, or up to the end of this
    /// date (YYYY-MM-DD, UTC). The replay ends there, even with --follow.
    #[arg(long, value_name = "WHEN", value_parser = dates::parse_until)]
    pub(crate) until: Option<Timestamp>,
}

/// One message of a replay, as the CLI handles it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Replayed<T> {
    /// An event or decision record.
    Item(T),
    /// Everything matching up to this position has been sent.
    CaughtUp(u64),
}

/// Hands each message of `stream` to `on_message`, in order, until the
/// stream ends. With `follow`, Ctrl-C ends it quietly: the rows already
/// printed are the result, not a failure.
pub(crate) async fn drain<M, T>(
    mut stream: Streaming<M>,
    call: CallContext<'_>,
    follow: bool,
    split: fn(M) -> Option<Replayed<T>>,
    mut on_message: impl FnMut(Replayed<T>) -> Result<()>,
) -> Result<()> {
    let interrupted = async {
        if follow {
            // If no handler can be installed, Ctrl-C still ends the process.
            if tokio::signal::ctrl_c().await.is_ok() {
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::pin!(interrupted);
    loop {
        let message = tokio::select! {
            message = stream.message() => message.map_err(|status| call.rejected(status))?,
            () = &mut interrupted => return Ok(()),
        };
        let Some(message) = message else {
            return Ok(());
        };
        if let Some(replayed) = split(message) {
            on_message(replayed)?;
        }
    }
}

/// Prints a replay's records: JSON lines as they arrive; or a table, which
/// needs every row to size its columns, printed when the replay catches up
/// (or ends), after which each live row is printed as it arrives, aligned
/// to the columns already on screen.
#[derive(Debug)]
pub(crate) struct RowPrinter {
    output: Output,
    fields: &'static [&'static str],
    /// What is replayed, for the stderr notes: "events", "decisions".
    items: &'static str,
    follow: bool,
    /// Rows held back until the table can be sized.
    pending: Vec<Value>,
    /// Column widths once the table has been printed.
    widths: Option<Vec<usize>>,
    /// The progress line on stderr, lifted while anything is printed.
    progress: ReplayProgress,
}

impl RowPrinter {
    /// A printer of `fields`, naming the replayed `items` in its notes,
    /// showing the replay's `progress` meanwhile.
    pub(crate) fn new(
        output: Output,
        fields: &'static [&'static str],
        items: &'static str,
        follow: bool,
        progress: ReplayProgress,
    ) -> Self {
        Self {
            output,
            fields,
            items,
            follow,
            pending: Vec::new(),
            widths: None,
            progress,
        }
    }

    /// Prints (or holds back) one record, found at log (or audit)
    /// `position`.
    pub(crate) fn record(&mut self, position: u64, record: Value) -> Result<()> {
        self.progress.item(position);
        if self.output.is_json() {
            return Ok(self.progress.suspend(|| output::json_line(&record))?);
        }
        match &self.widths {
            Some(widths) => {
                let line = output::render_line(widths, &output::row(self.fields, &record));
                self.progress.suspend(|| output::write_text(&line))?;
            }
            None => self.pending.push(record),
        }
        Ok(())
    }

    /// One item at `position` that the caller prints itself with `print`
    /// (in a form of its own, such as proto3 JSON).
    pub(crate) fn printed_by(
        &mut self,
        position: u64,
        print: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        self.progress.item(position);
        self.progress.suspend(print)
    }

    /// The caught-up marker: prints the table held back so far and says on
    /// stderr where the replay got to.
    pub(crate) fn caught_up(&mut self, position: u64) -> Result<()> {
        self.progress.caught_up(position);
        self.progress.line().suspend(|| -> Result<()> {
            self.print_pending()?;
            let mut stderr = io::stderr().lock();
            writeln!(stderr, "caught up at position {position}")?;
            if self.follow {
                writeln!(stderr, "following new {}; Ctrl-C to stop", self.items)?;
            }
            Ok(())
        })
    }

    /// The end of the replay, `complete` or cut short by a failure: removes
    /// the progress line and prints whatever is still held back (after a
    /// failure, only if there is any).
    pub(crate) fn finish(mut self, complete: bool) -> Result<()> {
        self.progress.finish();
        if !complete && self.pending.is_empty() {
            return Ok(());
        }
        self.print_pending()
    }

    fn print_pending(&mut self) -> Result<()> {
        if self.output.is_json() || self.widths.is_some() {
            return Ok(());
        }
        let headers = output::headers(self.fields);
        let rows: Vec<Vec<String>> = self
            .pending
            .drain(..)
            .map(|record| output::row(self.fields, &record))
            .collect();
        if rows.is_empty() && !self.follow {
            output::write_text("(none)\n")?;
        } else {
            let lines: Vec<&[String]> = std::iter::once(headers.as_slice())
                .chain(rows.iter().map(Vec::as_slice))
                .collect();
            let widths = output::column_widths(&lines);
            let text: String = lines
                .iter()
                .map(|line| output::render_line(&widths, line))
                .collect();
            output::write_text(&text)?;
            self.widths = Some(widths);
        }
        // Printed once: the rows that follow are live.
        self.widths.get_or_insert_with(Vec::new);
        Ok(())
    }
}
