//! `--pcap`: a capture is read back with the same crates that wrote it (`pcap-file`,
//! `etherparse`) and each connection's TCP payload, put back together by sequence number, must
//! be exactly the bytes the terminal wrote and read, frame for frame. Against an in-process test
//! host on 127.0.0.1 port 0; the binary's `demo --pcap` is checked the same way.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use iso8583_codec::Spec;
use iso8583_host::{Dialect, HostConfig, TestHost};
use pcap_file::pcap::PcapReader;
use posemu::{
    Command, ConnInfo, DialectName, Direction, FrameTap, PcapTap, Profile, StateSource, Terminal,
    TerminalOptions,
};

/// A connection by its two ends, terminal first.
type Ends = (SocketAddr, SocketAddr);

/// Every byte the terminal wrote and read, per connection and direction.
#[derive(Default)]
struct Recorder(Mutex<BTreeMap<Ends, [Vec<u8>; 2]>>);

impl FrameTap for Recorder {
    fn data(&self, conn: &ConnInfo, direction: Direction, _: SystemTime, bytes: &[u8]) {
        let mut map = self.0.lock().unwrap();
        let streams = map.entry((conn.local, conn.peer)).or_default();
        streams[side(direction)].extend_from_slice(bytes);
    }
}

fn side(direction: Direction) -> usize {
    match direction {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

/// Hands every event to both taps.
struct Tee(Arc<Recorder>, Arc<PcapTap>);

impl FrameTap for Tee {
    fn opened(&self, conn: &ConnInfo, at: SystemTime) {
        self.1.opened(conn, at);
    }
    fn data(&self, conn: &ConnInfo, direction: Direction, at: SystemTime, bytes: &[u8]) {
        self.0.data(conn, direction, at, bytes);
        self.1.data(conn, direction, at, bytes);
    }
    fn closed(&self, conn: &ConnInfo, at: SystemTime) {
        self.1.closed(conn, at);
    }
}

/// One connection as the capture shows it.
#[derive(Debug, Default)]
struct Flow {
    /// Flags of the first three packets (the handshake) and whether it ended with FINs.
    handshake: Vec<&'static str>,
    fins: usize,
    /// The next expected sequence number of each direction, terminal first.
    next: [Option<u32>; 2],
    /// Each direction's payload, in sequence order.
    streams: [Vec<u8>; 2],
}

/// Reads a capture into flows keyed by (terminal end, host end); the host end is `host`.
fn flows(file: &Path, host: SocketAddr) -> BTreeMap<Ends, Flow> {
    let bytes = std::fs::read(file).unwrap();
    let mut reader = PcapReader::new(&bytes[..]).unwrap();
    let mut flows: BTreeMap<Ends, Flow> = BTreeMap::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let sliced = SlicedPacket::from_ethernet(&packet.data).unwrap();
        let (src, dst) = match sliced.net.as_ref().unwrap() {
            NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            other => panic!("IPv4 expected on 127.0.0.1: {other:?}"),
        };
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!("TCP expected");
        };
        let from = SocketAddr::new(src, tcp.source_port());
        let to = SocketAddr::new(dst, tcp.destination_port());
        let (key, dir) = if to == host {
            ((from, to), 0)
        } else {
            ((to, from), 1)
        };
        let flow = flows.entry(key).or_default();
        if flow.handshake.len() < 3 {
            flow.handshake.push(match (tcp.syn(), tcp.ack()) {
                (true, false) => "SYN",
                (true, true) => "SYN-ACK",
                _ => "ACK",
            });
            // SYN takes one sequence number.
            let next = tcp.sequence_number().wrapping_add(u32::from(tcp.syn()));
            flow.next[dir].get_or_insert(next);
            continue;
        }
        if tcp.fin() {
            flow.fins += 1;
            continue;
        }
        let payload = tcp.payload();
        if payload.is_empty() {
            continue;
        }
        // In order, no gap, no overlap: the capture must reassemble without guessing.
        assert_eq!(Some(tcp.sequence_number()), flow.next[dir], "sequence gap");
        flow.next[dir] = Some(tcp.sequence_number().wrapping_add(payload.len() as u32));
        flow.streams[dir].extend_from_slice(payload);
    }
    flows
}

