//! `isula.v1.ContainerService` over the engine's container lifecycle. Every engine call runs
//! on the blocking pool; logs, wait, attach and exec stream through channels fed by blocking
//! threads. CopyFrom sends the tar data first and the path stat in its last message.

use std::sync::Arc;

use isula_api::v1::container_service_server::ContainerService;
use isula_api::v1::*;
use isula_core::Engine;
use isula_core::{AttachEvent, AttachStream};
use isula_core::{CreateOptions, UpdateOptions};
use isula_core::{ExecOptions, ListOptions, RemoveOptions, WaitCondition};
use isula_core::{LogOptions, LogStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::blocking::{blocking, spawn_stream};
use crate::status::{parse_opts, status, to_json};

/// The container service.
#[derive(Clone)]
pub(crate) struct Containers {
    engine: Arc<Engine>,
}

impl Containers {
    /// A service over `engine`.
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Containers { engine }
    }
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("container operation {what} is not implemented by this engine yet"))
}

/// How long an attach stream waits for the engine to record an exit it already heard.
const EXIT_RECORD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn stop_timeout(t: i64) -> Option<i64> {
    (t >= 0).then_some(t)
}

/// Frames of an attach stream to gRPC messages until the process exits or the client leaves.
/// `on_exit` turns the exit into the final code (exec uses it to publish `exec_die`).
fn pump_output(
    mut s: AttachStream,
    tx: mpsc::Sender<Result<StdioResponse, Status>>,
    on_exit: impl FnOnce(Option<i32>) -> Option<i32>,
) {
    let msg = |stream, data| StdioResponse { stream, data, exited: false, exit_code: 0 };
    let mut code = None;
    loop {
        let ev = match s.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let _ = tx.blocking_send(Err(status(&e)));
                return;
            }
        };
        let m = match ev {
            Some(AttachEvent::Stdout(d)) => msg(1, d),
            Some(AttachEvent::Stderr(d)) => msg(2, d),
            Some(AttachEvent::Exit(st)) => {
                code = Some(st.code);
                break;
            }
            None => break,
        };
        if tx.blocking_send(Ok(m)).is_err() {
            return;
        }
    }
    if let Some(code) = on_exit(code) {
        let _ = tx.blocking_send(Ok(StdioResponse { stream: 0, data: Vec::new(), exited: true, exit_code: code }));
    }
}

/// What a client sends on an attach/exec stream after the first message.
enum Input {
    Data(Vec<u8>),
    Close,
    Resize(u16, u16),
}

/// Apply client input to the attach stream `w` on a thread; when the client goes away the
/// socket is shut down so the output pump ends too.
fn feed_input(mut w: AttachStream) -> std::sync::mpsc::Sender<Option<Input>> {
    let (tx, rx) = std::sync::mpsc::channel::<Option<Input>>();
    std::thread::spawn(move || {
        while let Ok(m) = rx.recv() {
            let r = match m {
                Some(Input::Data(d)) => w.write_stdin(&d),
                Some(Input::Close) => w.close_stdin(),
                Some(Input::Resize(h, wd)) => w.resize(h, wd),
                None => {
                    let _ = w.socket().shutdown(std::net::Shutdown::Both);
                    return;
                }
            };
            if let Err(e) = r {
                log::debug!("attach input: {e}");
            }
        }
        let _ = w.socket().shutdown(std::net::Shutdown::Both);
    });
    tx
}

fn input_of(data: Vec<u8>, close: bool, height: u32, width: u32) -> Vec<Input> {
    let mut v = Vec::new();
    if !data.is_empty() {
        v.push(Input::Data(data));
    }
    if close {
        v.push(Input::Close);
    }
    if height > 0 && width > 0 {
        v.push(Input::Resize(height.min(u16::MAX as u32) as u16, width.min(u16::MAX as u32) as u16));
    }
    v
}

