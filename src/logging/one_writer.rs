//! One thread at a time writes keyword lines to stderr; a thread that
//! finds another writing hands its lines over and goes back to work.
//!
//! Why: two threads writing to one open file queue in the kernel, on the
//! lock of its shared offset and on the inode's, a sleep and a wake each.
//! With stderr sent to a file, that cost a busy server about 2 µs of
//! system time a call (bench/README.md, "the log writer"). Handing over
//! turns two contended writes into one uncontended write of both.
//!
//! Nothing waits without bound and nothing grows without bound: a thread
//! hands over only while the lines waiting are under [`HAND_OVER_BYTES`];
//! past that it writes its own lines itself, as before, and so feels a
//! slow stderr (a full pipe) as every thread did before.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;

/// Lines waiting for the writing thread are capped at this; past it a
/// thread writes its own.
const HAND_OVER_BYTES: usize = 64 * 1024;

/// The writing thread and the lines handed over to it.
pub(super) struct OneWriter {
    /// Whether a thread is writing (it owns the turn).
    writing: AtomicBool,
    /// Whole lines, in the order they were handed over.
    handed_over: Mutex<Vec<u8>>,
}

impl OneWriter {
    pub(super) const fn new() -> Self {
        OneWriter {
            writing: AtomicBool::new(false),
            handed_over: Mutex::new(Vec::new()),
        }
    }

