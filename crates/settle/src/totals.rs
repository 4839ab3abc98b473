//! Batch totals under each dialect's rules (DESIGN §5, "Totals"), and their wire forms: the
//! international field 63 block and the UnionPay field 48 digits. The host computes its own
//! totals with its own code; these are the terminal's.

use crate::dialect::{IntlSettings, TotalsLength, VoidPolicy};
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
                TxnKind::PreAuth => {}
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
mod tests {
    use super::*;
    use crate::record::{AdviceState, Pan};

    pub(crate) fn rec(trace: u32, kind: TxnKind, amount: u64) -> Record {
        Record {
            trace,
            invoice: trace,
            kind,
            mti: "0200".into(),
            processing_code: "000000".into(),
            amount,
            tip: 0,
            rrn: "000000000001".into(),
            auth_code: "123456".into(),
            response_code: "00".into(),
            date: "1203".into(),
            time: "101010".into(),
            expiry: None,
            entry_mode: "021".into(),
            condition_code: "00".into(),
            group: CardGroup::Domestic,
            pan: Pan::new("6212345678901234").unwrap(),
            icc: None,
            original_trace: None,
            voided: false,
            advice: AdviceState::Online,
            uploaded: false,
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
