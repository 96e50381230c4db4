//! One thread at a time writes keyword lines to stderr; a thread that
//! finds another writing hands its lines over and goes back to work.
//!
//! Why: two threads writing to one open file queue in the kernel, on the
//! lock of its shared offset and on the inode's, a sleep and a wake each.
//! With stderr sent to a file, that cost a busy server about 1 µs of
//! system time a call (bench/README.md, "the log writer"). Handing over
//! turns two contended writes into one uncontended write of both.
//!
//! Each thread's lines keep their order: every line passes through the
//! one buffer, which the thread holding the turn writes first in, first
//! out. Nothing grows without bound: a thread that would take the buffer
//! past [`HAND_OVER_BYTES`] waits for the turn and writes what waits and
//! then its own lines, and so feels a slow stderr (a full pipe) as every
//! thread did before.

use std::sync::{Mutex, MutexGuard, TryLockError};

/// Lines waiting for the writing thread are capped at this; past it a
/// thread waits for its turn to write.
const HAND_OVER_BYTES: usize = 64 * 1024;

/// The turn to write and the lines handed over to whoever has it.
pub(super) struct OneWriter {
    /// Held by the thread writing.
    turn: Mutex<()>,
    /// Whole lines, in the order they were handed over.
    handed_over: Mutex<Vec<u8>>,
}

impl OneWriter {
    pub(super) const fn new() -> Self {
        OneWriter {
            turn: Mutex::new(()),
            handed_over: Mutex::new(Vec::new()),
        }
    }

    /// Writes `lines` (whole lines) through `write`, each write at most
    /// `max_write` bytes cut at line ends (or one longer line), now or
    /// by the thread writing now, after the lines handed over before.
    pub(super) fn write(&self, lines: &[u8], max_write: usize, write: impl Fn(&[u8])) {
        if !self.hand_over(lines) {
            let turn = lock(&self.turn);
            self.write_waiting(max_write, &write);
            write_in_pieces(lines, max_write, &write);
            drop(turn);
        }
        // Lines handed over while a writer was giving up its turn found
        // the turn taken: whoever takes it next writes them.
        while !self.waiting().is_empty() {
            let Some(turn) = try_lock(&self.turn) else {
                return; // the thread writing looks again when it is done
            };
            self.write_waiting(max_write, &write);
            drop(turn);
        }
    }

    /// Adds `lines` to those waiting, unless that would take them past
    /// [`HAND_OVER_BYTES`].
    fn hand_over(&self, lines: &[u8]) -> bool {
        let mut waiting = self.waiting();
        if waiting.len() + lines.len() > HAND_OVER_BYTES {
            return false;
        }
        waiting.extend_from_slice(lines);
        true
    }

    /// With the turn held: writes what waits until nothing does.
    fn write_waiting(&self, max_write: usize, write: &impl Fn(&[u8])) {
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut batch, &mut *self.waiting());
            if batch.is_empty() {
                return;
            }
            write_in_pieces(&batch, max_write, write);
            batch.clear();
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Vec<u8>> {
        lock(&self.handed_over)
    }
}

/// The locks guard plain bytes and nothing: a thread that panicked holding
/// one (it cannot, between two appends or around a `write`) left whole
/// lines behind.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
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
        assert!(writer.waiting().is_empty());
    }

    /// Lines can wait with the turn free for a moment: handed over just
    /// as the writer gave its turn up. A thread that takes the turn then
    /// writes them before its own, so its earlier lines stay earlier.
    #[test]
    fn lines_that_wait_are_written_before_the_next_thread_s_own() {
        let writer = OneWriter::new();
        let earlier = line("earlier", 50);
        writer.waiting().extend_from_slice(&earlier);
        let written = Mutex::new(Vec::new());
        let later = line("later", 50);
        writer.write(&later, 4096, |piece| {
            written.lock().unwrap().push(piece.to_vec())
        });
        assert_eq!(*written.lock().unwrap(), [[earlier, later].concat()]);
        assert!(writer.waiting().is_empty());
    }

    /// A thread that would take the lines waiting past `HAND_OVER_BYTES`
    /// does not add to them: it takes the turn and writes them, then its
    /// own.
    #[test]
    fn past_the_cap_a_thread_writes_what_waits_then_its_own() {
        let writer = OneWriter::new();
        let waiting: Vec<u8> = (0..HAND_OVER_BYTES / 100)
            .flat_map(|n| line(&n.to_string(), 100))
            .collect();
        writer.waiting().extend_from_slice(&waiting);
        let written = Mutex::new(Vec::new());
        let own = line("own", 200);
        writer.write(&own, 4096, |piece| {
            written.lock().unwrap().extend_from_slice(piece)
        });
        assert_eq!(*written.lock().unwrap(), [waiting, own].concat());
        assert!(writer.waiting().is_empty());
    }

    #[test]
    fn lines_are_handed_over_only_within_the_cap() {
        let writer = OneWriter::new();
        let lines = line("x", 1000);
        let fit = HAND_OVER_BYTES / lines.len();
        for _ in 0..fit {
            assert!(writer.hand_over(&lines));
        }
        assert!(!writer.hand_over(&lines));
        assert_eq!(writer.waiting().len(), fit * lines.len());
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
                            out.lock().unwrap().extend_from_slice(piece);
                            // A slow write: others find the turn taken.
                            std::thread::yield_now();
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
