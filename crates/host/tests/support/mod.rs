//! A raw terminal for the host's tests: messages built with the codec's `Builder`, framed with
//! the wire crate's `FrameCodec`, MACed with the crypto crate, over a plain TCP stream, so
//! that every byte the host sees is chosen by the test (never through the emulator).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use iso8583_codec::{Builder, Mti, Spec};
use iso8583_crypto::{DesKey, Field62Layout, Mac, MacAlgorithm, WorkingKeys};
use iso8583_host::{Dialect, HostConfig, TestHost};
use iso8583_wire::{
    AppHeader, AppType, Frame, FrameCodec, FrameConfig, FrameError, MessageFrame, Nii,
    ProcessingRequirement, TerminalStatus, Tpdu,
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

pub const INTL_TID: &str = "00000001";
pub const INTL_MID: &str = "123456789012345";
pub const CUP_TID: &str = "20000001";
pub const CUP_MID: &str = "898310012340001";
pub const TMK: &str = "0123456789ABCDEFFEDCBA9876543210";
pub const VISA: &str = "4761739001010010";
pub const CUP_CARD: &str = "6212345678901234";

/// How long a test waits for an answer that should come.
pub const ANSWER: Duration = Duration::from_secs(5);

pub async fn host() -> TestHost {
    TestHost::spawn(HostConfig::builtin().on_ephemeral_ports())
        .await
        .unwrap()
}

pub async fn host_with(config: HostConfig) -> TestHost {
    TestHost::spawn(config.on_ephemeral_ports()).await.unwrap()
}

/// An international terminal with one approved Visa sale of 10.00 (trace 1), and the
/// sale's RRN.
pub async fn intl_with_a_sale(host: &TestHost) -> (Term, String) {
    let mut t = Term::connect(host, Dialect::International).await;
    let sale = t.sale(1000, VISA);
    let reply = t.exchange(sale).await;
    assert_eq!(reply.code(), "00", "the setup sale");
    (t, reply.text(37))
}

/// An answer as the terminal read it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub mti: String,
    pub fields: BTreeMap<u16, Vec<u8>>,
    pub tpdu: Option<Tpdu>,
    pub header: Option<AppHeader>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self, n: u16) -> String {
        self.fields
            .get(&n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }

    pub fn code(&self) -> String {
        self.text(39)
    }
}

/// One terminal connection.
pub struct Term {
    pub dialect: Dialect,
    pub spec: &'static Spec,
    pub tid: String,
    pub mid: String,
    pub io: Framed<TcpStream, FrameCodec>,
    pub mac_key: Option<DesKey>,
    pub trace: u32,
}

impl Term {
    pub async fn connect(host: &TestHost, dialect: Dialect) -> Term {
        let addr = host.addr(dialect).unwrap();
        let (tid, mid) = match dialect {
            Dialect::International => (INTL_TID, INTL_MID),
            Dialect::UnionPay => (CUP_TID, CUP_MID),
        };
        Term::connect_to(addr, dialect, tid, mid).await
    }

    pub async fn connect_to(addr: SocketAddr, dialect: Dialect, tid: &str, mid: &str) -> Term {
        let (spec, config) = match dialect {
            Dialect::International => ("intl-pos", FrameConfig::international()),
            Dialect::UnionPay => ("cup-pos", FrameConfig::unionpay()),
        };
        let stream = TcpStream::connect(addr).await.unwrap();
        Term {
            dialect,
            spec: Spec::builtin(spec).unwrap(),
            tid: tid.into(),
            mid: mid.into(),
            io: Framed::new(stream, FrameCodec::new(config)),
            mac_key: None,
            trace: 0,
        }
    }

    pub fn next_trace(&mut self) -> u32 {
        self.trace += 1;
        self.trace
    }

    /// A builder with 11, 41 and 42 set.
    pub fn message(&self, mti: &str, trace: u32) -> Builder<'static, 'static> {
        let mut b = Builder::new(self.spec, Mti::new(mti).unwrap());
        b.set(11, format!("{trace:06}").into_bytes()).unwrap();
        b.set(41, self.tid.clone().into_bytes()).unwrap();
        b.set(42, self.mid.clone().into_bytes()).unwrap();
        b
    }

