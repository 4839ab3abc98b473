//! Batch totals under each dialect's rules (DESIGN §5, "Totals"), and their wire forms: the
//! international field 63 block and the UnionPay field 48 digits. The host computes its own
//! totals with its own code; these are the terminal's.

use crate::dialect::{Dialect, IntlSettings, TotalsLength, VoidPolicy};
use crate::record::{CardGroup, Record, TxnKind};

/// International totals: sale and refund pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntlTotals {
    /// Number of sales.
    pub sale_count: u32,
    /// Sum of sales (amount plus tip), minor units.
    pub sale_amount: u64,
    /// Number of refunds.
    pub refund_count: u32,
    /// Sum of refunds, minor units.
    pub refund_amount: u64,
}

impl IntlTotals {
    /// Totals of `records` under the void policy of `settings`.
    pub fn of(records: &[Record], settings: &IntlSettings) -> IntlTotals {
        let mut t = IntlTotals::default();
        for r in records.iter().filter(|r| r.in_totals()) {
            match r.kind {
                TxnKind::Refund => t.add_refund(r.total()),
                TxnKind::Sale | TxnKind::Completion | TxnKind::OfflineSale => {
                    t.add_voidable_sale(r, settings.void_policy)
                }
                _ => {}
            }
        }
        t
    }

    fn add_voidable_sale(&mut self, r: &Record, policy: VoidPolicy) {
        match (r.voided, policy) {
            (false, _) => self.add_sale(r.total()),
            (true, VoidPolicy::DropFromSales) => {}
            // Some acquirers keep the voided sale and count the void as a refund, so the net
            // is still right (DESIGN §5, "Totals").
            (true, VoidPolicy::AddToRefunds) => {
                self.add_sale(r.total());
                self.add_refund(r.total());
            }
        }
    }

    fn add_sale(&mut self, amount: u64) {
        self.sale_count += 1;
        self.sale_amount += amount;
    }

    fn add_refund(&mut self, amount: u64) {
        self.refund_count += 1;
        self.refund_amount += amount;
    }

    /// The field 63 block: sale count n3, sale amount n12, refund count n3, refund amount n12,
    /// then `0` filler to the configured length (DESIGN §5: 90 in many terminals, 30 in others).
    pub fn field63(&self, length: TotalsLength) -> String {
        let mut s = format!(
            "{:03}{:012}{:03}{:012}",
            self.sale_count, self.sale_amount, self.refund_count, self.refund_amount
        );
        s.extend(std::iter::repeat_n(
            '0',
            length.chars().saturating_sub(s.len()),
        ));
        s
    }

    /// The largest amount total.
    pub fn max_amount(&self) -> u64 {
        self.sale_amount.max(self.refund_amount)
    }

    fn plus(&mut self, o: &IntlTotals) {
        self.sale_count += o.sale_count;
        self.sale_amount += o.sale_amount;
        self.refund_count += o.refund_count;
        self.refund_amount += o.refund_amount;
    }

    /// Takes out what `plus` added (never below zero: a running total only loses what it got).
    fn minus(&mut self, o: &IntlTotals) {
        self.sale_count = self.sale_count.saturating_sub(o.sale_count);
        self.sale_amount = self.sale_amount.saturating_sub(o.sale_amount);
        self.refund_count = self.refund_count.saturating_sub(o.refund_count);
        self.refund_amount = self.refund_amount.saturating_sub(o.refund_amount);
    }
}

/// One UnionPay card group's totals: debit and credit mean the direction of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CupGroupTotals {
    /// Debit amount: sales, completions, offline sales and tips, voided sales included.
    pub debit_amount: u64,
    /// Debit count.
    pub debit_count: u32,
    /// Credit amount: voids, refunds, completion voids.
    pub credit_amount: u64,
    /// Credit count.
    pub credit_count: u32,
}

/// UnionPay totals, domestic (UnionPay cards) and foreign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CupTotals {
    /// UnionPay cards.
    pub domestic: CupGroupTotals,
    /// Other card organisations.
    pub foreign: CupGroupTotals,
}

impl CupTotals {
    /// Totals of `records` (DESIGN §5: pre-auths and failed advices are in no total).
    pub fn of(records: &[Record]) -> CupTotals {
        let mut t = CupTotals::default();
        for r in records.iter().filter(|r| r.in_totals()) {
            let g = match r.group {
                CardGroup::Domestic => &mut t.domestic,
                CardGroup::Foreign => &mut t.foreign,
            };
            match r.kind {
                TxnKind::Sale | TxnKind::Completion | TxnKind::OfflineSale => {
                    g.debit_amount += r.total();
                    g.debit_count += 1;
                }
                TxnKind::Void | TxnKind::Refund => {
                    g.credit_amount += r.total();
                    g.credit_count += 1;
                }
                TxnKind::PreAuth | TxnKind::TipAdjust | TxnKind::PreAuthVoid => {}
            }
        }
        t
    }

