//! One client connection: framing, the connect handshake, and per-session request order.
//!
//! A session's requests complete in the order it sent them. Reads are answered at once from the
//! shard's state unless a write of the same session is still in flight; then they wait in
//! `pending` behind it and are answered right after its reply, from the state that holds it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_engine::acl;
use corral_engine::types::{ErrorCode, Id, OpResult, Txn, WriteOp};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;

use super::pipeline::{Route, ToPipeline, WriteReply};
use super::requests;
use super::shard::Shard;
use super::signal::Signal;
use super::stats::ConnectionStats;
use super::{lock, now_ms, Shared};
use crate::jute::{
    decode_connect, decode_request_with, encode_connect_response, encode_reply, encode_write_reply,
    ConnectResponse, DecodeError, DecodeOptions, Reply, ReplyShape, Request, AUTH_REPLY_ZXID,
};
use crate::limits::{
    CONNECTION_OUTPUT_BYTES_MAX, FLUSH_GRACE_MS, PENDING_REQUESTS_MAX, READ_BUFFER_BYTES,
};

/// Why reading stopped when the peer simply hung up: not worth more than a debug line.
const CLIENT_CLOSED: &str = "the client closed the connection";

/// A request waiting for its turn in the session's order.
pub enum Pending {
    Connect {
        include_read_only: bool,
    },
    Write {
        xid: i32,
        shape: ReplyShape,
        started: Instant,
    },
    Close {
        xid: i32,
        started: Instant,
    },
    Read {
        xid: i32,
        request: Request,
        started: Instant,
    },
    /// A request ZooKeeper refuses while decoding; some refusals close the connection.
    Refused(DecodeError),
    /// A write refused while decoding: it still goes through the log to take its zxid.
    RefusedWrite {
        refusal: DecodeError,
        started: Instant,
    },
}

pub struct Conn {
    pub id: u64,
    pub peer: SocketAddr,
    pub session_id: Cell<i64>,
    pub auth: RefCell<Vec<Id>>,
    pub touched: Cell<bool>,
    pub stats: Arc<ConnectionStats>,
    out: RefCell<Vec<u8>>,
    out_signal: Signal,
    pending: RefCell<VecDeque<Pending>>,
    progress: Signal,
    closing: Cell<bool>,
    reading_stopped: Cell<bool>,
}

impl Conn {
    fn new(id: u64, peer: SocketAddr) -> Self {
        Conn {
            id,
            peer,
            session_id: Cell::new(0),
            auth: RefCell::new(vec![Id::new("ip", &peer.ip().to_string())]),
            touched: Cell::new(false),
            stats: Arc::new(ConnectionStats::new(peer, now_ms())),
            out: RefCell::new(Vec::new()),
            out_signal: Signal::default(),
            pending: RefCell::new(VecDeque::new()),
            progress: Signal::default(),
            closing: Cell::new(false),
            reading_stopped: Cell::new(false),
        }
    }

    /// Appends to the output; a client that does not read its replies is disconnected rather
    /// than allowed to grow the buffer without bound.
    pub fn push_output(&self, encode: impl FnOnce(&mut Vec<u8>)) {
        if self.closing.get() {
            return;
        }
        let mut out = self.out.borrow_mut();
        encode(&mut out);
        let too_big = out.len() > CONNECTION_OUTPUT_BYTES_MAX;
        drop(out);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        if too_big {
            log::warn!(
                "closing connection from {}: it does not read its replies",
                self.peer
            );
            self.close();
        }
        self.out_signal.notify();
    }

    /// No more requests are read; what is buffered is still written, then the socket closes.
    pub fn close(&self) {
        self.closing.set(true);
        self.out_signal.notify();
        self.progress.notify();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    pub fn stop_reading(&self) {
        self.reading_stopped.set(true);
        self.progress.notify();
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.borrow().is_empty()
    }

    fn route(&self, shard: &Shard) -> Route {
        Route {
            shard: shard.id,
            conn_id: self.id,
        }
    }
}

pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let conn = Rc::new(Conn::new(shard.next_conn_id(), peer));
    shard.conns.borrow_mut().insert(conn.id, conn.clone());
    lock(&shard.shared.connections).insert(conn.id, conn.stats.clone());
    let (reader, writer) = futures_lite::io::split(stream);
    let writer_task = glommio::spawn_local(write_loop(shard.shared.clone(), conn.clone(), writer));
    match read_loop(&shard, &conn, reader).await {
        Ok(()) => {}
        Err(reason) if reason == CLIENT_CLOSED => log::debug!("{peer}: {reason}"),
        Err(reason) => log::info!("closing connection from {peer}: {reason}"),
    }
    conn.close();
    let flush = glommio::timer::timeout(Duration::from_millis(FLUSH_GRACE_MS), async {
        writer_task.await;
        Ok(())
    });
    let _ = flush.await;
    shard.conns.borrow_mut().remove(&conn.id);
    shard.watches().remove_connection(conn.id);
    lock(&shard.shared.connections).remove(&conn.id);
    shard.shared.release_connection(peer.ip());
    let abandoned = conn.pending.borrow().len() as i64;
    shard
        .shared
        .stats
        .outstanding
        .fetch_sub(abandoned, Ordering::Relaxed);
}

