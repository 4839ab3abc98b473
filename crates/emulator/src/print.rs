//! What the terminal shows and prints: prompts as its screen shows them (in Chinese and English
//! for UnionPay terminals), one-line summaries of outcomes and exchanges, transaction receipts
//! and the settlement slip, fixed width as a receipt printer prints them.
//!
//! PANs are printed masked (first 6 and last 4 digits, DESIGN §3): a [`Receipt`] only ever
//! holds the masked form. Amounts are minor units with two decimals.

use iso8583_settle::{CardGroup, Outcome, Printout, Prompt, Purpose, Reconciliation, Rejected};
use iso8583_settle::{Report, TxnKind};

use crate::amount::format_amount;
use crate::cards::TestCard;
use crate::profile::{DialectName, Profile};
use crate::step::{Exchange, Fate, Notice, Printed, Receipt, Shown};

/// A prompt's line: English, with the customary Chinese first on a UnionPay terminal.
pub fn prompt_text(shown: &Shown, dialect: DialectName) -> String {
    let (english, chinese) = match shown {
        Shown::Engine(p) => (p.to_string(), p.text_zh()),
        Shown::Local(n) => (notice_text(n), notice_zh(n)),
    };
    match (dialect, chinese) {
        (DialectName::Cup, Some(zh)) => format!("{zh} / {english}"),
        _ => english,
    }
}

fn notice_text(notice: &Notice) -> String {
    match notice {
        Notice::Refused(r) => refusal_text(r),
        Notice::WrongPassword => "WRONG PASSWORD".into(),
        Notice::SignOnFirst => "PLEASE SIGN ON FIRST".into(),
        Notice::KeyCheckFailed => "KEY CHECK FAILED, NOT SIGNED ON".into(),
        Notice::HostAsksSignOn => "HOST REQUESTS SIGN ON".into(),
        Notice::PowerLost => "POWER LOST".into(),
        Notice::PowerOff => "TERMINAL IS OFF, POWER ON FIRST".into(),
        Notice::Unreachable => "CONNECT FAILED".into(),
        Notice::NothingToVoid => "NO TRANSACTION".into(),
        Notice::NoPreAuth => "NO PRE-AUTH TO COMPLETE".into(),
        Notice::NothingToPrint => "NO RECEIPT TO REPRINT".into(),
        Notice::NoSlipToPrint => "NO SETTLEMENT SLIP TO REPRINT".into(),
        Notice::NothingToResend => "NOTHING TO RESEND".into(),
        Notice::PoweredOn => "POWER ON".into(),
    }
}

fn notice_zh(notice: &Notice) -> Option<&'static str> {
    match notice {
        Notice::Refused(Rejected::StorageFull { .. }) => Prompt::StorageFull.text_zh(),
        Notice::SignOnFirst => Some("请先签到"),
        Notice::HostAsksSignOn => Prompt::SignOnRequired.text_zh(),
        Notice::WrongPassword => Some("密码错"),
        _ => None,
    }
}

/// The screen line for a local refusal (DESIGN §5: nothing was sent).
fn refusal_text(rejected: &Rejected) -> String {
    match rejected {
        Rejected::StorageFull { .. } => Prompt::StorageFull.text().into(),
        Rejected::TotalsNearOverflow { .. } => "TOTALS NEAR LIMIT, PLEASE SETTLE".into(),
        Rejected::SettlementPending { .. } => "SETTLEMENT PENDING, PLEASE SETTLE".into(),
        Rejected::ReversalPending { .. } => "REVERSAL PENDING, TRY LATER".into(),
        Rejected::Busy { .. } => "BUSY".into(),
        Rejected::NoSuchRecord { .. } | Rejected::NoSuchTrace { .. } => "NO TRANSACTION".into(),
        Rejected::AlreadyVoided { .. } => "ALREADY VOIDED".into(),
        Rejected::NotVoidable { .. } => "CANNOT VOID".into(),
        Rejected::NotAdjustable { .. } => "TIP CANNOT BE ADJUSTED".into(),
        Rejected::TipAdjustUnsupported => "TIP ADJUST NOT SUPPORTED".into(),
        Rejected::TipAdjustPending { .. } => "TIP ADJUST NOT SENT YET, PLEASE SETTLE".into(),
        Rejected::PreAuthVoided { .. } => "PRE-AUTH VOIDED".into(),
        Rejected::InvalidAmount(_) => "INVALID AMOUNT".into(),
        Rejected::BadCardData { .. } => "CARD READ ERROR".into(),
        other => other.to_string().to_uppercase(),
    }
}