    /// Field 48 of the 0500: per group debit amount n12, count n3, credit amount n12, count n3
    /// and a flag n1 (`0` from the terminal), domestic first: 62 digits (DESIGN §5).
    pub fn field48(&self) -> String {
        let g = |g: &CupGroupTotals| {
            format!(
                "{:012}{:03}{:012}{:03}0",
                g.debit_amount, g.debit_count, g.credit_amount, g.credit_count
            )
        };
        format!("{}{}", g(&self.domestic), g(&self.foreign))
    }

    /// The largest amount total.
    pub fn max_amount(&self) -> u64 {
        [self.domestic, self.foreign]
            .iter()
            .map(|g| g.debit_amount.max(g.credit_amount))
            .max()
            .unwrap_or(0)
    }
}

impl CupGroupTotals {
    fn plus(&mut self, o: &CupGroupTotals) {
        self.debit_amount += o.debit_amount;
        self.debit_count += o.debit_count;
        self.credit_amount += o.credit_amount;
        self.credit_count += o.credit_count;
    }

    fn minus(&mut self, o: &CupGroupTotals) {
        self.debit_amount = self.debit_amount.saturating_sub(o.debit_amount);
        self.debit_count = self.debit_count.saturating_sub(o.debit_count);
        self.credit_amount = self.credit_amount.saturating_sub(o.credit_amount);
        self.credit_count = self.credit_count.saturating_sub(o.credit_count);
    }
}

/// The open batch's totals under the terminal's dialect, kept as records are written rather
/// than added up from the whole log at every sale (the overflow check needs them before and
/// after each one). Each record's part is the dialect's own `of` over that record alone, so
/// there is one set of totals rules; the engine checks, in debug builds, that the running
/// totals equal `of` over the log after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Running {
    Intl(IntlTotals),
    Cup(CupTotals),
}

impl Running {
    /// The totals of `records`.
    pub(crate) fn of(records: &[Record], dialect: &Dialect) -> Running {
        match dialect {
            Dialect::International(s) => Running::Intl(IntlTotals::of(records, s)),
            Dialect::UnionPay(_) => Running::Cup(CupTotals::of(records)),
        }
    }

    /// `record` joins the totals.
    pub(crate) fn add(&mut self, record: &Record, dialect: &Dialect) {
        match (self, Running::of(std::slice::from_ref(record), dialect)) {
            (Running::Intl(t), Running::Intl(part)) => t.plus(&part),
            (Running::Cup(t), Running::Cup(part)) => {
                t.domestic.plus(&part.domestic);
                t.foreign.plus(&part.foreign);
            }
            // One dialect per engine: the two always agree.
            _ => {}
        }
    }

    /// `record`, added before, leaves the totals.
    pub(crate) fn remove(&mut self, record: &Record, dialect: &Dialect) {
        match (self, Running::of(std::slice::from_ref(record), dialect)) {
            (Running::Intl(t), Running::Intl(part)) => t.minus(&part),
            (Running::Cup(t), Running::Cup(part)) => {
                t.domestic.minus(&part.domestic);
                t.foreign.minus(&part.foreign);
            }
            _ => {}
        }
    }

    /// The largest 12-digit amount total.
    pub(crate) fn max_amount(&self) -> u64 {
        match self {
            Running::Intl(t) => t.max_amount(),
            Running::Cup(t) => t.max_amount(),
        }
    }
}

/// A 0510's field 48 flag for one card group (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CupFlag {
    /// `1`: balanced.
    Balanced,
    /// `2`: not balanced.
    NotBalanced,
    /// `3` (an error, treated as not balanced) or anything unexpected.
    Error(u8),
}

