//! Test support: a terminal (the engine) wired to a scripted fake host on simulated time.
//! No sleeps: a timeout is delivered by moving `now` to the engine's deadline.
#![allow(dead_code, unreachable_pub)]

pub mod host;

use iso8583_settle::{
    Action, Card, CardGroup, Config, CupSettings, Dialect, Engine, Error, IntlSettings, Outcome,
    Output, Pan, Printout, Prompt, Report, Request, Store, Time,
};

pub use host::{FakeHost, Script};

/// Steps one input may cause before the test calls it a livelock.
const MAX_STEPS: usize = 5_000;

pub fn start() -> Time {
    Time::from_civil(2026, 12, 3, 9, 0, 0)
}

pub fn config(cup: bool) -> iso8583_settle::ConfigBuilder {
    let dialect = if cup {
        Dialect::UnionPay(CupSettings::default())
    } else {
        Dialect::International(IntlSettings::default())
    };
    Config::builder("TERM0001", "MERCHANT0000001", dialect)
}

/// A card whose group follows its PAN (62... is UnionPay, so domestic), swiped.
pub fn card(pan: &str) -> Card {
    let mut card = Card::swiped(Pan::new(pan).unwrap());
    card.group = if pan.starts_with("62") {
        CardGroup::Domestic
    } else {
        CardGroup::Foreign
    };
    card.track2 = Some(format!("{pan}D30121010000"));
    card.pin_block = Some([0x11; 8]);
    card.expiry = Some("3012".into());
    card
}

/// A chip card: entry mode 051 and field 55 with a tag 57 that must never be stored.
pub fn chip(pan: &str) -> Card {
    let mut card = card(pan);
    card.entry_mode = "051".into();
    card.icc = Some(vec![0x9F, 0x26, 0x02, 0xAA, 0xBB, 0x57, 0x02, 0x62, 0x12]);
    card
}

pub fn sale(pan: &str, amount: u64) -> Request {
    Request::Sale {
        card: card(pan),
        amount,
        tip: 0,
    }
}

/// Keeps scoped log captures from going blind. `tracing` caches each callsite's interest once
/// for the whole process, asking the subscriber of whichever thread reaches the callsite
/// first; a sibling test's thread with no subscriber of its own would cache "never" and the
/// capturing test would see nothing (tokio-rs/tracing#3611). A global subscriber that is
/// interested in everything and writes nothing (a registry without layers) gives those
/// threads an answer of "always"; the capture itself stays thread-local.
pub fn anchor_subscriber() {
    static ANCHOR: std::sync::Once = std::sync::Once::new();
    ANCHOR.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

pub fn trace_subscriber() -> tracing::subscriber::DefaultGuard {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .finish();
    tracing::subscriber::set_default(subscriber)
}

pub struct Term<S> {
    pub engine: Engine<S>,
    pub host: FakeHost,
    pub now: Time,
    pub actions: Vec<Action>,
}

impl<S: Store> Term<S> {
    pub fn open(cfg: Config, store: S, host: FakeHost, now: Time) -> Result<Term<S>, Error> {
        let (engine, out) = Engine::open(cfg, store, now)?;
        let mut term = Term {
            engine,
            host,
            now,
            actions: Vec::new(),
        };
        term.pump(out)?;
        Ok(term)
    }

    pub fn request(&mut self, request: Request) -> Result<(), Error> {
        let out = self.engine.request(request, self.now)?;
        self.pump(out)
    }

    pub fn tick(&mut self) -> Result<(), Error> {
        let out = self.engine.tick(self.now)?;
        self.pump(out)
    }

    /// Feeds every message to the host and its answer back, until nothing is in flight.
    pub fn pump(&mut self, out: Output) -> Result<(), Error> {
        self.pump_at_most(out, MAX_STEPS)
    }

    /// Like [`Term::pump`], but the terminal loses power once `messages` messages were sent:
    /// the last one reaches the host, its answer never reaches the terminal.
    pub fn request_then_power_off(
        &mut self,
        request: Request,
        messages: usize,
    ) -> Result<(), Error> {
        let out = self.engine.request(request, self.now)?;
        self.pump_at_most(out, messages)
    }

    fn pump_at_most(&mut self, mut out: Output, messages: usize) -> Result<(), Error> {
        for step in 0..MAX_STEPS {
            if step == messages {
                if let Some(msg) = out.sent().next() {
                    let _ = self.host.answer(msg.bytes());
                }
                self.actions.extend(out.actions);
                return Ok(());
            }
            self.now = self.now.plus_ms(1_000);
            let sent: Vec<_> = out.sent().cloned().collect();
            assert!(sent.len() <= 1, "one message in flight at a time");
            self.actions.extend(out.actions);
            let Some(msg) = sent.first() else {
                return Ok(());
            };
            assert_eq!(out.deadline, self.engine.deadline());
            out = match self.host.answer(msg.bytes()) {
                host::Answer::Reply(bytes) => {
                    let spec = self.host.spec;
                    let reply = spec.decode(&bytes).unwrap().complete().unwrap();
                    self.engine.response(&reply, self.now)?
                }
                host::Answer::BadMac(bytes) => {
                    let spec = self.host.spec;
                    let reply = spec.decode(&bytes).unwrap().complete().unwrap();
                    self.engine.response_bad_mac(&reply, self.now)?
                }
                host::Answer::Silence => {
                    self.now = self.engine.deadline().expect("a deadline while waiting");
                    self.engine.timeout(self.now)?
                }
                host::Answer::Unreachable => self.engine.not_sent(self.now)?,
            };
        }
        assert!(
            messages < MAX_STEPS,
            "no quiescence after {MAX_STEPS} steps"
        );
        Ok(())
    }

    pub fn prompts(&self) -> Vec<Prompt> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Prompt(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn outcomes(&self) -> Vec<Outcome> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Outcome(o) => Some(o.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn reports(&self) -> Vec<Report> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Print(Printout::Report(r)) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn printouts(&self) -> Vec<Printout> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Print(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn last_outcome(&self) -> Option<Outcome> {
        self.outcomes().last().cloned()
    }

    /// MTIs the terminal sent, in order.
    pub fn mtis(&self) -> Vec<String> {
        self.host.seen.iter().map(|s| s.mti.clone()).collect()
    }

    /// The host's view of the open batch equals the terminal's.
    pub fn assert_host_agrees(&self) {
        if self.host.cup {
            let t = self.engine.cup_totals().unwrap();
            let d = self.host.cup_totals(false);
            let f = self.host.cup_totals(true);
            assert_eq!(
                (
                    t.domestic.debit_amount,
                    t.domestic.debit_count,
                    t.domestic.credit_amount,
                    t.domestic.credit_count
                ),
                d
            );
            assert_eq!(
                (
                    t.foreign.debit_amount,
                    t.foreign.debit_count,
                    t.foreign.credit_amount,
                    t.foreign.credit_count
                ),
                f
            );
        } else {
            let t = self.engine.intl_totals().unwrap();
            assert_eq!(
                (t.sale_count, t.sale_amount, t.refund_count, t.refund_amount),
                self.host.intl_totals()
            );
        }
    }
}

pub fn term(cup: bool) -> Term<iso8583_settle::MemStore> {
    let cfg = config(cup).build().unwrap();
    Term::open(
        cfg,
        iso8583_settle::MemStore::new(),
        FakeHost::new(cup),
        start(),
    )
    .unwrap()
}
