//! The few ZooKeeper protocol exchanges the comparison needs outside a measured run: a readiness
//! probe (connect, then `getData`) and the pipelined creates that fill a server with a large
//! tree. Blocking sockets on plain threads: these are set-up steps, not the measured load, and
//! they must work the same against Corral and Apache ZooKeeper.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use corral_engine::wire::Writer;
use corral_net::jute::opcode;

use crate::client::{decode_connect_response, decode_reply_header, encode_connect_request, Op};

use crate::limits::{
    COMPARE_POPULATE_SESSIONS, COMPARE_POPULATE_WINDOW, COMPARE_REPLY_BYTES_MAX,
    COMPARE_REQUEST_TIMEOUT, COMPARE_SESSION_TIMEOUT_MS, PROBE_ATTEMPT_TIMEOUT,
    PROBE_RETRY_INTERVAL,
};
use crate::tree::{directory_count, directory_path, marker_path, node_path};
use crate::Error;

/// ZooKeeper's error code for success.
const ERROR_OK: i32 = 0;
/// ZooKeeper's error code of a create whose node already exists.
const ERROR_NODE_EXISTS: i32 = -110;
/// Bytes of a reply header: xid, zxid, err.
const REPLY_HEADER_BYTES: usize = 16;

/// One reply: its header and its body.
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// A connected session speaking the protocol over a blocking socket.
pub struct Session {
    stream: TcpStream,
    next_xid: i32,
    out: Vec<u8>,
}

impl Session {
    /// Connects and establishes a session, each step bounded by `timeout`.
    pub fn connect(address: &str, timeout: Duration) -> Result<Session, Error> {
        let socket_address = resolve(address)?;
        let stream = TcpStream::connect_timeout(&socket_address, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut session = Session {
            stream,
            next_xid: 1,
            out: Vec::new(),
        };
        session.handshake()?;
        Ok(session)
    }

    fn handshake(&mut self) -> Result<(), Error> {
        self.out.clear();
        encode_connect_request(COMPARE_SESSION_TIMEOUT_MS, &mut self.out);
        self.flush()?;
        let response = decode_connect_response(&self.read_frame()?)?;
        // A server that refuses the session answers with a zero timeout and session id.
        if response.session_id == 0 {
            return Err("the server refused the session".into());
        }
        Ok(())
    }

    /// Sets how long a read or a write may block.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))?;
        Ok(())
    }

    /// Queues a request (not sent until `flush`) and returns its xid.
    pub fn queue(&mut self, op: &Op<'_>) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        Writer::new(&mut self.out).i32(xid).i32(op.opcode());
        op.encode_body_into(&mut self.out);
        let length = (self.out.len() - start - 4) as u32;
        self.out[start..start + 4].copy_from_slice(&length.to_be_bytes());
        xid
    }

    /// Sends every queued request in one write.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.stream.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    /// Reads the next reply that answers a request (notifications and pings are skipped).
    pub fn read_reply(&mut self) -> Result<Reply, Error> {
        loop {
            let body = self.read_frame()?;
            let (xid, zxid, err) = decode_reply_header(&body)?;
            if xid < 0 {
                continue;
            }
            return Ok(Reply {
                xid,
                zxid,
                err,
                body: body[REPLY_HEADER_BYTES..].to_vec(),
            });
        }
    }

    fn read_frame(&mut self) -> Result<Vec<u8>, Error> {
        let mut length = [0; 4];
        self.stream.read_exact(&mut length)?;
        let length = i32::from_be_bytes(length);
        if length < 0 || length as usize > COMPARE_REPLY_BYTES_MAX {
            return Err(format!("the server sent a frame of {length} bytes").into());
        }
        let mut body = vec![0; length as usize];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// Queues a persistent create of `path` holding `data`, readable and writable by anyone.
    pub fn queue_create(&mut self, path: &str, data: &[u8]) -> i32 {
        self.queue(&Op::Create {
            path,
            data,
            flags: 0,
        })
    }

    /// Queues a `getData` of `path` without a watch.
    pub fn queue_get_data(&mut self, path: &str) -> i32 {
        self.queue(&Op::GetData { path, watch: false })
    }

    /// Ends the session politely, so that the server does not keep it until it times out.
    pub fn close(mut self) -> Result<(), Error> {
        self.queue(&Op::Raw {
            opcode: opcode::CLOSE_SESSION,
            body: &[],
        });
        self.flush()?;
        self.read_reply()?;
        Ok(())
    }
}

fn resolve(address: &str) -> Result<SocketAddr, Error> {
    address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("{address} does not resolve").into())
}