async fn write_loop<W: AsyncWrite + Unpin>(shared: Arc<Shared>, conn: Rc<Conn>, mut writer: W) {
    let mut buffer = Vec::new();
    loop {
        std::mem::swap(&mut buffer, &mut *conn.out.borrow_mut());
        if buffer.is_empty() {
            if conn.closing.get() {
                break;
            }
            conn.out_signal.wait().await;
            continue;
        }
        if writer.write_all(&buffer).await.is_err() {
            conn.close();
            break;
        }
        shared.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
        buffer.clear();
    }
    let _ = writer.close().await;
}

/// Reads 4-byte-length-prefixed frames into one reused buffer.
struct FrameReader {
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    frame_bytes_max: usize,
}

impl FrameReader {
    fn new(frame_bytes_max: usize) -> Self {
        FrameReader {
            buffer: vec![0; READ_BUFFER_BYTES],
            start: 0,
            end: 0,
            frame_bytes_max,
        }
    }

    /// Makes at least `count` bytes available from `start`, reading as needed.
    async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        count: usize,
    ) -> Result<(), String> {
        while self.end - self.start < count {
            if self.start + count > self.buffer.len() {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if count > self.buffer.len() {
                    self.buffer.resize(count, 0);
                }
            }
            let read = reader
                .read(&mut self.buffer[self.end..])
                .await
                .map_err(|error| format!("read failed: {error}"))?;
            if read == 0 {
                return Err(CLIENT_CLOSED.into());
            }
            self.end += read;
        }
        Ok(())
    }

    async fn prefix<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> Result<[u8; 4], String> {
        self.fill(reader, 4).await?;
        let mut prefix = [0u8; 4];
        prefix.copy_from_slice(&self.buffer[self.start..self.start + 4]);
        self.start += 4;
        Ok(prefix)
    }

    /// The body of a frame whose length prefix was `prefix`; valid until the next read.
    async fn body<'frame, R: AsyncRead + Unpin>(
        &'frame mut self,
        reader: &mut R,
        prefix: [u8; 4],
    ) -> Result<&'frame [u8], String> {
        let length = i32::from_be_bytes(prefix);
        if length < 0 || length as usize > self.frame_bytes_max {
            return Err(format!(
                "frame length {length} is outside 0..={} (jute.maxbuffer)",
                self.frame_bytes_max
            ));
        }
        let length = length as usize;
        self.fill(reader, length).await?;
        let body = &self.buffer[self.start..self.start + length];
        self.start += length;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(body)
    }

    /// Gives back memory a single large frame made the buffer grow to.
    fn shrink(&mut self) {
        if self.buffer.len() > READ_BUFFER_BYTES && self.end - self.start <= READ_BUFFER_BYTES {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buffer.truncate(READ_BUFFER_BYTES);
            self.buffer.shrink_to_fit();
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    shard: &Rc<Shard>,
    conn: &Rc<Conn>,
    mut reader: R,
) -> Result<(), String> {
    let mut frames = FrameReader::new(shard.shared.config.jute_max_buffer);
    let prefix = frames.prefix(&mut reader).await?;
    // The first packet (a four-letter word or the connect request) counts as received.
    conn.stats.received.fetch_add(1, Ordering::Relaxed);
    shard
        .shared
        .stats
        .packets_received
        .fetch_add(1, Ordering::Relaxed);
    if let Some(word) = crate::fourlw::four_letter_word(prefix) {
        let text = super::fourlw_input::render_word(shard, word);
        conn.push_output(|out| out.extend_from_slice(text.as_bytes()));
        return Ok(());
    }
    let body = frames.body(&mut reader, prefix).await?;
    handshake(shard, conn, body).await?;
    loop {
        while conn.pending.borrow().len() >= PENDING_REQUESTS_MAX && !conn.closing.get() {
            conn.progress.wait().await;
        }
        if conn.closing.get() || conn.reading_stopped.get() {
            return Ok(());
        }
        let (frames_ref, reader_ref) = (&mut frames, &mut reader);
        let next = future::or(
            async move {
                let prefix = frames_ref.prefix(reader_ref).await?;
                // The frame is handled where it lies in the read buffer, without a copy.
                let body = FrameReader::body(frames_ref, reader_ref, prefix).await?;
                Ok::<_, String>(Some(body))
            },
            async {
                while !(conn.closing.get() || conn.reading_stopped.get()) {
                    conn.progress.wait().await;
                }
                Ok(None)
            },
        )
        .await?;
        let Some(frame) = next else {
            return Ok(());
        };
        conn.touched.set(true);
        conn.stats.received.fetch_add(1, Ordering::Relaxed);
        shard
            .shared
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        handle_frame(shard, conn, frame).await?;
        frames.shrink();
    }
}

async fn handshake(shard: &Rc<Shard>, conn: &Rc<Conn>, body: &[u8]) -> Result<(), String> {
    let request =
        decode_connect(body).map_err(|error| format!("bad connect request: {error:?}"))?;
    let config = &shard.shared.config;
    let state = shard.state();
    if request.last_zxid_seen > state.last_zxid() {
        return Err(format!(
            "refusing session: the client has seen zxid 0x{:x}, this server's last zxid is 0x{:x}",
            request.last_zxid_seen,
            state.last_zxid()
        ));
    }
    let timeout_ms = request
        .timeout_ms
        .clamp(config.min_session_timeout_ms, config.max_session_timeout_ms);
    conn.stats.timeout_ms.store(timeout_ms, Ordering::Relaxed);
    let include_read_only = request.read_only_present;
    if request.session_id == 0 {
        conn.pending
            .borrow_mut()
            .push_back(Pending::Connect { include_read_only });
        let txn = Txn {
            session_id: 0,
            cxid: 0,
            time_ms: 0,
            auth: Vec::new(),
            op: WriteOp::CreateSession {
                timeout_ms,
                password: random_password(),
            },
        };
        submit(shard, conn, txn).await?;
        while conn.session_id.get() == 0 && !conn.closing.get() {
            conn.progress.wait().await;
        }
        return Ok(());
    }
    let known = state
        .session(request.session_id)
        .filter(|info| info.password[..] == request.password[..])
        .map(|info| info.password);
    let Some(password) = known else {
        // ZooKeeper's answer to an expired or unknown session: a zero session, then close.
        conn.push_output(|out| {
            encode_connect_response(
                out,
                &ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 0,
                    session_id: 0,
                    password: [0; 16],
                    read_only: false,
                },
                include_read_only,
            )
        });
        return Err(format!(
            "session 0x{:x} is expired or unknown",
            request.session_id
        ));
    };
    conn.session_id.set(request.session_id);
    conn.stats
        .session_id
        .store(request.session_id, Ordering::Relaxed);
    conn.touched.set(true);
    // As ZooKeeper does, the session's previous connection is closed. The pipeline hears of the
    // move before the client hears it is connected, so moves reach it in the client's order.
    shard
        .to_pipeline
        .send_async(ToPipeline::Attached {
            session_id: request.session_id,
            route: conn.route(shard),
        })
        .await
        .map_err(|_| "the server is shutting down".to_string())?;
    conn.push_output(|out| {
        encode_connect_response(
            out,
            &ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id: request.session_id,
                password,
                read_only: false,
            },
            include_read_only,
        )
    });
    Ok(())
}

