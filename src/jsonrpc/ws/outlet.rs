//! The write side of a plain-TCP WebSocket, shared by its connection's
//! task (tungstenite's frames: answers, pings, pongs, the close) and the
//! live-code timers' tasks, which write each subscriber's code frame
//! straight into the socket (a non-blocking write) instead of waking the
//! connection's task to do it: at a period boundary with 10,000
//! subscribers that wake and poll per subscriber was most of the CPU.
//!
//! One writer at a time, never two frames interleaved:
//! - a code is written at once only when the connection's task has
//!   nothing half-written (tungstenite flushes all it wrote before it asks
//!   the stream to flush: [`Outgoing::task_writing`] spans from its first
//!   write to that flush) and no earlier code waits;
//! - otherwise, or when the socket takes only part of it, the code waits
//!   in [`Outgoing`] and the connection's task is woken to write it: it
//!   writes what waits before tungstenite's next frame, and after
//!   tungstenite's flush.
//!
//! A socket whose client does not read holds at most one code per
//! subscription (plus the rest of one frame begun): a newer code of a
//! subscription replaces its waiting one, so the client gets the latest.
//! TLS sockets keep tungstenite for everything (their bytes cannot be
//! written from outside the TLS session).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use futures_util::task::AtomicWaker;
use hyper::body::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A socket's write side and what waits for it.
pub(super) struct Outlet {
    out: Mutex<Outgoing>,
    /// The connection's task, woken when a code waits for the socket.
    task: AtomicWaker,
}

struct Outgoing {
    half: OwnedWriteHalf,
    /// tungstenite has written since its last flush (it may be in the
    /// middle of a frame): codes wait.
    task_writing: bool,
    /// The unwritten rest of a code's frame begun on the socket: written
    /// before anything else.
    rest: Vec<u8>,
    /// Codes not begun, at most one per subscription, oldest first.
    waiting: Vec<(u64, Vec<u8>)>,
    /// The socket failed or was shut down: codes are dropped.
    closed: bool,
    /// When a code was last handed to this socket: the connection's task
    /// puts off a ping due in a boundary's rush (see `session.rs`).
    last_code: Option<Instant>,
}

impl Outgoing {
    fn has_waiting(&self) -> bool {
        !self.rest.is_empty() || !self.waiting.is_empty()
    }

    /// Writes what waits, in order; Ready once nothing does.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.rest.is_empty() {
                if self.waiting.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                self.rest = self.waiting.remove(0).1;
            }
            match ready!(Pin::new(&mut self.half).poll_write(cx, &self.rest)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) if n == self.rest.len() => self.rest = Vec::new(),
                Ok(n) => {
                    self.rest.drain(..n);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Keeps `frame` for the connection's task to write, replacing a code
    /// of the same subscription that waits.
    fn keep(&mut self, subscription: u64, frame: Vec<u8>) {
        match self.waiting.iter_mut().find(|(id, _)| *id == subscription) {
            Some(waiting) => waiting.1 = frame,
            None => self.waiting.push((subscription, frame)),
        }
    }
}

impl Outlet {
    fn lock(&self) -> MutexGuard<'_, Outgoing> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a code's frame for `subscription` now if the socket is free
    /// and takes it; else keeps it and wakes the connection's task.
    pub fn send(&self, subscription: u64, frame: Vec<u8>) {
        let mut out = self.lock();
        if out.closed {
            return;
        }
        out.last_code = Some(Instant::now());
        if out.task_writing || out.has_waiting() {
            out.keep(subscription, frame);
        } else {
            match out.half.try_write(&frame) {
                Ok(n) if n == frame.len() => return,
                Ok(n) => {
                    let mut rest = frame;
                    rest.drain(..n);
                    out.rest = rest;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => out.keep(subscription, frame),
                // The connection's task meets the error on its next write
                // or read, and ends.
                Err(_) => out.closed = true,
            }
        }
        drop(out);
        self.task.wake();
    }

    /// Drops a waiting code of a subscription that ended.
    pub fn forget(&self, subscription: u64) {
        self.lock().waiting.retain(|(id, _)| *id != subscription);
    }

    /// When a code was last handed to the socket.
    pub fn last_code(&self) -> Option<Instant> {
        self.lock().last_code
    }

    /// Whether codes wait for the connection's task to write them; its
    /// waker is kept for when one does.
    pub fn has_waiting(&self, cx: &Context<'_>) -> bool {
        self.task.register(cx.waker());
        self.lock().has_waiting()
    }
}

/// A WebSocket's socket as tungstenite sees it.
pub(super) enum SocketIo {
    /// Plain TCP: reads its own, writes shared through the [`Outlet`].
    Tcp {
        read: OwnedReadHalf,
        /// What hyper read past the handshake, read first.
        read_buf: Bytes,
        outlet: Arc<Outlet>,
    },
    /// TLS (or any stream hyper does not give back): tungstenite alone.
    Hyper(TokioIo<Upgraded>),
}

impl SocketIo {
    /// The socket of an upgraded connection: the TCP stream itself when
    /// the connection is plain TCP.
    pub fn new(upgraded: Upgraded) -> SocketIo {
        match crate::listen::plain_tcp(upgraded) {
            Ok((stream, read_buf)) => SocketIo::tcp(stream, read_buf),
            Err(upgraded) => SocketIo::Hyper(TokioIo::new(upgraded)),
        }
    }

