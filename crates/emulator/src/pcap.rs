//! `--pcap FILE`: the TCP exchange of every connection a terminal opens, written as a classic
//! pcap file (Ethernet link type, microsecond timestamps) that Wireshark and tshark open.
//!
//! [`PcapTap`] is a [`FrameTap`]: it hears each connection open, each chunk of bytes written
//! or read (at the time of the write or read), and each close. The tap sees TCP payload only,
//! so the segments around it are made up the way the kernel would have made them on loopback:
//! a SYN, SYN-ACK, ACK handshake when the connection opens, one PSH-ACK segment per write or
//! read with the sequence and acknowledgement numbers both ends would have at that point, and
//! FIN-ACK from each end then the last ACK when it closes. Addresses and ports are the real
//! ones of the socket. Each end's initial sequence number is derived from its port, so two
//! captures of the same run differ only in their times and ports.
//!
//! The file format is the `pcap-file` crate's; the Ethernet, IP and TCP headers (with their
//! checksums) are `etherparse`'s. Nothing here reads or logs the payload: it holds PANs and PIN
//! blocks, and the capture is the user's to protect.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader};
use pcap_file::pcap::{PcapPacket, PcapWriter};

use crate::tap::{ConnInfo, Direction, FrameTap};

/// The largest payload put in one segment: a TCP segment must fit an IP packet of 65,535
/// bytes, and the file's snap length (65,535) must hold the whole frame with its headers.
pub const MAX_SEGMENT: usize = 65_000;

/// The receive window each end advertises (a fixed, plausible value: the tap cannot know it).
const WINDOW: u16 = 65_535;

/// Loopback captures on Linux show all-zero Ethernet addresses; so do ours.
const MAC: [u8; 6] = [0; 6];

/// A pcap file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcapError {
    /// The file could not be created or written.
    #[error("pcap file: {0}")]
    Io(#[from] std::io::Error),
    /// The pcap writer refused a header or a packet.
    #[error("pcap file: {0}")]
    Format(String),
}

/// What a capture wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PcapStats {
    /// TCP connections captured.
    pub connections: u64,
    /// Packets written.
    pub packets: u64,
    /// Payload bytes written, both directions.
    pub payload_bytes: u64,
}

/// A [`FrameTap`] that writes a pcap file; see the module docs.
pub struct PcapTap {
    inner: Mutex<Inner>,
}

type Sink = PcapWriter<Box<dyn Write + Send>>;

struct Inner {
    /// `None` once finished or after the first write error.
    writer: Option<Sink>,
    /// Open connections by (terminal end, host end): unique while open, across terminals.
    conns: HashMap<(SocketAddr, SocketAddr), Seq>,
    stats: PcapStats,
    error: Option<PcapError>,
    packet: Vec<u8>,
}

/// The next sequence number of each end.
#[derive(Debug, Clone, Copy)]
struct Seq {
    terminal: u32,
    host: u32,
}

/// One segment to write: who sends it, its flags and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    PshAck,
    FinAck,
}

impl PcapTap {
    /// A capture into a new file at `path` (replacing one that is there).
    pub fn create(path: &Path) -> Result<PcapTap, PcapError> {
        let file = File::create(path)?;
        PcapTap::new(Box::new(BufWriter::new(file)))
    }

    /// A capture into `writer`; the pcap header is written at once.
    pub fn new(writer: Box<dyn Write + Send>) -> Result<PcapTap, PcapError> {
        let writer = PcapWriter::new(writer).map_err(|e| PcapError::Format(e.to_string()))?;
        Ok(PcapTap {
            inner: Mutex::new(Inner {
                writer: Some(writer),
                conns: HashMap::new(),
                stats: PcapStats::default(),
                error: None,
                packet: Vec::with_capacity(2048),
            }),
        })
    }

