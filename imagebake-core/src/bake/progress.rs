//! What a build's events look like in Packer's UI: steps and cleanups as
//! `==> NAME: …` lines, command output as `    NAME: …` lines (standard
//! error as Packer's `Error`), waits now and then.

use super::ui::Level;
use crate::{Event, OutputStream, StepOutcome, UndoOutcome};

/// How often a wait's progress is shown: its first poll, then every
/// `WAIT_EVERY`th (every poll would be noisy).
pub const WAIT_EVERY: u32 = 5;

/// The UI line that describes `event`, or `None` for an event that is not
/// shown (a successful step's end, an undo registration, most wait polls).
pub fn describe(event: &Event) -> Option<(Level, String)> {
    Some(match event {
        Event::BuildStarted { build_id, .. } => (Level::Say, format!("Build id {build_id}")),
        Event::StepStarted { step } => (Level::Say, format!("{step}...")),
        Event::StepFinished { step, outcome, .. } => match outcome {
            StepOutcome::Ok => return None,
            StepOutcome::Cancelled => (Level::Say, format!("{step}: cancelled")),
            StepOutcome::Failed { message } => (Level::Error, format!("{step}: {message}")),
        },
        Event::WaitProgress {
            what,
            state,
            attempt,
            ..
        } => {
            if attempt % WAIT_EVERY != 0 {
                return None;
            }
            (
                Level::Message,
                format!("Waiting for {what}: {state} (poll {})", attempt + 1),
            )
        }
        Event::OutputLine { stream, line, .. } => {
            let level = if *stream == OutputStream::Stderr {
                Level::Error
            } else {
                Level::Message
            };
            (level, line.clone())
        }
        Event::UndoStarted { resource } => (Level::Say, format!("Removing {resource}...")),
        Event::UndoFinished { resource, outcome } => match outcome {
            UndoOutcome::Removed => (Level::Say, format!("Removed {resource}")),
            UndoOutcome::Kept => (Level::Say, format!("Kept {resource} (-on-error=abort)")),
            UndoOutcome::NotMade => (Level::Say, format!("{resource}: the create made nothing")),
            UndoOutcome::Failed { message } => {
                (Level::Error, format!("NOT removed {resource}: {message}"))
            }
        },
        Event::Artifact { artifact } => (Level::Say, format!("Made {artifact}")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_say_and_output_is_a_message() {
        let step = |s: &str| Event::StepStarted { step: s.into() };
        assert_eq!(
            describe(&step("create machine")),
            Some((Level::Say, "create machine...".into()))
        );
        let out = Event::OutputLine {
            step: None,
            stream: OutputStream::Stdout,
            line: "hello".into(),
        };
        assert_eq!(describe(&out), Some((Level::Message, "hello".into())));
        let ok = Event::StepFinished {
            step: "x".into(),
            outcome: StepOutcome::Ok,
            duration: std::time::Duration::ZERO,
        };
        assert_eq!(describe(&ok), None);
    }
}