    fn tcp(stream: TcpStream, read_buf: Bytes) -> SocketIo {
        let (read, half) = stream.into_split();
        let outlet = Arc::new(Outlet {
            out: Mutex::new(Outgoing {
                half,
                task_writing: false,
                rest: Vec::new(),
                waiting: Vec::new(),
                closed: false,
                last_code: None,
            }),
            task: AtomicWaker::new(),
        });
        SocketIo::Tcp {
            read,
            read_buf: owned(read_buf),
            outlet,
        }
    }

    /// Where codes are written from other tasks; None on TLS.
    pub fn outlet(&self) -> Option<&Arc<Outlet>> {
        match self {
            SocketIo::Tcp { outlet, .. } => Some(outlet),
            SocketIo::Hyper(_) => None,
        }
    }
}

/// `bytes` without hyper's read buffer behind it once empty: an empty
/// slice of it would keep its 8 KiB for the socket's life.
fn owned(bytes: Bytes) -> Bytes {
    match bytes.is_empty() {
        true => Bytes::new(),
        false => bytes,
    }
}

impl AsyncRead for SocketIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SocketIo::Tcp { read, read_buf, .. } => {
                if read_buf.is_empty() {
                    return Pin::new(read).poll_read(cx, buf);
                }
                let n = read_buf.len().min(buf.remaining());
                buf.put_slice(&read_buf.split_to(n));
                *read_buf = owned(std::mem::take(read_buf));
                Poll::Ready(Ok(()))
            }
            SocketIo::Hyper(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SocketIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SocketIo::Tcp { outlet, .. } => {
                let mut out = outlet.lock();
                if !out.task_writing {
                    // What waits goes before tungstenite's next frame.
                    ready!(out.poll_drain(cx))?;
                    out.task_writing = true;
                }
                Pin::new(&mut out.half).poll_write(cx, buf)
            }
            SocketIo::Hyper(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    /// tungstenite flushes the stream only once all it wrote is out: codes
    /// may be written again, those waiting first.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SocketIo::Tcp { outlet, .. } => {
                let mut out = outlet.lock();
                out.task_writing = false;
                out.poll_drain(cx)
            }
            SocketIo::Hyper(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SocketIo::Tcp { outlet, .. } => {
                let mut out = outlet.lock();
                out.closed = true;
                out.waiting.clear();
                if !out.rest.is_empty() {
                    ready!(out.poll_drain(cx))?;
                }
                Pin::new(&mut out.half).poll_shutdown(cx)
            }
            SocketIo::Hyper(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A socket served as a WebSocket's, and its peer.
    async fn pair() -> (SocketIo, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap());
        let (peer, accepted) = tokio::join!(peer, listener.accept());
        (
            SocketIo::tcp(accepted.unwrap().0, Bytes::new()),
            peer.unwrap(),
        )
    }

    #[tokio::test]
    async fn a_code_waits_for_the_frame_begun_and_goes_after_it() {
        let (mut io, mut peer) = pair().await;
        let outlet = io.outlet().unwrap().clone();
        // tungstenite writes part of its output; a code comes meanwhile.
        io.write_all(b"<frame ").await.unwrap();
        outlet.send(1, b"<code>".to_vec());
        io.write_all(b"begun>").await.unwrap();
        io.flush().await.unwrap();
        // Then a code with the socket free, then tungstenite again.
        outlet.send(1, b"<code2>".to_vec());
        io.write_all(b"<next>").await.unwrap();
        io.flush().await.unwrap();
        drop(io);
        drop(outlet);
        let mut received = String::new();
        peer.read_to_string(&mut received).await.unwrap();
        assert_eq!(received, "<frame begun><code><code2><next>");
    }

    #[tokio::test]
    async fn a_client_not_reading_holds_the_latest_code_of_each_subscription() {
        let (io, peer) = pair().await;
        let outlet = io.outlet().unwrap();
        // The peer reads nothing: the socket's buffers fill up.
        let mut filled = 0;
        while outlet.lock().waiting.is_empty() {
            outlet.send(0, vec![b'x'; 64 * 1024]);
            filled += 1;
            assert!(filled < 10_000, "the socket never filled up");
        }
        for code in 0..1000u32 {
            outlet.send(1, code.to_be_bytes().to_vec());
            outlet.send(2, code.to_be_bytes().to_vec());
        }
        let waiting = outlet.lock().waiting.clone();
        let ids: Vec<u64> = waiting.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(waiting[1].1, 999u32.to_be_bytes());
        // An ended subscription's code is not written.
        outlet.forget(1);
        let ids: Vec<u64> = outlet.lock().waiting.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [0, 2]);
        drop(peer);
    }
}