/// The two flags of a 0510's field 48 digits (positions 31 and 62), or `None` when the field
/// is too short to hold them.
pub fn cup_flags(digits: &[u8]) -> Option<[CupFlag; 2]> {
    let flag = |b: u8| match b {
        b'1' => CupFlag::Balanced,
        b'2' => CupFlag::NotBalanced,
        other => CupFlag::Error(other),
    };
    Some([flag(*digits.get(30)?), flag(*digits.get(61)?)])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::{AdviceState, Pan};

    /// A record for tests: an approved, swiped, domestic `kind` of `amount`; tests of other
    /// modules change what they need.
    pub(crate) fn rec(trace: u32, kind: TxnKind, amount: u64) -> Record {
        Record {
            trace,
            invoice: trace,
            kind,
            mti: crate::ShortStr::new("0200").unwrap(),
            processing_code: crate::ShortStr::new("000000").unwrap(),
            amount,
            tip: 0,
            rrn: crate::ShortStr::new("000000000001").unwrap(),
            auth_code: crate::ShortStr::new("123456").unwrap(),
            response_code: crate::ShortStr::new("00").unwrap(),
            date: crate::ShortStr::new("1203").unwrap(),
            time: crate::ShortStr::new("101010").unwrap(),
            expiry: None,
            entry_mode: crate::ShortStr::new("021").unwrap(),
            condition_code: crate::ShortStr::new("00").unwrap(),
            group: CardGroup::Domestic,
            pan: Pan::new("6212345678901234").unwrap(),
            icc: None,
            original_trace: None,
            voided: false,
            advice: AdviceState::Online,
            uploaded: false,
            refund_of: None,
            tip_advice: None,
        }
    }

    #[test]
    fn intl_voided_sale_is_dropped_or_added_to_refunds() {
        let mut voided = rec(2, TxnKind::Sale, 500);
        voided.voided = true;
        let mut tipped = rec(1, TxnKind::Sale, 1000);
        tipped.tip = 100;
        let records = vec![
            tipped,
            voided,
            rec(3, TxnKind::Refund, 200),
            rec(4, TxnKind::PreAuth, 9),
        ];
        let drop = IntlTotals::of(&records, &IntlSettings::default());
        assert_eq!((drop.sale_count, drop.sale_amount), (1, 1100));
        assert_eq!((drop.refund_count, drop.refund_amount), (1, 200));
        let settings = IntlSettings {
            void_policy: VoidPolicy::AddToRefunds,
            ..IntlSettings::default()
        };
        let add = IntlTotals::of(&records, &settings);
        assert_eq!((add.sale_count, add.sale_amount), (2, 1600));
        assert_eq!((add.refund_count, add.refund_amount), (2, 700));
    }

    #[test]
    fn running_totals_follow_adds_replacements_and_removals() {
        let intl = Dialect::International(IntlSettings::default());
        let cup = Dialect::UnionPay(crate::dialect::CupSettings::default());
        for dialect in [&intl, &cup] {
            let mut log = vec![rec(1, TxnKind::Sale, 1000), rec(2, TxnKind::Refund, 300)];
            let mut running = Running::of(&log, dialect);
            let mut foreign = rec(3, TxnKind::Sale, 250);
            foreign.group = CardGroup::Foreign;
            running.add(&foreign, dialect);
            log.push(foreign.clone());
            assert_eq!(running, Running::of(&log, dialect));
            // A void marks the sale: out goes its old part, in its new one.
            let mut voided = log[0].clone();
            voided.voided = true;
            running.remove(&log[0], dialect);
            running.add(&voided, dialect);
            log[0] = voided;
            assert_eq!(running, Running::of(&log, dialect));
            running.remove(&log[1], dialect);
            log.remove(1);
            assert_eq!(running, Running::of(&log, dialect));
            assert_eq!(
                running.max_amount(),
                Running::of(&log, dialect).max_amount()
            );
        }
    }

    #[test]
    fn intl_field63_has_the_configured_length() {
        let t = IntlTotals {
            sale_count: 2,
            sale_amount: 1500,
            refund_count: 1,
            refund_amount: 200,
        };
        let long = t.field63(TotalsLength::Ninety);
        assert_eq!(long.len(), 90);
        assert_eq!(&long[..30], "002000000001500001000000000200");
        assert!(long[30..].bytes().all(|b| b == b'0'));
        assert_eq!(t.field63(TotalsLength::Thirty), &long[..30]);
    }

    #[test]
    fn cup_debit_and_credit_follow_direction_and_group() {
        let mut voided = rec(1, TxnKind::Sale, 1000);
        voided.voided = true;
        let mut void = rec(2, TxnKind::Void, 1000);
        void.original_trace = Some(1);
        let mut foreign = rec(3, TxnKind::Sale, 300);
        foreign.group = CardGroup::Foreign;
        let mut failed = rec(4, TxnKind::OfflineSale, 50);
        failed.advice = AdviceState::Failed;
        let records = vec![voided, void, foreign, failed, rec(5, TxnKind::PreAuth, 7)];
        let t = CupTotals::of(&records);
        assert_eq!(
            t.domestic,
            CupGroupTotals {
                debit_amount: 1000,
                debit_count: 1,
                credit_amount: 1000,
                credit_count: 1
            }
        );
        assert_eq!(t.foreign.debit_amount, 300);
        let f48 = t.field48();
        assert_eq!(f48.len(), 62);
        assert_eq!(
            f48,
            "00000000100000100000000100000100000000003000010000000000000000"
        );
    }

    #[test]
    fn cup_flags_are_read_at_31_and_62() {
        let mut reply = b"00000000100000100000000100000110000000003000010000000000000002".to_vec();
        assert_eq!(
            cup_flags(&reply),
            Some([CupFlag::Balanced, CupFlag::NotBalanced])
        );
        reply.truncate(40);
        assert_eq!(cup_flags(&reply), None);
    }
}
