//! A scripted fake acquirer host for the settlement tests: it keeps its own ledger with its own
//! totals code (never the engine's), answers each message by its rules (DESIGN §6) unless a
//! script entry for that MTI says otherwise.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use iso8583_codec::{Builder, Message, Mti, Spec};

/// What the host does with the next message of one MTI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Never arrives: not processed, no answer.
    Drop,
    /// Never sent: no connection could be opened, and the terminal knows it (the engine is
    /// told `not_sent`, not a timeout). Not processed and not seen.
    Unreachable,
    /// Processed, but the answer is lost.
    Lost,
    /// Processed and answered with a wrong MAC.
    BadMac,
    /// Not processed; answered with this code.
    Code(&'static str),
    /// Processed, then the answer carries this code instead of the normal one.
    ProcessThen(&'static str),
    /// Processed and answered as usual, except that field `n` of the answer holds this value
    /// (`None`: the field is left out, say a reply without 39).
    ProcessThenField(u16, Option<&'static str>),
}

/// How the host answered one message.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A reply to decode and give the engine.
    Reply(Vec<u8>),
    /// A reply with a wrong MAC.
    BadMac(Vec<u8>),
    /// Nothing.
    Silence,
    /// The message never left the terminal.
    Unreachable,
}

/// A transaction in the host's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTxn {
    pub kind: &'static str,
    pub amount: u64,
    pub foreign: bool,
    pub voided: bool,
    pub original: Option<u32>,
}

/// Why a trace number the host saw was used again by a message that is not a repeat of the
/// first, or `None`. Allowed: the same message again (a retry), a 0400 of a 0100 or 0200 (or a
/// repeated 0400), and a UnionPay single-record 0320 (it carries field 2) with its record's
/// trace number.
pub fn trace_reused(seen: &[Seen], cup: bool) -> Option<String> {
    type Id = (String, String, String, bool);
    let mut by_trace: BTreeMap<u32, Vec<Id>> = BTreeMap::new();
    for m in seen {
        let single = cup && m.mti == "0320" && m.fields.contains_key(&2);
        let id: Id = (m.mti.clone(), m.text(3), m.text(4), single);
        let financial = |x: &Id| matches!(x.0.as_str(), "0100" | "0200");
        let record = |x: &Id| financial(x) || x.0 == "0220" || x.0 == "0400";
        let compatible = |a: &Id| {
            *a == id
                || (id.0 == "0400" && (financial(a) || a.0 == "0400"))
                || (a.0 == "0400" && financial(&id))
                || (id.3 && (record(a) || a.3))
                || (a.3 && record(&id))
        };
        let before = by_trace.entry(m.trace()).or_default();
        if let Some(first) = before.iter().find(|a| !compatible(a)) {
            let all: Vec<_> = seen.iter().map(|m| (m.mti.as_str(), m.trace())).collect();
            return Some(format!(
                "trace {} reused: {first:?} then {id:?}; all seen: {all:?}",
                m.trace()
            ));
        }
        before.push(id);
    }
    None
}

/// One message the terminal sent, as the host read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub mti: String,
    pub fields: BTreeMap<u16, Vec<u8>>,
}

impl Seen {
    pub fn text(&self, n: u16) -> String {
        self.fields
            .get(&n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }

    pub fn trace(&self) -> u32 {
        self.text(11).parse().unwrap_or(0)
    }
}

pub struct FakeHost {
    pub cup: bool,
    pub spec: &'static Spec,
    pub batch: Option<u32>,
    pub ledger: BTreeMap<u32, HostTxn>,
    pub closed: Vec<(u32, BTreeMap<u32, HostTxn>)>,
    pub script: HashMap<&'static str, VecDeque<Script>>,
    pub seen: Vec<Seen>,
    pub authorisations: usize,
    pub uploads: BTreeMap<u32, usize>,
    /// Answer every 0500 as out of balance.
    pub out_of_balance: bool,
    /// Traces of the tip adjustment advices applied in the open batch (a repeat is 94).
    pub adjustments: BTreeSet<u32>,
}

impl FakeHost {
    pub fn new(cup: bool) -> FakeHost {
        let spec = Spec::builtin(if cup { "cup-pos" } else { "intl-pos" }).unwrap();
        FakeHost {
            cup,
            spec,
            batch: None,
            ledger: BTreeMap::new(),
            closed: Vec::new(),
            script: HashMap::new(),
            seen: Vec::new(),
            authorisations: 0,
            uploads: BTreeMap::new(),
            out_of_balance: false,
            adjustments: BTreeSet::new(),
        }
    }