    /// Closes the connections still open (FIN from both ends, at this moment), flushes the
    /// file and reports what was written, or the first error met. Bytes a terminal exchanges
    /// after this are not captured.
    pub fn finish(&self) -> Result<PcapStats, PcapError> {
        let mut inner = self.lock();
        let now = SystemTime::now();
        let open: Vec<_> = inner.conns.keys().copied().collect();
        for (local, peer) in open {
            inner.close(local, peer, now);
        }
        if let Some(writer) = inner.writer.take() {
            if let Err(e) = writer.into_writer().flush() {
                inner.error.get_or_insert(PcapError::Io(e));
            }
        }
        match inner.error.take() {
            Some(e) => Err(e),
            None => Ok(inner.stats),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each change to the capture is complete before the lock is let go.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FrameTap for PcapTap {
    fn opened(&self, conn: &ConnInfo, at: SystemTime) {
        let mut inner = self.lock();
        if inner.writer.is_none() {
            return;
        }
        let seq = Seq {
            terminal: initial_seq(conn.local.port()),
            host: initial_seq(conn.peer.port()),
        };
        inner.stats.connections += 1;
        let (t, h) = (conn.local, conn.peer);
        inner.segment(t, h, seq.terminal, 0, Flags::Syn, at, &[]);
        inner.segment(h, t, seq.host, seq.terminal + 1, Flags::SynAck, at, &[]);
        let seq = Seq {
            terminal: seq.terminal + 1,
            host: seq.host + 1,
        };
        inner.segment(t, h, seq.terminal, seq.host, Flags::Ack, at, &[]);
        inner.conns.insert((t, h), seq);
    }

    fn data(&self, conn: &ConnInfo, direction: Direction, at: SystemTime, bytes: &[u8]) {
        let mut inner = self.lock();
        let key = (conn.local, conn.peer);
        let Some(mut seq) = inner.conns.get(&key).copied() else {
            return;
        };
        for chunk in bytes.chunks(MAX_SEGMENT) {
            // A chunk is at most MAX_SEGMENT bytes, so the cast cannot truncate.
            let len = chunk.len() as u32;
            match direction {
                Direction::Sent => {
                    inner.segment(
                        key.0,
                        key.1,
                        seq.terminal,
                        seq.host,
                        Flags::PshAck,
                        at,
                        chunk,
                    );
                    seq.terminal = seq.terminal.wrapping_add(len);
                }
                Direction::Received => {
                    inner.segment(
                        key.1,
                        key.0,
                        seq.host,
                        seq.terminal,
                        Flags::PshAck,
                        at,
                        chunk,
                    );
                    seq.host = seq.host.wrapping_add(len);
                }
            }
            inner.stats.payload_bytes += u64::from(len);
        }
        inner.conns.insert(key, seq);
    }

    fn closed(&self, conn: &ConnInfo, at: SystemTime) {
        self.lock().close(conn.local, conn.peer, at);
    }
}

impl Inner {
    /// FIN-ACK from the terminal, FIN-ACK from the host, the terminal's last ACK.
    fn close(&mut self, t: SocketAddr, h: SocketAddr, at: SystemTime) {
        let Some(seq) = self.conns.remove(&(t, h)) else {
            return;
        };
        let (st, sh) = (seq.terminal, seq.host);
        self.segment(t, h, st, sh, Flags::FinAck, at, &[]);
        self.segment(h, t, sh, st.wrapping_add(1), Flags::FinAck, at, &[]);
        self.segment(
            t,
            h,
            st.wrapping_add(1),
            sh.wrapping_add(1),
            Flags::Ack,
            at,
            &[],
        );
    }

    /// Builds one Ethernet/IP/TCP packet and writes it; the first error stops the capture.
    #[allow(clippy::too_many_arguments)] // One TCP segment's facts; a struct would only rename them.
    fn segment(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        seq: u32,
        ack: u32,
        flags: Flags,
        at: SystemTime,
        payload: &[u8],
    ) {
        if self.writer.is_none() {
            return;
        }
        self.packet.clear();
        let built = tcp(from, to, seq, flags, ack).write(&mut self.packet, payload);
        if let Err(e) = built {
            self.fail(PcapError::Format(e.to_string()));
            return;
        }
        let time = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        // The packet is at most MAX_SEGMENT bytes plus headers, well under u32::MAX.
        let packet = PcapPacket::new(time, self.packet.len() as u32, &self.packet);
        let written = self.writer.as_mut().map(|w| w.write_packet(&packet));
        match written {
            Some(Err(e)) => self.fail(PcapError::Format(e.to_string())),
            _ => self.stats.packets += 1,
        }
    }

    fn fail(&mut self, error: PcapError) {
        self.error.get_or_insert(error);
        self.writer = None;
    }
}

/// The headers of one segment `from` → `to`, IPv4 or IPv6 as the socket is (a mixed pair,
/// which a socket cannot have, is written as IPv6 with the IPv4 address mapped).
fn tcp(
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    flags: Flags,
    ack: u32,
) -> PacketBuilderStep<TcpHeader> {
    let link = PacketBuilder::ethernet2(MAC, MAC);
    let ip = match (from.ip(), to.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => link.ipv4(a.octets(), b.octets(), 64),
        (a, b) => link.ipv6(v6(a), v6(b), 64),
    };
    let step = ip.tcp(from.port(), to.port(), seq, WINDOW);
    match flags {
        Flags::Syn => step.syn(),
        Flags::SynAck => step.syn().ack(ack),
        Flags::Ack => step.ack(ack),
        Flags::PshAck => step.psh().ack(ack),
        Flags::FinAck => step.fin().ack(ack),
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// An initial sequence number from a port: fixed per port, spread over the number space.
fn initial_seq(port: u16) -> u32 {
    u32::from(port).wrapping_mul(0x9E37_79B1)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pcap_file::pcap::PcapReader;

    use super::*;

    /// A writer the test can read back after the tap is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn conn() -> ConnInfo {
        ConnInfo {
            id: 1,
            local: "127.0.0.1:40000".parse().unwrap(),
            peer: "127.0.0.1:8583".parse().unwrap(),
        }
    }

    fn packets(bytes: Vec<u8>) -> Vec<etherparse::SlicedPacket<'static>> {
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let mut reader = PcapReader::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(p) = reader.next_packet() {
            let data: &'static [u8] = Box::leak(p.unwrap().data.into_owned().into_boxed_slice());
            out.push(etherparse::SlicedPacket::from_ethernet(data).unwrap());
        }
        out
    }

    fn tcp_of<'a>(p: &'a etherparse::SlicedPacket<'a>) -> &'a etherparse::TcpSlice<'a> {
        match &p.transport {
            Some(etherparse::TransportSlice::Tcp(t)) => t,
            other => panic!("not TCP: {other:?}"),
        }
    }

    #[test]
    fn handshake_data_with_running_numbers_and_close() {
        let sink = Shared::default();
        let tap = PcapTap::new(Box::new(sink.clone())).unwrap();
        let at = SystemTime::now();
        tap.opened(&conn(), at);
        tap.data(&conn(), Direction::Sent, at, b"\x00\x03abc");
        tap.data(&conn(), Direction::Received, at, b"\x00\x02xy");
        tap.data(&conn(), Direction::Sent, at, b"\x00\x01z");
        tap.closed(&conn(), at);
        let stats = tap.finish().unwrap();
        assert_eq!(
            (stats.connections, stats.packets, stats.payload_bytes),
            (1, 9, 12)
        );

        let ps = packets(sink.0.lock().unwrap().clone());
        let flags: Vec<_> = ps
            .iter()
            .map(|p| {
                let t = tcp_of(p);
                (t.syn(), t.ack(), t.psh(), t.fin(), t.source_port())
            })
            .collect();
        assert_eq!(flags[0], (true, false, false, false, 40000));
        assert_eq!(flags[1], (true, true, false, false, 8583));
        assert_eq!(flags[2], (false, true, false, false, 40000));
        assert_eq!(flags[3], (false, true, true, false, 40000));
        assert_eq!(flags[6], (false, true, false, true, 40000));
        assert_eq!(flags[7], (false, true, false, true, 8583));
        let (syn, syn_ack) = (tcp_of(&ps[0]), tcp_of(&ps[1]));
        assert_eq!(syn_ack.acknowledgment_number(), syn.sequence_number() + 1);
        let (first, reply, second) = (tcp_of(&ps[3]), tcp_of(&ps[4]), tcp_of(&ps[5]));
        assert_eq!(first.sequence_number(), syn.sequence_number() + 1);
        assert_eq!(first.payload(), b"\x00\x03abc");
        assert_eq!(reply.acknowledgment_number(), first.sequence_number() + 5);
        assert_eq!(second.sequence_number(), first.sequence_number() + 5);
        assert_eq!(second.acknowledgment_number(), reply.sequence_number() + 4);
        // The host's FIN acknowledges the terminal's FIN, which takes one sequence number.
        let (fin_t, fin_h) = (tcp_of(&ps[6]), tcp_of(&ps[7]));
        assert_eq!(fin_h.acknowledgment_number(), fin_t.sequence_number() + 1);
    }

    #[test]
    fn a_long_read_is_split_and_finish_closes_what_is_open() {
        let sink = Shared::default();
        let tap = PcapTap::new(Box::new(sink.clone())).unwrap();
        let at = SystemTime::now();
        tap.opened(&conn(), at);
        let big = vec![7u8; MAX_SEGMENT + 10];
        tap.data(&conn(), Direction::Received, at, &big);
        let stats = tap.finish().unwrap();
        assert_eq!(stats.packets, 3 + 2 + 3);
        tap.data(&conn(), Direction::Sent, at, b"late");
        let ps = packets(sink.0.lock().unwrap().clone());
        assert_eq!(ps.len(), 8, "nothing after finish");
        let sizes: Vec<_> = ps.iter().map(|p| tcp_of(p).payload().len()).collect();
        assert_eq!(&sizes[3..5], &[MAX_SEGMENT, 10]);
        assert!(tcp_of(&ps[5]).fin());
    }

    #[test]
    fn a_failing_writer_is_reported_by_finish() {
        /// Takes the 24-byte file header, then fails like a full disk.
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(PcapTap::new(Box::new(Full(0))).is_err());
        let tap = PcapTap::new(Box::new(Full(24))).unwrap();
        tap.opened(&conn(), SystemTime::now());
        let err = tap.finish().unwrap_err().to_string();
        assert!(err.contains("pcap file"), "{err}");
    }
}