fn random_password() -> [u8; 16] {
    let mut password = [0u8; 16];
    // SAFETY: the buffer is valid for 16 bytes; getrandom writes at most that many.
    let filled = unsafe { libc::getrandom(password.as_mut_ptr().cast(), password.len(), 0) };
    if filled != password.len() as isize {
        // The kernel's generator cannot fail for 16 bytes once booted; if it somehow does,
        // fall back to the clock so that sessions still get distinct passwords.
        password[..8].copy_from_slice(&now_ms().to_be_bytes());
        password[8..].copy_from_slice(&Instant::now().elapsed().as_nanos().to_le_bytes()[..8]);
    }
    password
}

async fn submit(shard: &Rc<Shard>, conn: &Rc<Conn>, txn: Txn) -> Result<(), String> {
    shard
        .shared
        .stats
        .outstanding
        .fetch_add(1, Ordering::Relaxed);
    shard
        .to_pipeline
        .send_async(ToPipeline::Write {
            route: conn.route(shard),
            txn,
        })
        .await
        .map_err(|_| "the server is shutting down".to_string())
}

async fn handle_frame(shard: &Rc<Shard>, conn: &Rc<Conn>, frame: &[u8]) -> Result<(), String> {
    let started = Instant::now();
    let options = DecodeOptions {
        extended_types_enabled: shard.shared.config.extended_types_enabled,
    };
    let (header, request) = match decode_request_with(frame, &options) {
        Ok(decoded) => decoded,
        Err(DecodeError::Malformed(reason)) => return Err(format!("malformed request: {reason}")),
        Err(DecodeError::Reply {
            xid,
            code,
            empty_multi_body,
        }) if is_write_opcode(frame) => {
            // ZooKeeper logs a refused write as an error txn, which takes a zxid; so does Corral.
            let refusal = DecodeError::Reply {
                xid,
                code,
                empty_multi_body,
            };
            conn.pending
                .borrow_mut()
                .push_back(Pending::RefusedWrite { refusal, started });
            let txn = write_txn(conn, xid, WriteOp::Refused { code });
            return submit(shard, conn, txn).await;
        }
        Err(refusal) => {
            enqueue(shard, conn, Pending::Refused(refusal));
            return Ok(());
        }
    };
    let xid = header.xid;
    conn.stats.last_cxid.store(xid as i64, Ordering::Relaxed);
    conn.stats
        .last_opcode
        .store(header.opcode, Ordering::Relaxed);
    match request {
        Request::CloseSession => {
            conn.pending
                .borrow_mut()
                .push_back(Pending::Close { xid, started });
            let txn = write_txn(conn, xid, WriteOp::CloseSession);
            submit(shard, conn, txn).await
        }
        Request::Write(write) => {
            conn.pending.borrow_mut().push_back(Pending::Write {
                xid,
                shape: write.shape,
                started,
            });
            let txn = write_txn(conn, xid, write.op);
            submit(shard, conn, txn).await
        }
        Request::Auth { scheme, auth, .. } => authenticate(shard, conn, xid, &scheme, &auth),
        Request::Sasl { .. } => {
            conn.push_output(|out| encode_reply(out, xid, AUTH_REPLY_ZXID, Ok(Reply::Sasl(None))));
            Ok(())
        }
        request => {
            enqueue(
                shard,
                conn,
                Pending::Read {
                    xid,
                    request,
                    started,
                },
            );
            Ok(())
        }
    }
}