    /// Writes `lines` (whole lines) through `write`, each write at most
    /// `max_write` bytes cut at line ends (or one longer line), or hands
    /// them to the thread writing now, which writes them after its own.
    pub(super) fn write(&self, lines: &[u8], max_write: usize, write: impl Fn(&[u8])) {
        if !self.take_turn() {
            if !self.hand_over(lines) {
                write_in_pieces(lines, max_write, &write);
                return;
            }
            // The writer may have finished before it saw them: if the turn
            // is free now, this thread writes what waits (its lines too).
            if !self.take_turn() {
                return;
            }
        } else {
            write_in_pieces(lines, max_write, &write);
        }
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut batch, &mut *self.lock());
            if batch.is_empty() {
                self.writing.store(false, SeqCst);
                // Lines handed over between the swap and the store found
                // the turn taken: write them unless another thread now has.
                if self.lock().is_empty() || !self.take_turn() {
                    return;
                }
                continue;
            }
            write_in_pieces(&batch, max_write, &write);
            batch.clear();
        }
    }

    fn take_turn(&self) -> bool {
        self.writing
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
    }

    /// Adds `lines` to those waiting unless that would pass
    /// [`HAND_OVER_BYTES`].
    fn hand_over(&self, lines: &[u8]) -> bool {
        let mut waiting = self.lock();
        if waiting.len() + lines.len() > HAND_OVER_BYTES {
            return false;
        }
        waiting.extend_from_slice(lines);
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // The lock guards plain bytes: a thread that panicked holding it
        // (it cannot, between two appends) left whole lines behind.
        self.handed_over.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `lines` in writes of at most `max_write` bytes, each ending at
/// a line end; a line longer than that is one write of its own.
fn write_in_pieces(mut lines: &[u8], max_write: usize, write: &impl Fn(&[u8])) {
    while !lines.is_empty() {
        let end = if lines.len() <= max_write {
            lines.len()
        } else {
            match lines[..max_write].iter().rposition(|&b| b == b'\n') {
                Some(newline) => newline + 1,
                None => lines
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(lines.len(), |newline| newline + 1),
            }
        };
        let (piece, rest) = lines.split_at(end);
        write(piece);
        lines = rest;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;

    use super::*;

    fn line(tag: &str, len: usize) -> Vec<u8> {
        let mut line = tag.as_bytes().to_vec();
        line.resize(len - 1, b'.');
        line.push(b'\n');
        line
    }

    /// While thread A is inside its write, thread B's lines are handed
    /// over: B returns without writing, and A writes them after its own.
    #[test]
    fn lines_of_a_thread_that_finds_another_writing_are_written_by_that_one() {
        let writer = Arc::new(OneWriter::new());
        let written = Arc::new(Mutex::new(Vec::<(String, Vec<u8>)>::new()));
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);

        let a = {
            let (writer, written) = (Arc::clone(&writer), Arc::clone(&written));
            std::thread::spawn(move || {
                writer.write(&line("a", 10), 4096, |piece| {
                    let first = written.lock().unwrap().is_empty();
                    written.lock().unwrap().push(("A".into(), piece.to_vec()));
                    if first {
                        entered_tx.send(()).unwrap();
                        release_rx.lock().unwrap().recv().unwrap();
                    }
                });
            })
        };
        entered_rx.recv().unwrap();
        let b_lines = [line("b1", 20), line("b2", 30)].concat();
        writer.write(&b_lines, 4096, |piece| {
            written.lock().unwrap().push(("B".into(), piece.to_vec()))
        });
        // B returned while A still holds its first write open.
        assert_eq!(written.lock().unwrap().len(), 1);
        release_tx.send(()).unwrap();
        a.join().unwrap();

        let written = written.lock().unwrap();
        assert_eq!(
            *written,
            [("A".into(), line("a", 10)), ("A".into(), b_lines)]
        );
        assert!(!writer.writing.load(SeqCst));
        assert!(writer.lock().is_empty());
    }

    /// Past `HAND_OVER_BYTES` waiting, a thread writes its own lines.
    #[test]
    fn a_thread_writes_its_own_lines_when_too_many_wait() {
        let writer = OneWriter::new();
        writer.writing.store(true, SeqCst); // another thread is writing
        writer.lock().resize(HAND_OVER_BYTES - 5, b'x');
        let written = Mutex::new(Vec::new());
        let lines = line("c", 10);
        writer.write(&lines, 4096, |piece| {
            written.lock().unwrap().push(piece.to_vec())
        });
        assert_eq!(*written.lock().unwrap(), [lines]);
        assert_eq!(writer.lock().len(), HAND_OVER_BYTES - 5);
    }

    /// Threads writing at once lose no line, mix none, and keep each
    /// thread's lines in its order.
    #[test]
    fn many_threads_lose_and_mix_no_line() {
        const THREADS: usize = 4;
        const LINES: usize = 2000;
        let writer = Arc::new(OneWriter::new());
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (writer, out) = (Arc::clone(&writer), Arc::clone(&out));
                std::thread::spawn(move || {
                    for n in 0..LINES {
                        let line = format!("{t} {n}\n");
                        writer.write(line.as_bytes(), 4096, |piece| {
                            assert!(piece.len() <= 4096 && piece.ends_with(b"\n"));
                            out.lock().unwrap().extend_from_slice(piece)
                        });
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let out = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let mut next = [0; THREADS];
        for line in out.lines() {
            let (t, n) = line.split_once(' ').unwrap();
            let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
            assert_eq!(n, next[t], "thread {t}");
            next[t] += 1;
        }
        assert_eq!(next, [LINES; THREADS]);
    }

    #[test]
    fn pieces_end_at_line_ends_and_a_long_line_is_one_piece() {
        let lines = [
            line("a", 3000),
            line("b", 2000),
            line("c", 5000),
            line("d", 10),
        ]
        .concat();
        let pieces = RefCellVec::default();
        write_in_pieces(&lines, 4096, &|piece: &[u8]| pieces.push(piece.len()));
        assert_eq!(pieces.take(), [3000, 2000, 5000, 10]);
        let pieces = RefCellVec::default();
        write_in_pieces(&lines[..5000], 8192, &|piece: &[u8]| {
            pieces.push(piece.len())
        });
        assert_eq!(pieces.take(), [5000]);
    }

    #[derive(Default)]
    struct RefCellVec(std::cell::RefCell<Vec<usize>>);

    impl RefCellVec {
        fn push(&self, n: usize) {
            self.0.borrow_mut().push(n)
        }
        fn take(&self) -> Vec<usize> {
            self.0.take()
        }
    }
}
