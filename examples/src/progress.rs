//! One line per build event, for progress displays: steps with their
//! durations, waits, provisioner output, cleanup, artifacts.

use imagebake_core::{Event, OutputStream, StepOutcome, UndoOutcome};

/// How often a wait's progress is shown: its first poll, then every
/// `WAIT_EVERY`th (every poll would be noisy).
pub const WAIT_EVERY: u32 = 5;

/// The line that describes `event`, or `None` for a wait poll that is not
/// shown (see [`WAIT_EVERY`]).
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::BuildStarted { build_id, name } => format!("build {build_id} ({name}) started"),
        Event::StepStarted { step } => format!("▶ {step}"),
        Event::StepFinished {
            step,
            outcome,
            duration,
        } => {
            let how = outcome_text(outcome, "done");
            format!("✔ {step}: {how} in {:.2}s", duration.as_secs_f64())
        }
        Event::WaitProgress {
            what,
            state,
            attempt,
            ..
        } => {
            if attempt % WAIT_EVERY != 0 {
                return None;
            }
            format!("  … {what}: {state} (poll {})", attempt + 1)
        }
        Event::OutputLine { stream, line, .. } => {
            let s = if *stream == OutputStream::Stderr {
                "err"
            } else {
                "out"
            };
            format!("  {s}| {line}")
        }
        Event::UndoRegistered { .. } | Event::UndoDismissed { .. } => return None,
        Event::UndoStarted { resource } => format!("↺ removing {resource}"),
        Event::UndoFinished { resource, outcome } => match outcome {
            UndoOutcome::Removed => format!("↺ removed {resource}"),
            UndoOutcome::Kept => format!("↺ kept {resource}"),
            UndoOutcome::NotMade => format!("↺ {resource}: the create made nothing"),
            UndoOutcome::Failed { message } => format!("↺ NOT removed {resource}: {message}"),
            other => format!("↺ {resource}: {other:?}"),
        },
        Event::Artifact { artifact } => format!("★ artifact {artifact}"),
        Event::BuildFinished {
            outcome, duration, ..
        } => {
            let how = outcome_text(outcome, "succeeded");
            format!("build {how} in {:.2}s", duration.as_secs_f64())
        }
        other => format!("{other:?}"),
    })
}

/// A step's or build's outcome in words (`ok` for success).
fn outcome_text(outcome: &StepOutcome, ok: &str) -> String {
    match outcome {
        StepOutcome::Ok => ok.to_owned(),
        StepOutcome::Cancelled => "cancelled".to_owned(),
        StepOutcome::Failed { message } => format!("FAILED: {message}"),
        other => format!("{other:?}"),
    }
}
