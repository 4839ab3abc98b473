//! The host's own batch totals (DESIGN §5, "Totals"), computed from its ledger, and their wire
//! forms: the international field 63 block and the UnionPay field 48 groups.
//!
//! This is deliberately a second implementation, written apart from the terminal's
//! (`iso8583-settle`) and never linked with it (issue #5): if both sides shared the arithmetic,
//! a reconciliation test could not catch a mistake in it. Only the wire *format* is shared
//! (DESIGN §5): international `sale count n3, sale amount n12, refund count n3, refund amount
//! n12` (then `0` filler the host ignores); UnionPay per card group `debit amount n12, debit
//! count n3, credit amount n12, credit count n3, flag n1`, domestic first.

use crate::config::{Dialect, VoidPolicy};
use crate::ledger::{CardGroup, Rec, RecordState, TxnKind};

/// What the totals read of one ledger record.
pub(crate) trait Countable {
    fn kind(&self) -> TxnKind;
    fn state(&self) -> RecordState;
    fn amount(&self) -> u64;
    fn group(&self) -> CardGroup;
}

/// International totals: the sale pair and the refund pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntlTotals {
    /// Sales counted.
    pub sale_count: u64,
    /// Their amount, minor units.
    pub sale_amount: u64,
    /// Refunds counted.
    pub refund_count: u64,
    /// Their amount, minor units.
    pub refund_amount: u64,
}

impl IntlTotals {
    /// Totals of the records under `policy`: sales, completions and offline sales on the sale
    /// side unless voided (a voided sale is dropped, or with [`VoidPolicy::Refund`] kept and
    /// also counted as a refund); refunds on the refund side; voids themselves, pre-auths and
    /// reversed or unconfirmed records nowhere.
    pub(crate) fn of<'a, R: Countable + 'a>(
        records: impl IntoIterator<Item = &'a R>,
        policy: VoidPolicy,
    ) -> IntlTotals {
        let mut t = IntlTotals::default();
        for r in records {
            match (r.kind(), r.state(), policy) {
                (TxnKind::Refund, RecordState::Approved, _) => t.refund(r.amount()),
                (k, RecordState::Approved, _) if k.is_debit() => t.sale(r.amount()),
                (k, RecordState::Voided, VoidPolicy::Refund) if k.is_debit() => {
                    t.sale(r.amount());
                    t.refund(r.amount());
                }
                _ => {}
            }
        }
        t
    }

    fn sale(&mut self, amount: u64) {
        self.sale_count += 1;
        self.sale_amount = self.sale_amount.saturating_add(amount);
    }

    fn refund(&mut self, amount: u64) {
        self.refund_count += 1;
        self.refund_amount = self.refund_amount.saturating_add(amount);
    }

    /// The 30 characters the field 63 block starts with, or `None` when a total does not fit
    /// its width (then no terminal block can equal it).
    pub(crate) fn block(&self) -> Option<[u8; 30]> {
        let mut out = [b'0'; 30];
        let (a, rest) = out.split_at_mut(3);
        let (b, rest) = rest.split_at_mut(12);
        let (c, d) = rest.split_at_mut(3);
        let ok = put(a, self.sale_count)
            && put(b, self.sale_amount)
            && put(c, self.refund_count)
            && put(d, self.refund_amount);
        ok.then_some(out)
    }

    /// True when a terminal's field 63 carries these totals in its first 30 characters.
    pub(crate) fn matches_block(&self, field63: &[u8]) -> bool {
        match (self.block(), field63.get(..30)) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => false,
        }
    }
}

/// One UnionPay card group: debit and credit are the direction of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CupGroupTotals {
    /// Sales, completions and offline sales, voided sales included, minor units.
    pub debit_amount: u64,
    /// Their count.
    pub debit_count: u64,
    /// Voids and refunds, minor units.
    pub credit_amount: u64,
    /// Their count.
    pub credit_count: u64,
}

impl CupGroupTotals {
    /// The 30 digits of this group in field 48 (without its flag), or `None` if one does not
    /// fit its width.
    pub(crate) fn digits(&self) -> Option<[u8; 30]> {
        let mut out = [b'0'; 30];
        let (a, rest) = out.split_at_mut(12);
        let (b, rest) = rest.split_at_mut(3);
        let (c, d) = rest.split_at_mut(12);
        let ok = put(a, self.debit_amount)
            && put(b, self.debit_count)
            && put(c, self.credit_amount)
            && put(d, self.credit_count);
        ok.then_some(out)
    }
}

/// UnionPay totals: domestic (UnionPay cards) and foreign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CupTotals {
    /// UnionPay cards.
    pub domestic: CupGroupTotals,
    /// Other card organisations.
    pub foreign: CupGroupTotals,
}

