//! `host_load`: approved sales per second through the test host (issue #5), on loopback.
//!
//! Starts `iso8583_host::TestHost` in this process (multi-threaded tokio runtime, ephemeral
//! port, built-in configuration with enough terminals), or with `--host ADDR` uses a host in
//! another process, and drives it with N connections, one terminal each, every connection
//! sending a sale and waiting for its answer before the next (as a terminal does). Each sale is
//! a pre-encoded international 0200 (`intl-pos`, 2-byte length + TPDU) whose trace number is
//! patched in place, so the client's cost per sale is a few hundred nanoseconds and the figure
//! is the host's. Prints, per run (`run 2/3`), approved sales per second, latency percentiles
//! and how many answers were not approved; then the in-process host's own count of approved
//! 0200s, which a host in another process keeps to itself (it prints its summary when it
//! stops). `--memory N` instead opens N connections that each sell once and reports the
//! process's resident memory.
//!
//! Only approved answers are timed. A host that already saw a terminal's trace numbers in its
//! open batch answers them 94 (a duplicate, DESIGN §6): run against a fresh `testhost`, or move
//! the traces on with `--first-trace N`.
//!
//! ```sh
//! cargo run --release -p pos8583-benches --bin host_load -- --connections 1 --sales 20000
//! cargo run --release -p pos8583-benches --bin host_load -- --connections 64 --sales 2000
//! cargo run --release -p pos8583-benches --bin host_load -- --memory 1000
//! # against a testhost in another process (its terminals expanded with --terminals 64):
//! cargo run --release -p pos8583-benches --bin host_load -- --host 127.0.0.1:8583 --connections 64
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iso8583_codec::{Builder, Mti, Spec};
use iso8583_host::{Dialect, HostConfig, TestHost};
use iso8583_wire::{Frame, FrameCodec, FrameConfig, MessageFrame, Nii, Tpdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

struct Args {
    host: Option<SocketAddr>,
    connections: u32,
    sales: u32,
    runs: u32,
    memory: Option<u32>,
    first_trace: u32,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        host: None,
        connections: 1,
        sales: 10_000,
        runs: 3,
        memory: None,
        first_trace: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<u32, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--connections" => a.connections = value()?.max(1),
            "--sales" => a.sales = value()?.max(1),
            "--runs" => a.runs = value()?.max(1),
            "--memory" => a.memory = Some(value()?.max(1)),
            "--first-trace" => a.first_trace = value()? % 999_999,
            "--host" => {
                let addr = it.next().and_then(|v| v.parse().ok());
                a.host = Some(addr.ok_or("--host needs an address")?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

#[allow(clippy::print_stdout)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // A host in another process: nothing to start here, and its books are its own.
        let local = match args.host {
            Some(_) => None,
            None => {
                let terminals = args.memory.unwrap_or(args.connections);
                let config = HostConfig::builtin()
                    .on_ephemeral_ports()
                    .with_terminal_count(terminals);
                Some(TestHost::spawn(config).await?)
            }
        };
        let addr = match (args.host, &local) {
            (Some(addr), _) => addr,
            (None, Some(host)) => host
                .addr(Dialect::International)
                .ok_or("no international listener")?,
            (None, None) => return Err("no host".into()),
        };
        if let Some(n) = args.memory {
            memory(addr, n).await?;
            return Ok(());
        }
        for run in 1..=args.runs {
            // Each run's traces follow the last run's (n6, wrapping), so none is a duplicate.
            let next = u64::from(args.first_trace) + u64::from(run - 1) * u64::from(args.sales);
            let first = (next % 999_999) as u32;
            let r = load(addr, args.connections, args.sales, first).await?;
            println!(
                "run {run}/{}: {}",
                args.runs,
                r.line(args.connections, args.sales)
            );
        }
        match local {
            Some(host) => {
                let summary = host.shutdown().await;
                println!(
                    "host answered 0200 with 00: {}",
                    summary.answers("0200", "00")
                );
            }
            None => println!(
                "host's own counts: not visible from here (a host in another process prints \
                 its summary when it stops)"
            ),
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

struct Result_ {
    rate: f64,
    /// Latency percentiles p50, p90, p99 and max of the approved sales; `None` when none was.
    percentiles: Option<[Duration; 4]>,
    /// Answers other than 00.
    refused: usize,
}

impl Result_ {
    fn line(&self, connections: u32, sales: u32) -> String {
        let mut line = format!(
            "{connections} connection(s) x {sales} sales: {:.0} approved sales/s",
            self.rate
        );
        if let Some([p50, p90, p99, max]) = self.percentiles {
            line.push_str(&format!(
                ", p50 {p50:?} p90 {p90:?} p99 {p99:?} max {max:?}"
            ));
        }
        if self.refused > 0 {
            line.push_str(&format!(
                "; {} answer(s) not 00 (94: the host saw these traces already, see --first-trace)",
                self.refused
            ));
        }
        line
    }
}

/// One run: every connection sells `sales` times, its traces after `first_trace`.
async fn load(
    addr: SocketAddr,
    connections: u32,
    sales: u32,
    first_trace: u32,
) -> Result<Result_, Box<dyn std::error::Error>> {
    let mut conns = Vec::new();
    for i in 0..connections {
        conns.push(Terminal::connect(addr, i + 1, first_trace).await?);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut t| tokio::spawn(async move { t.sell(sales).await }))
        .collect();
    let mut latencies = Vec::with_capacity((connections * sales) as usize);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| {
        let last = latencies.len().saturating_sub(1);
        latencies.get((last as f64 * p) as usize).copied()
    };
    let percentiles = match (pct(0.5), pct(0.9), pct(0.99), pct(1.0)) {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    };
    Ok(Result_ {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        percentiles,
        refused: (connections * sales) as usize - latencies.len(),
    })
}

/// Opens `n` connections, sells once on each, and reports this process's resident memory.
#[allow(clippy::print_stdout)]
async fn memory(addr: SocketAddr, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let before = rss_kib();
    let mut conns = Vec::new();
    for i in 0..n {
        let mut t = Terminal::connect(addr, i + 1, 0).await?;
        t.sell(1).await?;
        conns.push(t);
    }
    let after = rss_kib();
    println!(
        "{n} connections open (host and clients in this process): RSS {} MiB, {} MiB before",
        after / 1024,
        before / 1024
    );
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One terminal: a connection and a pre-encoded sale frame whose trace it patches.
struct Terminal {
    stream: TcpStream,
    codec: FrameCodec,
    frame: BytesMut,
    /// Offset of field 11's three BCD bytes in `frame`.
    trace_at: usize,
    trace: u32,
    input: BytesMut,
}

impl Terminal {
    async fn connect(addr: SocketAddr, n: u32, first_trace: u32) -> std::io::Result<Terminal> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let spec = Spec::builtin("intl-pos").ok_or(std::io::ErrorKind::NotFound)?;
        let tid = format!("{n:08}");
        let mut b = Builder::new(
            spec,
            Mti::new("0200").ok_or(std::io::ErrorKind::InvalidData)?,
        );
        let bad = |e: iso8583_codec::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        b.set_str(2, "4761739001010010").map_err(bad)?;
        b.set_str(3, "000000").map_err(bad)?;
        b.set_str(4, "000000001250").map_err(bad)?;
        b.set_str(11, "000000").map_err(bad)?;
        b.set_str(12, "101010").map_err(bad)?;
        b.set_str(13, "1203").map_err(bad)?;
        b.set_str(22, "021").map_err(bad)?;
        b.set_str(24, "003").map_err(bad)?;
        b.set_str(25, "00").map_err(bad)?;
        b.set(41, tid.into_bytes()).map_err(bad)?;
        b.set_str(42, "123456789012345").map_err(bad)?;
        let body = b.to_bytes();
        let offset = spec
            .decode_complete(&body)
            .ok()
            .and_then(|m| m.field(11).map(|f| f.offset()))
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let tpdu = Tpdu::new(Nii::new(3).map_err(io)?, Nii::new(0).map_err(io)?);
        let mut codec = FrameCodec::new(FrameConfig::international());
        let mut frame = BytesMut::new();
        codec
            .encode(
                Frame::Message(MessageFrame::new(body).with_tpdu(tpdu)),
                &mut frame,
            )
            .map_err(io)?;
        Ok(Terminal {
            stream,
            codec,
            // Length header (2) and TPDU (5) come before the body.
            trace_at: 7 + offset,
            frame,
            trace: first_trace,
            input: BytesMut::with_capacity(1024),
        })
    }

    /// Sells `n` times, one at a time; the latency of each approved sale.
    async fn sell(&mut self, n: u32) -> std::io::Result<Vec<Duration>> {
        let mut latencies = Vec::with_capacity(n as usize);
        for _ in 0..n {
            self.trace = self.trace % 999_999 + 1;
            let t = self.trace;
            let bcd = |hi: u32, lo: u32| ((hi % 10) << 4 | (lo % 10)) as u8;
            let digits = [t / 100_000, t / 10_000, t / 1000, t / 100, t / 10, t];
            if let Some(slot) = self.frame.get_mut(self.trace_at..self.trace_at + 3) {
                slot.copy_from_slice(&[
                    bcd(digits[0], digits[1]),
                    bcd(digits[2], digits[3]),
                    bcd(digits[4], digits[5]),
                ]);
            }
            let start = Instant::now();
            self.stream.write_all(&self.frame).await?;
            let approved = self.answer().await?;
            if approved {
                latencies.push(start.elapsed());
            }
        }
        Ok(latencies)
    }

    /// Reads one answer; true when it is approved (39 = `00`, the last field but 41 and 42:
    /// read by decoding it).
    async fn answer(&mut self) -> std::io::Result<bool> {
        let spec = Spec::builtin("intl-pos").ok_or(std::io::ErrorKind::NotFound)?;
        loop {
            if let Some(Frame::Message(frame)) = self.codec.decode(&mut self.input).map_err(io)? {
                let msg = spec.decode_complete(&frame.body).map_err(io)?;
                return Ok(msg.field(39).map(|f| f.raw()) == Some(&b"00"[..]));
            }
            if self.stream.read_buf(&mut self.input).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}