/// How an operator request ended, on one line.
pub fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Approved {
            kind,
            invoice,
            auth_code,
            ..
        } => format!(
            "APPROVED {} INVOICE {invoice:06} AUTH {auth_code}",
            kind.label()
        ),
        Outcome::Queued { kind, invoice, .. } => {
            format!(
                "ACCEPTED {} INVOICE {invoice:06}, ADVICE QUEUED",
                kind.label()
            )
        }
        Outcome::Declined { kind, code } => format!("DECLINED {} {code}", kind.label()),
        Outcome::Reversed { kind, reason, .. } => {
            format!("{} FAILED, REVERSAL {reason}", kind.label())
        }
        Outcome::Refused { kind, reason } => {
            format!("{} REFUSED: {}", kind.label(), refusal_text(reason))
        }
        Outcome::TipAdviceNotDelivered { kind, advice_trace } => format!(
            "{} NOT SENT: TIP ADJUST {advice_trace:06} NOT DELIVERED",
            kind.label()
        ),
        Outcome::HostUnreachable { kind, .. } => {
            format!("{} NOT SENT: HOST UNREACHABLE", kind.label())
        }
        Outcome::NotSent {
            kind,
            reversal_trace,
        } => {
            format!(
                "{} NOT SENT: REVERSAL {reversal_trace:06} PENDING",
                kind.label()
            )
        }
        other => format!("{other:?}"),
    }
}

/// A reprint on one line, for a step's summary (the paper itself is [`printed_text`]):
/// `REPRINTED SLIP: BATCH 000001, BALANCED` or `REPRINTED RECEIPT: SALE INVOICE 000001 12.50`.
/// `None` for what is printed the first time: the step's outcomes already tell it.
pub fn reprint_summary(printed: &Printed) -> Option<String> {
    match printed {
        Printed::Slip {
            report,
            reprint: true,
        } => Some(format!(
            "REPRINTED SLIP: BATCH {:06}, {}",
            report.batch,
            verdict(report.reconciliation)
        )),
        Printed::Receipt(r) if r.reprint => Some(format!(
            "REPRINTED RECEIPT: {} INVOICE {:06} {}",
            r.kind.label(),
            r.invoice,
            format_amount(r.amount + r.tip)
        )),
        _ => None,
    }
}

fn verdict(reconciliation: Reconciliation) -> &'static str {
    match reconciliation {
        Reconciliation::Balanced => "BALANCED",
        Reconciliation::Uploaded => "NOT BALANCED",
        Reconciliation::ReconcileError => "RECONCILE ERROR",
    }
}

/// What a request was for, as a word.
pub fn purpose_label(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Online(kind) => kind.label(),
        Purpose::Reversal => "REVERSAL",
        Purpose::Advice => "ADVICE",
        Purpose::TipAdjust => "TIP ADJUST",
        Purpose::Reconcile { trailer: false } => "SETTLEMENT",
        Purpose::Reconcile { trailer: true } => "TRAILER",
        Purpose::Upload => "UPLOAD",
        Purpose::Closing => "UPLOAD END",
        Purpose::SignOn => "SIGN ON",
        Purpose::Echo => "ECHO",
        Purpose::SignOff => "SIGN OFF",
        _ => "REQUEST",
    }
}

