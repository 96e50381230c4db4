//! A TCP stream that knows when its bytes arrived: the kernel's receive
//! timestamp (`SO_TIMESTAMPNS`) of the last read, not the time this
//! client got round to reading them.
//!
//! Why: the client shares the machine's cores with the server, and with
//! 10,000 sockets it may read a code long after the server wrote it. On
//! loopback the kernel stamps a segment as the server's write hands it
//! over, so the stamp measures the server's delay and nothing of the
//! client's own.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A connected socket whose reads record their kernel receive time.
pub struct TimedStream {
    inner: TcpStream,
    /// Unix time (seconds) the bytes of the last read arrived; 0 before.
    arrived: f64,
}

impl TimedStream {
    /// Turns on receive timestamps for `inner`.
    pub fn new(inner: TcpStream) -> io::Result<TimedStream> {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option of its declared size.
        let done = unsafe {
            libc::setsockopt(
                inner.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TimedStream {
            inner,
            arrived: 0.0,
        })
    }

    /// When the bytes of the last read reached the socket (Unix seconds).
    pub fn arrived(&self) -> f64 {
        self.arrived
    }
}

/// One `recvmsg` into `buf`: the bytes read and their receive timestamp.
fn recv_timed(fd: i32, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<f64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid; the pointers set below outlive
    // the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: fd is an open socket; msg points at live buffers.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the kernel filled msg's control buffer; the CMSG macros walk
    // it within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

impl AsyncRead for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let fd = this.inner.as_raw_fd();
            // SAFETY: recvmsg only writes the bytes it reports.
            let unfilled = unsafe { buf.unfilled_mut() };
            match this
                .inner
                .try_io(Interest::READABLE, || recv_timed(fd, unfilled))
            {
                Ok((n, stamp)) => {
                    if let Some(stamp) = stamp {
                        this.arrived = stamp;
                    }
                    // SAFETY: recvmsg wrote n bytes into the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