/// The MTIs of a stream of 2-byte-length + TPDU frames; the stream must be whole frames.
fn mtis(stream: &[u8], spec: &Spec, header: usize) -> Vec<String> {
    let mut rest = stream;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let body = &rest[2 + 5 + header..2 + len];
        let message = spec.decode(body).unwrap().complete().unwrap();
        out.push(message.mti().as_str().to_owned());
        rest = &rest[2 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_reassembles_to_exactly_the_bytes_of_each_connection() {
    let host = TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap();
    let addr = host.addr(Dialect::UnionPay).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.pcap");
    let pcap = Arc::new(PcapTap::create(&file).unwrap());
    let recorder = Arc::new(Recorder::default());
    let tap = Arc::new(Tee(recorder.clone(), pcap.clone()));
    let layer: toml::Table = support::TEST_PROFILE.parse().unwrap();
    let profile = Profile::layered(Some(DialectName::Cup), &[&layer]).unwrap();
    let options = TerminalOptions {
        tap: Some(tap),
        no_receipts: false,
    };
    let mut terminal =
        Terminal::new(profile, StateSource::memory(), &addr.to_string(), options).unwrap();
    terminal.power_on().await.unwrap();
    // Two connections: the power cycle drops the first.
    for line in [
        "sign_on",
        "sale 12.50",
        "sale 7.25 card=cup-chip",
        "power_cycle",
    ] {
        terminal.execute(&Command::parse(line).unwrap()).await;
    }
    for line in ["sign_on", "settle"] {
        terminal.execute(&Command::parse(line).unwrap()).await;
    }
    drop(terminal);
    let stats = pcap.finish().unwrap();
    assert_eq!(stats.connections, 2);

    let flows = flows(&file, addr);
    let recorded = recorder.0.lock().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(
        flows.keys().collect::<Vec<_>>(),
        recorded.keys().collect::<Vec<_>>()
    );
    let spec = Spec::builtin("cup-pos").unwrap();
    let mut sent = Vec::new();
    for (key, flow) in &flows {
        assert_eq!(flow.handshake, ["SYN", "SYN-ACK", "ACK"]);
        assert_eq!(flow.fins, 2, "each end's FIN");
        let streams = &recorded[key];
        assert_eq!(flow.streams[0], streams[0], "terminal to host");
        assert_eq!(flow.streams[1], streams[1], "host to terminal");
        sent.extend(mtis(&flow.streams[0], spec, 6));
        let replies = mtis(&flow.streams[1], spec, 6);
        assert_eq!(replies.len(), mtis(&flow.streams[0], spec, 6).len());
    }
    assert_eq!(
        sent,
        ["0800", "0200", "0200", "0800", "0500", "0320", "0320"]
    );
    assert_eq!(stats.payload_bytes, {
        flows
            .values()
            .map(|f| (f.streams[0].len() + f.streams[1].len()) as u64)
            .sum::<u64>()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_pcap_writes_the_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.pcap");
    let out = tokio::task::spawn_blocking({
        let file = file.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_posemu"))
                .args(["demo", "--pcap", file.to_str().unwrap()])
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let host: SocketAddr = stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let flows = flows(&file, host);
    assert_eq!(flows.len(), 1, "one connection for the whole story");
    let flow = flows.values().next().unwrap();
    assert_eq!(flow.handshake, ["SYN", "SYN-ACK", "ACK"]);
    let spec = Spec::builtin("intl-pos").unwrap();
    let sent = mtis(&flow.streams[0], spec, 0);
    let mut story = vec!["0800"];
    story.extend(["0200"; 5]);
    story.push("0500");
    story.extend(["0320"; 5]);
    story.extend(["0500", "0200"]);
    assert_eq!(sent, story);
    let replies = mtis(&flow.streams[1], spec, 0);
    assert_eq!(replies.len(), sent.len());
    assert!(replies.iter().zip(&sent).all(|(r, s)| r[..2] == s[..2]));
    tshark_finds_nothing_wrong(&file);
}

/// An extra check where tshark is installed (it is not required): Wireshark's own TCP
/// analysis reads the capture with no warning or error (no lost segment, no bad checksum).
fn tshark_finds_nothing_wrong(file: &Path) {
    let Ok(out) = std::process::Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-q", "-z", "expert"])
        .output()
    else {
        eprintln!("tshark not installed: its check is skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SYN"), "tshark saw the handshake: {text}");
    // Its sections are headed "Errors (n)", "Warns (n)", "Notes (n)", "Chats (n)".
    for bad in ["Errors (", "Warns ("] {
        assert!(!text.contains(bad), "tshark reports {bad}: {text}");
    }
}