fn write_txn(conn: &Conn, xid: i32, op: WriteOp) -> Txn {
    Txn {
        session_id: conn.session_id.get(),
        cxid: xid,
        time_ms: 0,
        auth: conn.auth.borrow().clone(),
        op,
    }
}

/// addauth is answered at once, outside the session's order, as ZooKeeper does; a failed
/// authentication is answered with AuthFailed and the connection is closed.
fn authenticate(
    shard: &Shard,
    conn: &Conn,
    xid: i32,
    scheme: &str,
    auth: &[u8],
) -> Result<(), String> {
    let super_digest = shard.shared.config.super_digest.as_deref();
    match acl::authenticate(scheme, auth, super_digest) {
        Ok(ids) => {
            let mut known = conn.auth.borrow_mut();
            for id in ids {
                if !known.contains(&id) {
                    known.push(id);
                }
            }
            drop(known);
            conn.push_output(|out| encode_reply(out, xid, AUTH_REPLY_ZXID, Ok(Reply::Empty)));
            Ok(())
        }
        Err(code) => {
            conn.push_output(|out| encode_reply(out, xid, AUTH_REPLY_ZXID, Err(code)));
            Err(format!("authentication with scheme {scheme} failed"))
        }
    }
}

/// Answers now if nothing of this session is in flight; otherwise waits its turn.
fn enqueue(shard: &Shard, conn: &Conn, pending: Pending) {
    if conn.pending.borrow().is_empty() {
        execute(shard, conn, pending);
    } else {
        shard
            .shared
            .stats
            .outstanding
            .fetch_add(1, Ordering::Relaxed);
        conn.pending.borrow_mut().push_back(pending);
    }
}

fn execute(shard: &Shard, conn: &Conn, pending: Pending) {
    match pending {
        Pending::Read {
            xid,
            request,
            started,
        } => {
            requests::execute(shard, conn, xid, request);
            record_latency(shard, conn, started);
        }
        Pending::Refused(refusal) => {
            let zxid = shard.state().last_zxid();
            let mut close = false;
            conn.push_output(|out| close = refusal.encode_reply(out, zxid));
            if close {
                conn.close();
            }
        }
        Pending::Connect { .. }
        | Pending::Write { .. }
        | Pending::Close { .. }
        | Pending::RefusedWrite { .. } => {
            unreachable!("writes are completed by their publication, never executed locally")
        }
    }
}

