use std::collections::VecDeque;

pub use imagebake_host::process::LineSplitter;

use super::{ExitOutput, OnLine, OutputStream};

/// How many lines of each stream [`ExitOutput`] keeps.
pub const TAIL_LINES: usize = 20;

/// The last `n` lines seen.
#[derive(Debug, Clone)]
pub struct Tail {
    lines: VecDeque<String>,
    cap: usize,
}

impl Tail {
    /// Keeps the last `cap` lines.
    pub fn new(cap: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(cap),
            cap,
        }
    }

    /// Records a line.
    pub fn push(&mut self, line: &str) {
        if self.cap == 0 {
            return;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }

    /// The lines kept, oldest first.
    pub fn into_vec(self) -> Vec<String> {
        self.lines.into()
    }
}

/// Turns the stdout and stderr chunks of one command into lines for
/// [`OnLine`] and the tails of its [`ExitOutput`]. Every communicator uses it.
#[derive(Debug)]
pub struct OutputCollector {
    out: LineSplitter,
    err: LineSplitter,
    out_tail: Tail,
    err_tail: Tail,
}

impl Default for OutputCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl OutputCollector {
    /// An empty collector keeping [`TAIL_LINES`] lines per stream.
    pub fn new() -> Self {
        Self {
            out: LineSplitter::default(),
            err: LineSplitter::default(),
            out_tail: Tail::new(TAIL_LINES),
            err_tail: Tail::new(TAIL_LINES),
        }
    }

    /// Feeds a chunk of one stream.
    pub fn push(&mut self, stream: OutputStream, chunk: &[u8], on_line: &mut OnLine<'_>) {
        let (split, tail) = match stream {
            OutputStream::Stdout => (&mut self.out, &mut self.out_tail),
            OutputStream::Stderr => (&mut self.err, &mut self.err_tail),
        };
        split.push(chunk, |l| {
            tail.push(l);
            on_line(stream, l);
        });
    }

    /// Flushes partial last lines and builds the [`ExitOutput`].
    pub fn finish(mut self, status: i32, on_line: &mut OnLine<'_>) -> ExitOutput {
        let (out_tail, err_tail) = (&mut self.out_tail, &mut self.err_tail);
        self.out.finish(|l| {
            out_tail.push(l);
            on_line(OutputStream::Stdout, l);
        });
        self.err.finish(|l| {
            err_tail.push(l);
            on_line(OutputStream::Stderr, l);
        });
        ExitOutput {
            status,
            stdout_tail: self.out_tail.into_vec(),
            stderr_tail: self.err_tail.into_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_across_chunks_and_keeps_tails() {
        let mut c = OutputCollector::new();
        let mut seen = Vec::new();
        let mut on_line = |s: OutputStream, l: &str| seen.push((s, l.to_owned()));
        c.push(OutputStream::Stdout, b"he", &mut on_line);
        c.push(OutputStream::Stderr, b"e1\r\ne2\n", &mut on_line);
        c.push(OutputStream::Stdout, b"llo\nwor", &mut on_line);
        c.push(OutputStream::Stdout, b"ld \xff", &mut on_line);
        let out = c.finish(3, &mut on_line);
        assert_eq!(out.status, 3);
        assert_eq!(out.stdout_tail, vec!["hello", "world \u{fffd}"]);
        assert_eq!(out.stderr_tail, vec!["e1", "e2"]);
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], (OutputStream::Stderr, "e1".to_owned()));
    }

    #[test]
    fn tail_keeps_last_lines() {
        let mut t = Tail::new(2);
        for l in ["a", "b", "c"] {
            t.push(l);
        }
        assert_eq!(t.into_vec(), vec!["b", "c"]);
    }
}