    /// Queues a script entry for the next message of `mti`.
    pub fn next(&mut self, mti: &'static str, script: Script) -> &mut Self {
        self.script.entry(mti).or_default().push_back(script);
        self
    }

    /// Messages seen with this MTI.
    pub fn seen_mti(&self, mti: &str) -> Vec<&Seen> {
        self.seen.iter().filter(|s| s.mti == mti).collect()
    }

    /// Answers one message.
    pub fn answer(&mut self, bytes: &[u8]) -> Answer {
        let msg = self.spec.decode(bytes).unwrap().complete().unwrap();
        let seen = read(&msg);
        self.seen.push(seen.clone());
        let mut script = self
            .script
            .get_mut(seen.mti.as_str())
            .and_then(VecDeque::pop_front);
        let settles = seen.mti == "0500" || seen.mti == "0320";
        let repeat = matches!(seen.mti.as_str(), "0100" | "0200" | "0220")
            && (self.ledger.contains_key(&seen.trace())
                || self.adjustments.contains(&seen.trace()));
        if (repeat || settles && self.is_closed(&seen)) && matches!(script, Some(Script::Code(_))) {
            // The host's own rules come first: a repeat is a duplicate (94), a batch already
            // closed answers 00 (DESIGN §6). A scripted refusal would contradict its books.
            script = None;
        }
        match script {
            Some(Script::Drop) => Answer::Silence,
            Some(Script::Unreachable) => {
                self.seen.pop();
                Answer::Unreachable
            }
            Some(Script::Code(code)) => Answer::Reply(self.reply(&seen, code, &[])),
            Some(Script::Lost) => {
                self.process(&seen);
                Answer::Silence
            }
            Some(Script::BadMac) => {
                let (code, extra) = self.process(&seen);
                Answer::BadMac(self.reply(&seen, &code, &extra))
            }
            Some(Script::ProcessThen(code)) => {
                let (_, extra) = self.process(&seen);
                Answer::Reply(self.reply(&seen, code, &extra))
            }
            Some(Script::ProcessThenField(n, value)) => {
                let (code, extra) = self.process(&seen);
                let bytes = self.reply(&seen, &code, &extra);
                let reply = self.spec.decode(&bytes).unwrap().complete().unwrap();
                let mut b = Builder::from_message(&reply).unwrap();
                match value {
                    Some(v) => {
                        b.set(n, v.as_bytes().to_vec()).unwrap();
                    }
                    None => {
                        b.remove(n);
                    }
                }
                Answer::Reply(b.to_bytes().to_vec())
            }
            None => {
                let (code, extra) = self.process(&seen);
                Answer::Reply(self.reply(&seen, &code, &extra))
            }
        }
    }

    /// Applies a message to the ledger; returns the normal code and extra reply fields.
    fn process(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        match m.mti.as_str() {
            "0100" | "0200" => self.authorise(m),
            "0220" => self.advice(m),
            "0400" => self.reverse(m),
            "0500" => self.reconcile(m),
            "0320" => self.upload(m),
            "0800" => {
                // The host's idea of the batch: the one it expects next unless told otherwise.
                let next = self
                    .closed
                    .last()
                    .map_or(1, |(b, _)| if *b >= 999_999 { 1 } else { b + 1 });
                let batch = self.batch.unwrap_or(next);
                (
                    "00".into(),
                    if self.cup {
                        vec![(60, format!("00{batch:06}003"))]
                    } else {
                        vec![]
                    },
                )
            }
            _ => ("00".into(), vec![]),
        }
    }

    fn kind(&self, m: &Seen) -> &'static str {
        let code = m.text(3);
        let type_code = m.text(60).get(..2).unwrap_or("").to_owned();
        match (m.mti.as_str(), code.as_str()) {
            ("0100", "020000") if !self.cup => "preauth_void",
            ("0100", "200000") if self.cup && type_code == "11" => "preauth_void",
            ("0100", _) => "preauth",
            ("0200", "020000") => "void",
            ("0200", "200000") if self.cup => "void",
            ("0200", "200000") => "refund",
            ("0220", "200000") => "refund",
            ("0220", _) => "offline",
            _ if type_code == "20" => "completion",
            _ => "sale",
        }
    }