fn record_latency(shard: &Shard, conn: &Conn, started: Instant) {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    shard.shared.stats.latency.record(elapsed_ms);
    conn.stats.latency.record(elapsed_ms);
    conn.stats
        .last_latency_ms
        .store(elapsed_ms, Ordering::Relaxed);
    conn.stats
        .last_response_ms
        .store(now_ms(), Ordering::Relaxed);
}

/// The reply to this connection's oldest write has been published: answer it, then every read
/// that was waiting behind it.
pub fn complete_write(shard: &Shard, conn: &Conn, reply: WriteReply) {
    let Some(front) = conn.pending.borrow_mut().pop_front() else {
        log::error!(
            "connection {:x}: a write reply arrived with nothing in flight",
            conn.id
        );
        return;
    };
    shard
        .shared
        .stats
        .outstanding
        .fetch_sub(1, Ordering::Relaxed);
    conn.stats.last_zxid.store(reply.zxid, Ordering::Relaxed);
    match front {
        Pending::Connect { include_read_only } => finish_connect(conn, reply, include_read_only),
        Pending::Write {
            xid,
            shape,
            started,
        } => {
            assert_eq!(
                xid, reply.cxid,
                "write replies arrive in the session's order"
            );
            conn.push_output(|out| encode_write_reply(out, xid, reply.zxid, &shape, &reply.result));
            record_latency(shard, conn, started);
        }
        Pending::RefusedWrite { refusal, started } => {
            conn.push_output(|out| {
                refusal.encode_reply(out, reply.zxid);
            });
            record_latency(shard, conn, started);
        }
        Pending::Close { xid, started } => {
            let result = close_result(conn, &reply.result);
            conn.push_output(|out| encode_reply(out, xid, reply.zxid, result));
            record_latency(shard, conn, started);
            // ZooKeeper closes the connection after answering any closeSession, and its clients
            // disconnect after the reply whatever its code, so the connection closes either way.
            // A close that failed leaves the session alive: it expires by its timeout.
            conn.close();
        }
        Pending::Read { .. } | Pending::Refused(_) => {
            unreachable!("a read never waits at the head of the queue")
        }
    }
    loop {
        let next = {
            let mut pending = conn.pending.borrow_mut();
            match pending.front() {
                Some(Pending::Read { .. } | Pending::Refused(_)) => pending.pop_front(),
                _ => None,
            }
        };
        let Some(next) = next else {
            break;
        };
        shard
            .shared
            .stats
            .outstanding
            .fetch_sub(1, Ordering::Relaxed);
        execute(shard, conn, next);
    }
    conn.progress.notify();
}

/// The answer to the client's own closeSession: the pipeline's error when the close was not
/// logged (SystemError on a full or failing disk), so the client is not told a session ended
/// that in fact lives on until it expires.
fn close_result(conn: &Conn, result: &OpResult) -> Result<Reply<'static>, ErrorCode> {
    match result {
        OpResult::Error(code) => {
            log::warn!(
                "closeSession of session 0x{:x} failed ({code:?}); it expires by its timeout",
                conn.session_id.get()
            );
            Err(*code)
        }
        _ => Ok(Reply::Empty),
    }
}

fn finish_connect(conn: &Conn, reply: WriteReply, include_read_only: bool) {
    match reply.result {
        OpResult::SessionCreated {
            session_id,
            timeout_ms,
            password,
        } => {
            conn.session_id.set(session_id);
            conn.stats.session_id.store(session_id, Ordering::Relaxed);
            conn.touched.set(true);
            conn.push_output(|out| {
                encode_connect_response(
                    out,
                    &ConnectResponse {
                        protocol_version: 0,
                        timeout_ms,
                        session_id,
                        password,
                        read_only: false,
                    },
                    include_read_only,
                )
            });
        }
        other => {
            log::error!("session creation failed: {other:?}");
            conn.close();
        }
    }
}

/// Whether a frame's opcode is one that ZooKeeper turns into a transaction (so a refusal of it
/// is logged as an error txn and takes a zxid).
fn is_write_opcode(frame: &[u8]) -> bool {
    use crate::jute::opcode;
    let opcode = frame
        .get(4..8)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(i32::from_be_bytes);
    matches!(
        opcode,
        Some(
            opcode::CREATE
                | opcode::DELETE
                | opcode::SET_DATA
                | opcode::SET_ACL
                | opcode::CHECK
                | opcode::MULTI
                | opcode::CREATE2
                | opcode::RECONFIG
                | opcode::CREATE_CONTAINER
                | opcode::DELETE_CONTAINER
                | opcode::CREATE_TTL
        )
    )
}