/// One exchange on one line: `0320 UPLOAD 8 records trace 000012 -> 0330 00`.
pub fn exchange_text(e: &Exchange) -> String {
    let mut line = format!("{} {}", e.mti, purpose_label(e.purpose));
    if let Some(code) = e.processing_code.as_deref().filter(|_| e.mti.class() != 2) {
        line.push_str(&format!(" {code}"));
    }
    if e.purpose == Purpose::Upload || e.purpose == Purpose::Closing {
        if let Some(network) = &e.network_code {
            line.push_str(&format!(" 60.3={network}"));
        }
    }
    if e.records > 0 {
        line.push_str(&format!(" {} record{}", e.records, plural(e.records)));
    }
    line.push_str(&format!(" trace {:06} -> ", e.trace));
    match (e.fate, e.reply, &e.code) {
        (Fate::Answered, Some(reply), Some(code)) => {
            line.push_str(&format!("{reply} {code}"));
            if let Some(flags) = &e.flags {
                let word = if flags.chars().all(|c| c == '1') {
                    "balanced"
                } else {
                    "not balanced"
                };
                line.push_str(&format!(" flags {flags} ({word})"));
            }
        }
        (Fate::BadMac, Some(reply), _) => line.push_str(&format!("{reply} MAC ERROR")),
        (Fate::KeysRejected, Some(reply), _) => line.push_str(&format!("{reply} KEY CHECK FAILED")),
        (fate, _, _) => line.push_str(&fate.as_str().replace('_', " ").to_uppercase()),
    }
    line
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The text of something printed.
pub fn printed_text(printed: &Printed, profile: &Profile) -> String {
    match printed {
        Printed::Receipt(r) => receipt(r, profile),
        Printed::Slip { report, reprint } => slip(report, *reprint, profile),
        Printed::Other(Printout::ReversalFailed { trace, pan, amount }) => {
            let mut p = Paper::new(profile);
            p.rule('=');
            p.center("REVERSAL FAILED");
            p.pair("TRACE", &format!("{trace:06}"));
            p.pair("CARD", pan);
            p.pair("AMOUNT", &p.money(*amount));
            p.center("PLEASE CONTACT THE ACQUIRER");
            p.rule('=');
            p.done()
        }
        Printed::Other(other) => format!("{other:?}\n"),
    }
}

/// A transaction receipt.
pub fn receipt(r: &Receipt, profile: &Profile) -> String {
    let mut p = Paper::new(profile);
    p.header(profile);
    if r.reprint {
        p.center("*** REPRINT ***");
    }
    p.pair(
        &format!("BATCH {:06}", r.batch),
        &format!("TRACE {:06}", r.trace),
    );
    p.pair("INVOICE", &format!("{:06}", r.invoice));
    p.pair("CARD", &r.pan);
    p.pair("ENTRY", TestCard::entry_label(&r.entry_mode));
    p.line(r.kind.label());
    p.pair("DATE", &r.at.display());
    if !r.auth_code.is_empty() {
        p.pair("AUTH CODE", &r.auth_code);
    }
    if !r.rrn.is_empty() {
        p.pair("REF NO.", &r.rrn);
    }
    p.pair("AMOUNT", &p.money(r.amount));
    // A tip adjustment shows the new tip even when it is zero: that is what changed.
    if r.tip > 0 || r.kind == TxnKind::TipAdjust {
        p.pair("TIP", &p.money(r.tip));
        p.pair("TOTAL", &p.money(r.amount + r.tip));
    }
    // A queued offline sale (or tip adjustment) is only on the terminal so far; a queued
    // UnionPay refund has gone to the host as an advice (DESIGN §5, dialect C).
    p.center(match (r.queued, r.kind) {
        (false, _) => "APPROVED",
        (true, TxnKind::OfflineSale) => "ACCEPTED OFFLINE",
        (true, TxnKind::TipAdjust) => "TIP ADJUSTED",
        (true, _) => "ACCEPTED",
    });
    p.rule('=');
    p.done()
}

/// The settlement slip: per card group and type, counts and amounts; the totals the 0500
/// carried; balanced or not; and `BATCH nnnnnn CLOSED`. The lines follow the dialect's totals
/// rules (settle's `Report`): an international voided sale is on the VOID line, and on the
/// SALE line too only when the void policy adds voids to the refunds.
pub fn slip(report: &Report, reprint: bool, profile: &Profile) -> String {
    let mut p = Paper::new(profile);
    p.header(profile);
    p.center("SETTLEMENT");
    if reprint {
        p.center("*** REPRINT ***");
    }
    p.pair("BATCH", &format!("{:06}", report.batch));
    p.pair("DATE", &report.closed_at.display());
    p.rule('-');
    p.pair("TYPE      COUNT", "AMOUNT");
    for (group, lines) in slip_groups(report, profile.dialect) {
        p.line(group);
        for (kind, count, amount) in lines {
            p.count_line(kind.label(), count, amount);
        }
    }
    if report.lines.is_empty() {
        p.center("NO TRANSACTIONS");
    }
    p.rule('-');
    if !report.totals.is_empty() {
        slip_totals(&mut p, report);
        p.rule('-');
    }
    p.center(verdict(report.reconciliation));
    if report.uploaded > 0 {
        p.center(&format!(
            "UPLOADED {} RECORD{}",
            report.uploaded,
            plural(report.uploaded as usize).to_uppercase()
        ));
    }
    p.center(&format!("BATCH {:06} CLOSED", report.batch));
    p.rule('=');
    p.done()
}

type SlipLine = (TxnKind, u32, u64);

/// The totals of the reconciliation: `TOTALS` then sales and refunds (international), or per
/// card group `DOMESTIC TOTALS` / `FOREIGN TOTALS` then debit and credit (UnionPay).
fn slip_totals(p: &mut Paper, report: &Report) {
    let mut group = None;
    for (i, total) in report.totals.iter().enumerate() {
        if i == 0 || total.group != group {
            p.line(match total.group {
                None => "TOTALS",
                Some(CardGroup::Domestic) => "DOMESTIC TOTALS",
                Some(CardGroup::Foreign) => "FOREIGN TOTALS",
            });
            group = total.group;
        }
        p.count_line(total.name.label(), total.count, total.amount);
    }
}

/// The report's lines grouped as the slip prints them: by card group for UnionPay (DESIGN §5,
/// domestic means UnionPay cards), one group for international terminals, whose totals do not
/// split by card.
fn slip_groups(report: &Report, dialect: DialectName) -> Vec<(&'static str, Vec<SlipLine>)> {
    let mut groups: Vec<(&'static str, Vec<SlipLine>)> = Vec::new();
    for line in &report.lines {
        let name = match (dialect, line.group) {
            (DialectName::Intl, _) => "ALL CARDS",
            (DialectName::Cup, CardGroup::Domestic) => "DOMESTIC (UNIONPAY)",
            (DialectName::Cup, CardGroup::Foreign) => "FOREIGN",
        };
        let pos = match groups.iter().position(|(n, _)| *n == name) {
            Some(pos) => pos,
            None => {
                groups.push((name, Vec::new()));
                groups.len() - 1
            }
        };
        let Some((_, lines)) = groups.get_mut(pos) else {
            continue;
        };
        match lines.iter_mut().find(|(k, ..)| *k == line.kind) {
            Some(l) => {
                l.1 += line.count;
                l.2 += line.amount;
            }
            None => lines.push((line.kind, line.count, line.amount)),
        }
    }
    groups
}

/// A roll of paper of the profile's width.
struct Paper {
    width: usize,
    currency: String,
    text: String,
}

impl Paper {
    fn new(profile: &Profile) -> Paper {
        Paper {
            width: usize::from(profile.paper_width),
            currency: profile.currency_label().to_owned(),
            text: String::new(),
        }
    }

    fn header(&mut self, profile: &Profile) {
        self.rule('=');
        self.center(&profile.merchant_name);
        self.pair("MERCHANT", &profile.merchant_id);
        self.pair("TERMINAL", &profile.terminal_id);
        self.rule('-');
    }

    /// `  SALE          2          30.00`: a label, a count and an amount.
    fn count_line(&mut self, label: &str, count: u32, amount: u64) {
        self.pair(&format!("  {label:<10}{count:>5}"), &format_amount(amount));
    }

    fn money(&self, minor: u64) -> String {
        format!("{} {}", self.currency, format_amount(minor))
    }

    fn line(&mut self, text: &str) {
        let cut: String = text.chars().take(self.width).collect();
        self.text.push_str(cut.trim_end());
        self.text.push('\n');
    }

    /// `left` and `right` on one line, or on two when they do not fit.
    fn pair(&mut self, left: &str, right: &str) {
        let used = left.chars().count() + right.chars().count();
        if used < self.width {
            let gap = self.width - used;
            self.line(&format!("{left}{}{right}", " ".repeat(gap)));
        } else {
            self.line(left);
            let pad = self.width.saturating_sub(right.chars().count());
            self.line(&format!("{}{right}", " ".repeat(pad)));
        }
    }

    fn center(&mut self, text: &str) {
        let pad = self.width.saturating_sub(text.chars().count()) / 2;
        self.line(&format!("{}{text}", " ".repeat(pad)));
    }

    fn rule(&mut self, c: char) {
        self.line(&c.to_string().repeat(self.width));
    }

    fn done(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use iso8583_settle::{ReportLine, ReportTotal, Time, TotalName};

    use super::*;

    fn profile() -> Profile {
        Profile::builtin(DialectName::Cup)
    }

    fn report() -> Report {
        Report {
            terminal_id: "20000001".into(),
            batch: 7,
            closed_at: Time::from_civil(2026, 12, 3, 10, 0, 0),
            reconciliation: Reconciliation::Uploaded,
            uploaded: 10,
            lines: vec![
                ReportLine {
                    group: CardGroup::Domestic,
                    kind: TxnKind::Sale,
                    count: 9,
                    amount: 11_250,
                    voided: 1,
                },
                ReportLine {
                    group: CardGroup::Foreign,
                    kind: TxnKind::Sale,
                    count: 1,
                    amount: 1_250,
                    voided: 0,
                },
            ],
            totals: vec![
                ReportTotal {
                    group: Some(CardGroup::Domestic),
                    name: TotalName::Debit,
                    count: 9,
                    amount: 11_250,
                },
                ReportTotal {
                    group: Some(CardGroup::Foreign),
                    name: TotalName::Debit,
                    count: 1,
                    amount: 1_250,
                },
            ],
            traces: (1..=10).collect(),
        }
    }

    #[test]
    fn slip_has_groups_verdict_and_closed_batch_within_the_width() {
        let text = slip(&report(), false, &profile());
        assert!(text.contains("DOMESTIC (UNIONPAY)"), "{text}");
        assert!(text.contains("FOREIGN"));
        assert!(text.contains("112.50"));
        assert!(text.contains("NOT BALANCED"));
        assert!(text.contains("UPLOADED 10 RECORDS"));
        assert!(text.contains("BATCH 000007 CLOSED"));
        assert!(
            text.contains("DOMESTIC TOTALS\n  DEBIT         9         112.50"),
            "{text}"
        );
        assert!(
            text.contains("FOREIGN TOTALS\n  DEBIT         1          12.50"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 32), "{text}");

        let mut intl = report();
        intl.reconciliation = Reconciliation::ReconcileError;
        intl.uploaded = 0;
        let text = slip(&intl, true, &Profile::builtin(DialectName::Intl));
        assert!(text.contains("ALL CARDS"));
        assert!(text.contains("  SALE         10"), "{text}");
        assert!(text.contains("RECONCILE ERROR"));
        assert!(text.contains("REPRINT"));
        assert!(!text.contains("UPLOADED"));
    }

    #[test]
    fn receipt_shows_masked_pan_amounts_and_approval() {
        let r = Receipt {
            kind: TxnKind::Sale,
            trace: 3,
            invoice: 2,
            batch: 1,
            pan: "622588******5675".into(),
            entry_mode: "021".into(),
            amount: 1250,
            tip: 100,
            auth_code: "A1B2C3".into(),
            rrn: "000000000001".into(),
            at: Time::from_civil(2026, 12, 3, 10, 0, 0),
            queued: false,
            reprint: false,
        };
        let mut p = profile();
        p.paper_width = 40;
        let text = receipt(&r, &p);
        for part in [
            "622588******5675",
            "CNY 12.50",
            "CNY 13.50",
            "A1B2C3",
            "APPROVED",
            "TRACE 000003",
            "SWIPE",
        ] {
            assert!(text.contains(part), "{part} in\n{text}");
        }
        assert!(text.lines().all(|l| l.chars().count() <= 40));
    }

    /// A tip adjustment's receipt shows the new tip and total, a zero tip included, and says the
    /// adjustment is queued rather than approved.
    #[test]
    fn tip_adjustment_receipt_shows_the_new_tip() {
        let r = Receipt {
            kind: TxnKind::TipAdjust,
            trace: 1,
            invoice: 1,
            batch: 1,
            pan: "476173******0010".into(),
            entry_mode: "021".into(),
            amount: 1000,
            tip: 0,
            auth_code: "A1B2C3".into(),
            rrn: "000000000001".into(),
            at: Time::from_civil(2026, 12, 3, 10, 0, 0),
            queued: true,
            reprint: false,
        };
        let p = Profile::builtin(DialectName::Intl);
        let text = receipt(&r, &p);
        for part in ["TIP ADJUST", "TIP ", "USD 0.00", "TOTAL", "TIP ADJUSTED"] {
            assert!(text.contains(part), "{part} in\n{text}");
        }
        assert!(!text.contains("APPROVED"), "{text}");
        let line = outcome_text(&Outcome::TipAdviceNotDelivered {
            kind: TxnKind::Void,
            advice_trace: 7,
        });
        assert_eq!(line, "VOID NOT SENT: TIP ADJUST 000007 NOT DELIVERED");
    }

    #[test]
    fn cup_prompts_show_chinese_first() {
        let full = Shown::Local(Notice::Refused(Rejected::StorageFull {
            count: 10,
            capacity: 10,
        }));
        assert_eq!(
            prompt_text(&full, DialectName::Cup),
            "储存满请结算 / STORAGE FULL, PLEASE SETTLE"
        );
        assert_eq!(
            prompt_text(&full, DialectName::Intl),
            "STORAGE FULL, PLEASE SETTLE"
        );
        let soon = Shown::Engine(Prompt::SettleSoon {
            count: 4,
            capacity: 5,
        });
        assert!(prompt_text(&soon, DialectName::Intl).contains("SETTLE SOON"));
    }
}