/// One probe: connect, `getData(path)`, answered with success. `false` on any failure (refused,
/// timed out, no such node yet): a server still starting does any of these.
pub fn probe_once(address: &str, path: &str) -> bool {
    let attempt = || -> Result<bool, Error> {
        let mut session = Session::connect(address, PROBE_ATTEMPT_TIMEOUT)?;
        let xid = session.queue_get_data(path);
        session.flush()?;
        let reply = session.read_reply()?;
        let served = reply.xid == xid && reply.err == ERROR_OK;
        session.close().ok();
        Ok(served)
    };
    attempt().unwrap_or(false)
}

/// Probes until `getData(path)` succeeds or `deadline` passes; `is_alive` is asked between
/// attempts, so a server that exited is reported at once instead of at the deadline.
pub fn wait_until_serving(
    address: &str,
    path: &str,
    deadline: Instant,
    mut is_alive: impl FnMut() -> Result<(), Error>,
) -> Result<(), Error> {
    loop {
        if probe_once(address, path) {
            return Ok(());
        }
        is_alive()?;
        if Instant::now() >= deadline {
            return Err(format!("{address} did not answer getData {path} in time").into());
        }
        std::thread::sleep(PROBE_RETRY_INTERVAL);
    }
}

/// Creates the nodes `paths` names over one session, `COMPARE_POPULATE_WINDOW` in flight. The
/// window keeps the bytes in flight far below the socket buffers, so neither side ever blocks
/// writing while the other is blocked writing too. Returns how many nodes it created.
fn create_pipelined(
    session: &mut Session,
    paths: impl Iterator<Item = String>,
    data: &[u8],
) -> Result<u64, Error> {
    let mut paths = paths.peekable();
    let mut outstanding = 0usize;
    let mut created = 0u64;
    loop {
        while outstanding < COMPARE_POPULATE_WINDOW {
            let Some(path) = paths.next() else { break };
            session.queue_create(&path, data);
            outstanding += 1;
        }
        if outstanding == 0 {
            return Ok(created);
        }
        session.flush()?;
        // Half a window is read before it is topped up again, so that writes stay batched.
        let low = if paths.peek().is_some() {
            COMPARE_POPULATE_WINDOW / 2
        } else {
            0
        };
        while outstanding > low {
            let reply = session.read_reply()?;
            outstanding -= 1;
            match reply.err {
                ERROR_OK => created += 1,
                // A node left by an earlier, interrupted population is as good as a new one.
                ERROR_NODE_EXISTS => {}
                err => return Err(format!("create failed with error {err}").into()),
            }
        }
    }
}

/// Creates `nodes` leaves of `value_bytes` under `root` in the shape `crate::tree` describes,
/// then the marker node, over `COMPARE_POPULATE_SESSIONS` sessions in parallel. Returns the
/// marker's path: a `getData` of it proves the whole population is there.
pub fn populate(
    address: &str,
    root: &str,
    nodes: u64,
    value_bytes: usize,
) -> Result<String, Error> {
    let mut first = Session::connect(address, COMPARE_REQUEST_TIMEOUT)?;
    create_pipelined(&mut first, std::iter::once(root.to_string()), b"")?;
    let directories = directory_count(nodes);
    in_parallel(address, directories, |worker, workers, session| {
        let paths = (worker..directories)
            .step_by(workers as usize)
            .map(|index| directory_path(root, index));
        create_pipelined(session, paths, b"")
    })?;
    let value = vec![b'v'; value_bytes];
    in_parallel(address, nodes, |worker, workers, session| {
        let paths = (worker..nodes)
            .step_by(workers as usize)
            .map(|index| node_path(root, index));
        create_pipelined(session, paths, &value)
    })?;
    let marker = marker_path(root);
    create_pipelined(&mut first, std::iter::once(marker.clone()), b"done")?;
    first.close()?;
    Ok(marker)
}

/// Runs `work(worker, workers, session)` on `COMPARE_POPULATE_SESSIONS` threads (fewer when
/// there are fewer items), each with its own session.
fn in_parallel(
    address: &str,
    items: u64,
    work: impl Fn(u64, u64, &mut Session) -> Result<u64, Error> + Sync,
) -> Result<(), Error> {
    let workers = (COMPARE_POPULATE_SESSIONS as u64).min(items);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let work = &work;
                scope.spawn(move || -> Result<u64, Error> {
                    let mut session = Session::connect(address, COMPARE_REQUEST_TIMEOUT)?;
                    let created = work(worker, workers, &mut session)?;
                    session.close()?;
                    Ok(created)
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(outcome) => {
                    outcome?;
                }
                Err(_) => return Err("a populate thread panicked".into()),
            }
        }
        Ok(())
    })
}