/// A `Read` over chunks arriving on a channel (EOF when the sender is dropped).
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A `Write` that sends 256 KiB `DataChunk`s down a stream (an error once the client left).
struct ChunkWriter {
    tx: mpsc::Sender<Result<DataChunk, Status>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(Ok(DataChunk { data }))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 256 * 1024 {
            self.flush_chunk()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tonic::async_trait]
impl ContainerService for Containers {
    type WaitStream = ReceiverStream<Result<WaitContainerResponse, Status>>;
    type LogsStream = ReceiverStream<Result<LogsResponse, Status>>;
    type ExecStream = ReceiverStream<Result<StdioResponse, Status>>;
    type AttachStream = ReceiverStream<Result<StdioResponse, Status>>;
    type StatsStream = ReceiverStream<Result<StatsResponse, Status>>;
    type ExportStream = ReceiverStream<Result<DataChunk, Status>>;
    type CopyFromStream = ReceiverStream<Result<CopyFromResponse, Status>>;

    async fn create(&self, r: Request<CreateContainerRequest>) -> Result<Response<CreateContainerResponse>, Status> {
        let r = r.into_inner();
        let opts: CreateOptions = parse_opts("options_json", &r.options_json)?;
        let engine = self.engine.clone();
        let start = r.start;
        let id =
            blocking(move || if start { engine.containers().run(&opts) } else { engine.containers().create(&opts) })
                .await?;
        Ok(Response::new(CreateContainerResponse { id, warnings: Vec::new() }))
    }

    async fn start(&self, r: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, id) = (self.engine.clone(), r.into_inner().id);
        blocking(move || engine.containers().start(&id)).await?;
        Ok(Response::new(Empty {}))
    }

    async fn stop(&self, r: Request<StopContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        blocking(move || engine.containers().stop(&r.id, stop_timeout(r.timeout))).await?;
        Ok(Response::new(Empty {}))
    }

    async fn kill(&self, r: Request<KillContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        let sig = if r.signal.is_empty() { "SIGKILL".to_string() } else { r.signal };
        blocking(move || engine.containers().kill(&r.id, &sig)).await?;
        Ok(Response::new(Empty {}))
    }

    async fn remove(&self, r: Request<RemoveContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        let opts = RemoveOptions { force: r.force, volumes: r.volumes };
        // A burst of removals gives the heap back at its end.
        blocking(move || crate::memory::trim_after(|| engine.containers().remove(&r.id, &opts))).await?;
        Ok(Response::new(Empty {}))
    }

    async fn list(&self, r: Request<ListContainersRequest>) -> Result<Response<ListContainersResponse>, Status> {
        let opts: ListOptions = parse_opts("options_json", &r.into_inner().options_json)?;
        let engine = self.engine.clone();
        let list = blocking(move || engine.containers().list(&opts)).await?;
        Ok(Response::new(ListContainersResponse { containers_json: to_json(&list)? }))
    }

    async fn inspect(&self, r: Request<ContainerRequest>) -> Result<Response<InspectContainerResponse>, Status> {
        let (engine, id) = (self.engine.clone(), r.into_inner().id);
        let v = blocking(move || engine.containers().inspect(&id)).await?;
        Ok(Response::new(InspectContainerResponse { inspect_json: to_json(&v)? }))
    }