impl CupTotals {
    /// Totals of the records: a voided sale stays in debit and its void is a credit; reversed
    /// and unconfirmed records and pre-auths count nowhere.
    pub(crate) fn of<'a, R: Countable + 'a>(records: impl IntoIterator<Item = &'a R>) -> CupTotals {
        let mut t = CupTotals::default();
        for r in records {
            let g = match r.group() {
                CardGroup::Domestic => &mut t.domestic,
                CardGroup::Foreign => &mut t.foreign,
            };
            let live = matches!(r.state(), RecordState::Approved | RecordState::Voided);
            match r.kind() {
                k if live && k.is_debit() => {
                    g.debit_amount = g.debit_amount.saturating_add(r.amount());
                    g.debit_count += 1;
                }
                TxnKind::Void | TxnKind::Refund if r.state() == RecordState::Approved => {
                    g.credit_amount = g.credit_amount.saturating_add(r.amount());
                    g.credit_count += 1;
                }
                _ => {}
            }
        }
        t
    }

    /// The flags of a 0500's field 48 (62 digits): per group `1` when the terminal's 30
    /// digits equal the host's, else `2`. `None` when the field is not 62 digits.
    pub(crate) fn flags(&self, field48: &[u8]) -> Option<[u8; 2]> {
        if field48.len() != 62 {
            return None;
        }
        let flag = |g: &CupGroupTotals, theirs: Option<&[u8]>| match (g.digits(), theirs) {
            (Some(mine), Some(theirs)) if mine == theirs => b'1',
            _ => b'2',
        };
        Some([
            flag(&self.domestic, field48.get(..30)),
            flag(&self.foreign, field48.get(31..61)),
        ])
    }
}

/// A batch's totals in its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Totals {
    /// International.
    Intl(IntlTotals),
    /// UnionPay.
    Cup(CupTotals),
}

impl Totals {
    /// The totals of `records` by `dialect`'s rules.
    pub(crate) fn of(records: &[Rec], dialect: Dialect, policy: VoidPolicy) -> Totals {
        match dialect {
            Dialect::International => Totals::Intl(IntlTotals::of(records, policy)),
            Dialect::UnionPay => Totals::Cup(CupTotals::of(records)),
        }
    }

    /// The sale side, count and amount: international the sale pair, UnionPay the debit
    /// count and amount of both card groups. What the ledger view calls the settled sales.
    pub fn sales(&self) -> (u64, u64) {
        match self {
            Totals::Intl(t) => (t.sale_count, t.sale_amount),
            Totals::Cup(t) => (
                t.domestic.debit_count + t.foreign.debit_count,
                t.domestic
                    .debit_amount
                    .saturating_add(t.foreign.debit_amount),
            ),
        }
    }
}

/// Writes `value` as zero-padded decimal filling `out`; false if it does not fit.
fn put(out: &mut [u8], mut value: u64) -> bool {
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
    value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(TxnKind, RecordState, u64, CardGroup);

    impl Countable for R {
        fn kind(&self) -> TxnKind {
            self.0
        }
        fn state(&self) -> RecordState {
            self.1
        }
        fn amount(&self) -> u64 {
            self.2
        }
        fn group(&self) -> CardGroup {
            self.3
        }
    }

    use CardGroup::*;
    use RecordState::*;
    use TxnKind::*;

    #[test]
    fn intl_voided_sale_follows_the_policy() {
        let records = [
            R(Sale, Approved, 1000, Foreign),
            R(Sale, Voided, 500, Foreign),
            R(Void, Approved, 500, Foreign),
            R(Refund, Approved, 200, Foreign),
            R(PreAuth, Approved, 9, Foreign),
            R(Sale, Reversed, 7, Foreign),
            R(OfflineSale, Approved, 30, Foreign),
            R(Completion, Unconfirmed, 40, Foreign),
        ];
        let drop = IntlTotals::of(&records, VoidPolicy::Drop);
        assert_eq!(
            (
                drop.sale_count,
                drop.sale_amount,
                drop.refund_count,
                drop.refund_amount
            ),
            (2, 1030, 1, 200)
        );
        assert_eq!(&drop.block().unwrap(), b"002000000001030001000000000200");
        let refund = IntlTotals::of(&records, VoidPolicy::Refund);
        assert_eq!((refund.sale_count, refund.sale_amount), (3, 1530));
        assert_eq!((refund.refund_count, refund.refund_amount), (2, 700));

        let mut block = drop.block().unwrap().to_vec();
        block.extend_from_slice(&[b'0'; 60]);
        assert!(drop.matches_block(&block));
        assert!(!refund.matches_block(&block));
        assert!(!drop.matches_block(&block[..29]));
        let huge = IntlTotals {
            sale_count: 1000,
            ..drop
        };
        assert_eq!(huge.block(), None);
    }

    #[test]
    fn cup_debit_credit_and_groups() {
        let records = [
            R(Sale, Voided, 1000, Domestic),
            R(Void, Approved, 1000, Domestic),
            R(Sale, Approved, 300, Foreign),
            R(Refund, Approved, 50, Foreign),
            R(Void, Reversed, 300, Foreign),
            R(PreAuth, Approved, 7, Domestic),
        ];
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
        assert_eq!(
            &t.foreign.digits().unwrap(),
            b"000000000300001000000000050001"
        );
        let mut f48 = Vec::new();
        f48.extend_from_slice(&t.domestic.digits().unwrap());
        f48.push(b'0');
        f48.extend_from_slice(b"000000000300001000000000000000");
        f48.push(b'0');
        assert_eq!(t.flags(&f48), Some(*b"12"));
        assert_eq!(t.flags(&f48[..61]), None);
    }
}