    fn authorise(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let trace = m.trace();
        if self.ledger.contains_key(&trace) {
            // A duplicate: answered 94 with no second authorisation (DESIGN §6).
            return ("94".into(), vec![]);
        }
        self.authorisations += 1;
        let kind = self.kind(m);
        let voids = kind == "void" || kind == "preauth_void";
        let original = if voids {
            self.find_by_rrn(&m.text(37))
        } else {
            None
        };
        if voids {
            let Some(o) = original else {
                return ("25".into(), vec![]);
            };
            if let Some(t) = self.ledger.get_mut(&o) {
                t.voided = true;
            }
        }
        self.insert(trace, kind, m, original);
        (
            "00".into(),
            vec![(37, format!("{trace:012}")), (38, "AUTH01".into())],
        )
    }

    fn insert(&mut self, trace: u32, kind: &'static str, m: &Seen, original: Option<u32>) {
        let foreign = !m.text(2).starts_with("62");
        let amount = m.text(4).parse().unwrap_or(0);
        self.ledger.insert(
            trace,
            HostTxn {
                kind,
                amount,
                foreign,
                voided: false,
                original,
            },
        );
    }

    fn find_by_rrn(&self, rrn: &str) -> Option<u32> {
        let trace: u32 = rrn.parse().ok()?;
        self.ledger.get(&trace).map(|_| trace)
    }

    fn advice(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let trace = m.trace();
        if self.ledger.contains_key(&trace) || self.adjustments.contains(&trace) {
            return ("94".into(), vec![]);
        }
        if !self.cup && m.fields.contains_key(&60) {
            return self.adjust_tip(m);
        }
        let kind = self.kind(m);
        self.insert(trace, kind, m, None);
        ("00".into(), vec![])
    }

    /// An international tip adjustment: 60 names the sale (original MTI + trace), 4 is its new
    /// amount; 25 when no standing sale has that trace.
    fn adjust_tip(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let f60 = m.text(60);
        let original: u32 = f60.get(4..10).and_then(|t| t.parse().ok()).unwrap_or(0);
        let amount = m.text(4).parse().unwrap_or(0);
        let tip: u64 = m.text(54).parse().unwrap_or(u64::MAX);
        assert_eq!(m.text(54).len(), 12, "field 54 is the tip as 12 digits");
        match self.ledger.get_mut(&original) {
            Some(t)
                if t.kind == "sale" && !t.voided && f60.starts_with("0200") && tip <= amount =>
            {
                t.amount = amount;
                self.adjustments.insert(m.trace());
                ("00".into(), vec![])
            }
            _ => ("25".into(), vec![]),
        }
    }

    fn reverse(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let Some(txn) = self.ledger.remove(&m.trace()) else {
            return ("25".into(), vec![]);
        };
        if let Some(o) = txn.original {
            if let Some(t) = self.ledger.get_mut(&o) {
                t.voided = false;
            }
        }
        ("00".into(), vec![])
    }

    /// The host's own totals: international (sale count, amount, refund count, amount) with
    /// voided sales dropped; UnionPay per group (debit amount, count, credit amount, count).
    pub fn intl_totals(&self) -> (u32, u64, u32, u64) {
        let mut t = (0, 0, 0, 0);
        for x in self.ledger.values() {
            match x.kind {
                "sale" | "completion" | "offline" if !x.voided => {
                    t.0 += 1;
                    t.1 += x.amount;
                }
                "refund" => {
                    t.2 += 1;
                    t.3 += x.amount;
                }
                _ => {}
            }
        }
        t
    }

    pub fn cup_totals(&self, foreign: bool) -> (u64, u32, u64, u32) {
        let mut t = (0, 0, 0, 0);
        for x in self.ledger.values().filter(|x| x.foreign == foreign) {
            match x.kind {
                "sale" | "completion" | "offline" => {
                    t.0 += x.amount;
                    t.1 += 1;
                }
                "refund" | "void" => {
                    t.2 += x.amount;
                    t.3 += 1;
                }
                _ => {}
            }
        }
        t
    }

    fn batch_of(&self, m: &Seen) -> u32 {
        let f60 = m.text(60);
        let digits = if self.cup {
            f60.get(2..8).unwrap_or("")
        } else {
            f60.as_str()
        };
        digits.parse().unwrap_or(0)
    }