    pub fn tpdu() -> Tpdu {
        Tpdu::new(Nii::new(3).unwrap(), Nii::new(0).unwrap())
    }

    pub fn header() -> AppHeader {
        AppHeader::new(
            AppType::MagneticStripe,
            31,
            TerminalStatus::Normal,
            ProcessingRequirement::None,
            310_001,
        )
        .unwrap()
    }

    /// The frame around a body, as this dialect's terminals send it.
    pub fn frame(&self, body: impl Into<bytes::Bytes>) -> MessageFrame {
        let frame = MessageFrame::new(body).with_tpdu(Term::tpdu());
        match self.dialect {
            Dialect::UnionPay => frame.with_header(Term::header()),
            Dialect::International => frame,
        }
    }

    /// Encodes a builder, with field 64 when this terminal holds a MAC key.
    pub fn encode(&self, b: &mut Builder<'static, 'static>) -> BytesMut {
        let Some(key) = &self.mac_key else {
            return b.to_bytes();
        };
        b.set(64, vec![0u8; 8]).unwrap();
        let mut bytes = b.to_bytes();
        let split = bytes.len() - 8;
        let mac = cup_mac().compute(key, &bytes[..split]).unwrap();
        bytes[split..].copy_from_slice(&mac);
        bytes
    }

    pub async fn send_raw(&mut self, frame: MessageFrame) {
        self.io.send(Frame::Message(frame)).await.unwrap();
    }

    pub async fn send(&mut self, mut b: Builder<'static, 'static>) {
        let bytes = self.encode(&mut b);
        let frame = self.frame(bytes.freeze());
        self.send_raw(frame).await;
    }

    /// The next frame, or `None` on a timeout; panics on a closed connection.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Reply> {
        match tokio::time::timeout(wait, self.io.next()).await {
            Err(_) => None,
            Ok(Some(Ok(Frame::Message(frame)))) => Some(self.read(frame)),
            Ok(other) => panic!("expected a frame, got {other:?}"),
        }
    }

    /// What the connection gives next: a frame, the end, or a framing error.
    pub async fn next_event(&mut self) -> Option<Result<Frame, FrameError>> {
        tokio::time::timeout(ANSWER, self.io.next())
            .await
            .expect("the host answers or closes in time")
    }

    pub fn read(&self, frame: MessageFrame) -> Reply {
        let msg = self.spec.decode_complete(&frame.body).unwrap();
        Reply {
            mti: msg.mti().as_str().to_owned(),
            fields: msg.fields().map(|f| (f.number(), f.to_vec())).collect(),
            tpdu: frame.tpdu,
            header: frame.header,
            body: frame.body.to_vec(),
        }
    }

    pub async fn exchange(&mut self, b: Builder<'static, 'static>) -> Reply {
        self.send(b).await;
        self.recv_within(ANSWER).await.expect("an answer")
    }

    /// A sale (0200 000000) of `amount` cents on `pan`.
    pub fn sale(&mut self, amount: u64, pan: &str) -> Builder<'static, 'static> {
        let trace = self.next_trace();
        self.financial("0200", "000000", trace, amount, pan)
    }

    pub fn financial(
        &self,
        mti: &str,
        pcode: &str,
        trace: u32,
        amount: u64,
        pan: &str,
    ) -> Builder<'static, 'static> {
        let mut b = self.message(mti, trace);
        b.set(2, pan.to_owned().into_bytes()).unwrap();
        b.set(3, pcode.to_owned().into_bytes()).unwrap();
        b.set(4, format!("{amount:012}").into_bytes()).unwrap();
        b.set_str(12, "101010")
            .unwrap()
            .set_str(13, "1203")
            .unwrap();
        b.set_str(22, "021").unwrap().set_str(25, "00").unwrap();
        match self.dialect {
            Dialect::International => {
                b.set_str(24, "003").unwrap();
            }
            Dialect::UnionPay => {
                b.set_str(49, "156").unwrap();
                b.set(60, "22000001000".to_owned().into_bytes()).unwrap();
            }
        }
        b
    }

    /// A UnionPay sign-on with 60.3 `code`; keeps the MAC key when the check values hold.
    pub async fn cup_sign_on(&mut self, code: &str) -> (Reply, Result<WorkingKeys, String>) {
        let trace = self.next_trace();
        let mut b = self.message("0800", trace);
        b.set(60, format!("00000001{code}").into_bytes()).unwrap();
        b.set_str(63, "001").unwrap();
        let reply = self.exchange(b).await;
        let layout = Field62Layout::from_network_code(code).unwrap();
        let tmk = DesKey::from_hex(TMK).unwrap();
        let keys = reply
            .fields
            .get(&62)
            .ok_or("no field 62".to_owned())
            .and_then(|f| WorkingKeys::from_field62(&tmk, f, layout).map_err(|e| e.to_string()));
        if let Ok(k) = &keys {
            self.mac_key = Some(k.mac.clone());
        }
        (reply, keys)
    }

    /// Checks the MAC of an answer with this terminal's key.
    pub fn verify_mac(&self, reply: &Reply) -> bool {
        let msg = self.spec.decode_complete(&reply.body).unwrap();
        let key = self.mac_key.as_ref().unwrap();
        cup_mac().verify_message(key, &msg, 64).is_ok()
    }
}