    async fn wait(&self, r: Request<WaitContainerRequest>) -> Result<Response<Self::WaitStream>, Status> {
        let r = r.into_inner();
        let cond = match r.condition.as_str() {
            "" | "not-running" => WaitCondition::NotRunning,
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            o => return Err(Status::invalid_argument(format!("invalid wait condition {o:?}"))),
        };
        let (tx, rx) = mpsc::channel(1);
        let engine = self.engine.clone();
        spawn_stream("wait", move || {
            let m = match engine.containers().wait(&r.id, cond) {
                Ok(code) => Ok(WaitContainerResponse { exit_code: code, error: String::new() }),
                Err(e) => Err(status(&e)),
            };
            let _ = tx.blocking_send(m);
        })?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn logs(&self, r: Request<LogsRequest>) -> Result<Response<Self::LogsStream>, Status> {
        let r = r.into_inner();
        let opts: LogOptions = parse_opts("options_json", &r.options_json)?;
        let engine = self.engine.clone();
        // Fail early (unknown container) with a status rather than inside the stream.
        let id = r.id.clone();
        let e2 = engine.clone();
        blocking(move || e2.containers().record(&id).map(|_| ())).await?;
        let (tx, rx) = mpsc::channel(64);
        spawn_stream("logs", move || {
            // A follower of a quiet container ends when its client leaves, not at the next line.
            let probe = tx.clone();
            let wanted = move || !probe.is_closed();
            let mut sink = |l: isula_core::LogLine| {
                let stream = if l.stream == LogStream::Stderr { 2 } else { 1 };
                let time = if opts.timestamps { l.time.clone() } else { String::new() };
                tx.blocking_send(Ok(LogsResponse { stream, data: l.log.into_bytes(), time })).is_ok()
            };
            if let Err(e) = engine.containers().logs_while(&r.id, &opts, &wanted, &mut sink) {
                let _ = tx.blocking_send(Err(status(&e)));
            }
        })?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn exec(&self, r: Request<Streaming<ExecRequest>>) -> Result<Response<Self::ExecStream>, Status> {
        let mut inbound = r.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("exec stream ended before the first message"))?;
        let mut opts: ExecOptions = parse_opts("options_json", &first.options_json)?;
        // The first message's size is the pty's from the start (resized again below, as before).
        if opts.tty && opts.console_size.is_none() && first.height > 0 && first.width > 0 {
            opts.console_size = Some([first.height as u16, first.width as u16]);
        }
        let engine = self.engine.clone();
        let id = first.id.clone();
        let detach = opts.detach;
        let mut exec = blocking(move || engine.containers().exec(&id, &opts)).await?;
        let (tx, rx) = mpsc::channel(64);
        if detach {
            drop(tx);
            return Ok(Response::new(ReceiverStream::new(rx)));
        }
        let stream = exec.take_stream().ok_or_else(|| Status::internal("exec has no attach stream"))?;
        let writer = stream.try_clone().map_err(|e| status(&e))?;
        let input = feed_input(writer);
        for i in input_of(first.stdin, first.close_stdin, first.height, first.width) {
            let _ = input.send(Some(i));
        }
        spawn_stream("exec", move || {
            pump_output(stream, tx, |code| match code {
                Some(_) | None => exec.wait().ok().or(code),
            })
        })?;
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                for i in input_of(m.stdin, m.close_stdin, m.height, m.width) {
                    if input.send(Some(i)).is_err() {
                        return;
                    }
                }
            }
            let _ = input.send(None);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn attach(&self, r: Request<Streaming<AttachRequest>>) -> Result<Response<Self::AttachStream>, Status> {
        let mut inbound = r.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("attach stream ended before the first message"))?;
        let engine = self.engine.clone();
        let id = first.id.clone();
        let stream = blocking(move || engine.containers().attach(&id)).await?;
        let writer = stream.try_clone().map_err(|e| status(&e))?;
        let input = feed_input(writer);
        let use_stdin = first.stdin;
        for i in input_of(first.data, first.close_stdin, first.height, first.width) {
            let _ = input.send(Some(i));
        }
        let (tx, rx) = mpsc::channel(64);
        let (want_out, want_err) = (first.stdout || !first.stderr, first.stderr || !first.stdout);
        let (ftx, mut frx) = mpsc::channel::<Result<StdioResponse, Status>>(64);
        let (engine, id) = (self.engine.clone(), first.id.clone());
        spawn_stream("attach", move || {
            // As Docker: once the client hears the exit, the container's record says so too
            // (an `rm` right after a foreground `run` must not find it running). The record
            // shows it by a new finish time (status alone could still be `created` here).
            let finished = |e: &Engine| e.containers().record(&id).map(|r| r.state.finished_at).ok();
            let before = finished(&engine);
            pump_output(stream, ftx, |code| {
                if let (Some(_), Some(before)) = (code, &before) {
                    engine.containers().wait_finish_after(&id, *before, EXIT_RECORD_WAIT);
                }
                code
            })
        })?;
        // Filter the streams the client did not ask for.
        let out = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = frx.recv().await {
                if let Ok(x) = &m {
                    if (x.stream == 1 && !want_out) || (x.stream == 2 && !want_err) {
                        continue;
                    }
                }
                if out.send(m).await.is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                let data = if use_stdin { m.data } else { Vec::new() };
                for i in input_of(data, m.close_stdin && use_stdin, m.height, m.width) {
                    if input.send(Some(i)).is_err() {
                        return;
                    }
                }
            }
            let _ = input.send(None);
        });
        drop(tx);
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn pause(&self, r: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, id) = (self.engine.clone(), r.into_inner().id);
        blocking(move || engine.containers().pause(&id)).await?;
        Ok(Response::new(Empty {}))
    }

    async fn unpause(&self, r: Request<ContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, id) = (self.engine.clone(), r.into_inner().id);
        blocking(move || engine.containers().unpause(&id)).await?;
        Ok(Response::new(Empty {}))
    }

    async fn restart(&self, r: Request<StopContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        blocking(move || engine.containers().restart(&r.id, stop_timeout(r.timeout))).await?;
        Ok(Response::new(Empty {}))
    }

    async fn rename(&self, r: Request<RenameContainerRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        blocking(move || engine.containers().rename(&r.id, &r.new_name)).await?;
        Ok(Response::new(Empty {}))
    }

    async fn top(&self, r: Request<TopContainerRequest>) -> Result<Response<TopContainerResponse>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        let t = blocking(move || engine.containers().top(&r.id, &r.ps_args)).await?;
        let processes = t.processes.into_iter().map(|fields| TopRow { fields }).collect();
        Ok(Response::new(TopContainerResponse { titles: t.titles, processes }))
    }

    async fn stats(&self, r: Request<StatsRequest>) -> Result<Response<Self::StatsStream>, Status> {
        let r = r.into_inner();
        if r.ids.len() != 1 {
            return Err(Status::invalid_argument("stats takes exactly one container per stream"));
        }
        let id = r.ids[0].clone();
        let e2 = self.engine.clone();
        let id2 = id.clone();
        blocking(move || e2.containers().record(&id2).map(|_| ())).await?;
        let (tx, rx) = mpsc::channel(4);
        let engine = self.engine.clone();
        spawn_stream("stats", move || {
            let mut sink = |s: &isula_core::ContainerStats| match serde_json::to_string(s) {
                Ok(j) => tx.blocking_send(Ok(StatsResponse { stats_json: j })).is_ok(),
                Err(_) => false,
            };
            if let Err(e) = engine.containers().stats(&id, r.stream, &mut sink) {
                let _ = tx.blocking_send(Err(status(&e)));
            }
        })?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn update(&self, r: Request<UpdateContainerRequest>) -> Result<Response<UpdateContainerResponse>, Status> {
        let r = r.into_inner();
        let opts: UpdateOptions = parse_opts("options_json", &r.options_json)?;
        let engine = self.engine.clone();
        blocking(move || engine.containers().update(&r.id, &opts)).await?;
        Ok(Response::new(UpdateContainerResponse { warnings: Vec::new() }))
    }

    async fn export(&self, r: Request<ContainerRequest>) -> Result<Response<Self::ExportStream>, Status> {
        let id = r.into_inner().id;
        let e2 = self.engine.clone();
        let id2 = id.clone();
        blocking(move || e2.containers().record(&id2).map(|_| ())).await?;
        let (tx, rx) = mpsc::channel(8);
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = ChunkWriter { tx: tx.clone(), buf: Vec::new() };
            let r = engine.containers().export(&id, &mut w).and_then(|_| {
                w.flush_chunk().map_err(|e| isula_core::Error::unavailable(format!("export stream: {e}")))
            });
            if let Err(e) = r {
                let _ = tx.blocking_send(Err(status(&e)));
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn copy_from(&self, r: Request<CopyFromRequest>) -> Result<Response<Self::CopyFromStream>, Status> {
        let r = r.into_inner();
        let e2 = self.engine.clone();
        let id2 = r.id.clone();
        blocking(move || e2.containers().record(&id2).map(|_| ())).await?;
        let (tx, rx) = mpsc::channel(8);
        let (ctx, mut crx) = mpsc::channel::<Result<DataChunk, Status>>(8);
        let engine = self.engine.clone();
        let out = tx.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = ChunkWriter { tx: ctx, buf: Vec::new() };
            let r = engine.containers().copy_from(&r.id, &r.path, r.follow_link, &mut w).and_then(|st| {
                w.flush_chunk().map_err(|e| isula_core::Error::unavailable(format!("copy stream: {e}")))?;
                Ok(st)
            });
            drop(w);
            let last = match r.map(|st| serde_json::to_string(&st)) {
                Ok(Ok(j)) => Ok(CopyFromResponse { stat_json: j, data: Vec::new() }),
                Ok(Err(e)) => Err(Status::internal(format!("cannot encode path stat: {e}"))),
                Err(e) => Err(status(&e)),
            };
            // Sent after the data (forwarded below), so the order is data then stat.
            let _ = out.blocking_send(last);
        });
        // Forward data chunks, then let the stat (sent on `tx` by the worker) follow.
        let (ftx, frx) = mpsc::channel(8);
        let mut rx = rx;
        tokio::spawn(async move {
            while let Some(m) = crx.recv().await {
                let m = m.map(|c| CopyFromResponse { stat_json: String::new(), data: c.data });
                if ftx.send(m).await.is_err() {
                    return;
                }
            }
            if let Some(last) = rx.recv().await {
                let _ = ftx.send(last).await;
            }
        });
        drop(tx);
        Ok(Response::new(ReceiverStream::new(frx)))
    }

    async fn stat_path(&self, r: Request<CopyFromRequest>) -> Result<Response<StatPathResponse>, Status> {
        let r = r.into_inner();
        let e = self.engine.clone();
        let st = blocking(move || e.containers().stat_path(&r.id, &r.path)).await?;
        Ok(Response::new(StatPathResponse { stat_json: to_json(&st)? }))
    }

    async fn copy_to(&self, r: Request<Streaming<CopyToRequest>>) -> Result<Response<Empty>, Status> {
        let mut inbound = r.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("copy stream ended before the first message"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let _ = tx.send(first.data);
        // Without `cp -a` the entries belong to the container's root, as with Docker.
        let owner = (!first.copy_uid_gid).then_some((0, 0));
        let opts = isula_core::CopyToOptions { owner, no_overwrite_dir_non_dir: first.no_overwrite_dir_non_dir };
        let engine = self.engine.clone();
        let (id, path) = (first.id, first.path);
        let job = tokio::task::spawn_blocking(move || {
            let mut reader = ChannelReader { rx, cur: Vec::new(), pos: 0 };
            engine.containers().copy_to(&id, &path, &mut reader, &opts)
        });
        while let Some(m) = inbound.message().await? {
            let tx = tx.clone();
            if tokio::task::spawn_blocking(move || tx.send(m.data)).await.ok().and_then(|r| r.ok()).is_none() {
                break;
            }
        }
        drop(tx);
        match job.await {
            Ok(Ok(())) => Ok(Response::new(Empty {})),
            Ok(Err(e)) => Err(status(&e)),
            Err(e) => Err(Status::internal(format!("copy failed: {e}"))),
        }
    }

    async fn resize(&self, r: Request<ResizeRequest>) -> Result<Response<Empty>, Status> {
        let (engine, r) = (self.engine.clone(), r.into_inner());
        if !r.exec_id.is_empty() {
            return Err(unimplemented("resize of an exec session (resize through the exec stream)"));
        }
        let (h, w) = (r.height.min(u16::MAX as u32) as u16, r.width.min(u16::MAX as u32) as u16);
        blocking(move || engine.containers().attach(&r.id)?.resize(h, w)).await?;
        Ok(Response::new(Empty {}))
    }
}