    fn is_closed(&self, m: &Seen) -> bool {
        let batch = self.batch_of(m);
        self.closed.iter().any(|(b, _)| *b == batch)
    }

    fn reconcile(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        if self.cup && self.is_closed(m) {
            let mut f48 = m.text(48);
            f48.replace_range(30..31, "1");
            f48.replace_range(61..62, "1");
            return ("00".into(), vec![(48, f48)]);
        }
        if self.cup {
            return self.reconcile_cup(m);
        }
        let batch = self.batch_of(m);
        if self.is_closed(m) {
            // A repeated 0500 for a batch already closed is answered 00 (DESIGN §6).
            return ("00".into(), vec![]);
        }
        if m.text(3) == "960000" {
            self.close(batch);
            return ("00".into(), vec![]);
        }
        let t = self.intl_totals();
        let mine = format!("{:03}{:012}{:03}{:012}", t.0, t.1, t.2, t.3);
        if !self.out_of_balance && m.text(63).get(..30) == Some(mine.as_str()) {
            self.close(batch);
            ("00".into(), vec![])
        } else {
            ("95".into(), vec![])
        }
    }

    fn reconcile_cup(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let batch: u32 = m
            .text(60)
            .get(2..8)
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        if self.batch.is_some_and(|b| b != batch) {
            return ("77".into(), vec![]);
        }
        let mut f48 = m.text(48);
        for (foreign, at) in [(false, 30), (true, 61)] {
            let t = self.cup_totals(foreign);
            let mine = format!("{:012}{:03}{:012}{:03}", t.0, t.1, t.2, t.3);
            let start = at - 30;
            let ok = !self.out_of_balance && f48.get(start..at) == Some(mine.as_str());
            f48.replace_range(at..at + 1, if ok { "1" } else { "2" });
        }
        ("00".into(), vec![(48, f48)])
    }

    fn upload(&mut self, m: &Seen) -> (String, Vec<(u16, String)>) {
        let f60 = m.text(60);
        if self.cup {
            match f60.get(8..11) {
                Some("202") | Some("207") => {
                    let batch = f60.get(2..8).and_then(|b| b.parse().ok()).unwrap_or(0);
                    self.close(batch);
                }
                Some("201") if m.fields.contains_key(&48) && !m.fields.contains_key(&2) => {
                    let f48 = m.text(48);
                    for i in 0..f48.get(..2).and_then(|c| c.parse().ok()).unwrap_or(0usize) {
                        let trace = f48
                            .get(2 + i * 40 + 2..2 + i * 40 + 8)
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(0);
                        *self.uploads.entry(trace).or_default() += 1;
                    }
                }
                _ => *self.uploads.entry(m.trace()).or_default() += 1,
            }
        } else {
            let trace = f60.get(4..10).and_then(|t| t.parse().ok()).unwrap_or(0);
            *self.uploads.entry(trace).or_default() += 1;
        }
        ("00".into(), vec![])
    }

    pub fn close(&mut self, batch: u32) {
        if self.closed.iter().any(|(b, _)| *b == batch) {
            // A repeated closing message for a batch already closed changes nothing.
            return;
        }
        let ledger = std::mem::take(&mut self.ledger);
        self.closed.push((batch, ledger));
        self.uploads.clear();
        self.adjustments.clear();
    }

    fn reply(&self, m: &Seen, code: &str, extra: &[(u16, String)]) -> Vec<u8> {
        let mut digits = m.mti.clone().into_bytes();
        digits[2] += 1;
        let mti = Mti::new(std::str::from_utf8(&digits).unwrap()).unwrap();
        let mut b = Builder::new(self.spec, mti);
        for n in [3u16, 4, 11, 41, 42] {
            if let Some(v) = m.fields.get(&n) {
                b.set(n, v.clone()).unwrap();
            }
        }
        b.set(39, code.as_bytes().to_vec()).unwrap();
        for (n, v) in extra {
            b.set(*n, v.clone().into_bytes()).unwrap();
        }
        b.to_bytes().to_vec()
    }
}

fn read(msg: &Message<'_>) -> Seen {
    Seen {
        mti: msg.mti().as_str().to_owned(),
        fields: msg.fields().map(|f| (f.number(), f.to_vec())).collect(),
    }
}