pub fn cup_mac() -> Mac {
    Mac::new(MacAlgorithm::CupEcb)
}

/// The international 0500 or trailer with `totals` as the first 30 characters of 63.
pub fn intl_0500(
    term: &Term,
    trace: u32,
    pcode: &str,
    batch: u32,
    totals: &str,
) -> Builder<'static, 'static> {
    let mut b = term.message("0500", trace);
    b.set(3, pcode.to_owned().into_bytes()).unwrap();
    b.set_str(24, "003").unwrap();
    b.set(60, format!("{batch:06}").into_bytes()).unwrap();
    b.set(63, format!("{totals:0<90}").into_bytes()).unwrap();
    b
}

/// International totals block: sale count n3, amount n12, refund count n3, amount n12.
pub fn intl_block(sales: u32, sale_amount: u64, refunds: u32, refund_amount: u64) -> String {
    format!("{sales:03}{sale_amount:012}{refunds:03}{refund_amount:012}")
}

/// UnionPay 48 of a 0500: per group debit amount, count, credit amount, count, flag `0`.
pub fn cup_48(domestic: (u64, u32, u64, u32), foreign: (u64, u32, u64, u32)) -> String {
    let g = |(da, dc, ca, cc): (u64, u32, u64, u32)| format!("{da:012}{dc:03}{ca:012}{cc:03}0");
    format!("{}{}", g(domestic), g(foreign))
}

pub fn cup_0500(term: &Term, trace: u32, batch: u32, f48: &str) -> Builder<'static, 'static> {
    let mut b = term.message("0500", trace);
    b.set(48, f48.to_owned().into_bytes()).unwrap();
    b.set_str(49, "156").unwrap();
    b.set(60, format!("00{batch:06}201").into_bytes()).unwrap();
    b.set_str(63, "001").unwrap();
    b
}

/// The international 0320 of one record: original MTI and trace in 60.
pub fn intl_0320(
    term: &Term,
    trace: u32,
    original: u32,
    pcode: &str,
    amount: u64,
) -> Builder<'static, 'static> {
    let mut b = term.financial("0320", pcode, trace, amount, VISA);
    b.set_str(39, "00").unwrap();
    b.set(
        60,
        format!("0200{original:06}{}", " ".repeat(12)).into_bytes(),
    )
    .unwrap();
    b.set_str(62, "000001").unwrap();
    b
}

/// Waits until the host has seen `n` connections' worth of something: polls `check`.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 2 s");
}
