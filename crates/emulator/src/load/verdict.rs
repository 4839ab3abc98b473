//! Whether a load run passed, and if not, why, in words an operator can act on.
//!
//! The check of [`LoadReport::holds`] is about the sales that were approved: each settled once
//! or reversed. On its own it passes a run in which the host approved nothing (new-user finding
//! 3: a host that knew one of eight terminal ids declined the others' sales 03 and the run still
//! exited 0). So a run passes only when every terminal reached the host, at least one sale was
//! approved, no sale was declined (unless declines were expected, `--allow-declines`), and the
//! check holds. Each declined response code gets a line on its most likely cause.

use super::report::LoadReport;

impl LoadReport {
    /// True when the run passed: every terminal reached the host and [`LoadReport::failures`]
    /// is empty.
    pub fn passed(&self) -> bool {
        self.unreachable.0 == 0 && self.failures().is_empty()
    }

    /// `posemu load`'s exit code: 3 when a terminal could not reach the host, 0 when the run
    /// passed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match (self.unreachable.0 > 0, self.passed()) {
            (true, _) => 3,
            (false, true) => 0,
            (false, false) => 1,
        }
    }

    /// Why the run fails, one sentence each, besides terminals that could not reach the host
    /// (which [`LoadReport::lines`] reports on their own); empty when nothing does.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.reached() == 0 {
            return failures;
        }
        if self.approved == 0 {
            failures.push("no sale was approved".to_owned());
        }
        let declined = self.declined_sales();
        if declined > 0 && !self.allow_declines {
            failures.push(format!(
                "{declined} sale(s) declined ({}); --allow-declines if declines are expected",
                self.declined_text()
            ));
        }
        if !self.holds() {
            let host = self.ledger.as_ref().map_or(0, |l| l.problem_count);
            failures.push(format!(
                "the check fails: {} problem(s) in the terminals' accounts, {host} in the \
                 host's books",
                self.problem_count
            ));
        }
        failures
    }

    /// Sales declined, all codes.
    pub fn declined_sales(&self) -> u64 {
        self.declined.values().sum()
    }

    /// One line per response code the host declined with (sales, and sign-ons that failed so),
    /// on what it most likely means for a load run.
    pub fn decline_hints(&self) -> Vec<String> {
        let codes: std::collections::BTreeSet<&str> = self
            .errors
            .keys()
            .filter_map(|k| {
                k.strip_prefix("declined ")
                    .or_else(|| k.strip_prefix("sign-on failed "))
            })
            .filter(|code| *code != "none")
            .collect();
        codes.into_iter().map(|code| self.hint(code)).collect()
    }

    /// The `result: ...` line.
    pub(super) fn result_line(&self) -> String {
        if let (n @ 1.., _) = self.unreachable {
            let mut line = format!(
                "result: FAILED (exit 3): {n} of {} terminal(s) could not reach the host {}",
                self.terminals, self.host
            );
            for failure in self.failures() {
                line.push_str("; ");
                line.push_str(&failure);
            }
            return line;
        }
        let failures = self.failures();
        if !failures.is_empty() {
            return format!("result: FAILED (exit 1): {}", failures.join("; "));
        }
        match self.declined_sales() {
            0 => "result: passed".to_owned(),
            n => format!("result: passed ({n} declined sale(s) allowed by --allow-declines)"),
        }
    }

    fn declined_text(&self) -> String {
        let parts: Vec<String> = self
            .declined
            .iter()
            .map(|(code, n)| format!("{code} x {n}"))
            .collect();
        parts.join(", ")
    }

    fn hint(&self, code: &str) -> String {
        match code {
            "03" | "97" => format!("{code}: unknown terminal: {}", self.ids_hint()),
            "94" => "94: duplicate trace: the host saw these trace numbers in these terminals' \
                     open batches (every load run starts at trace 000001, and an earlier one left \
                     sales unsettled there): use a fresh host, or --tid-base ids it has not used"
                .to_owned(),
            "A0" => "A0: MAC error or not signed on: the host's terminal entries must use the \
                     profile's MAC and keys"
                .to_owned(),
            "13" => "13: invalid amount: outside the host's amount limits (load sells 1.00 to \
                     100.99)"
                .to_owned(),
            other => format!("{other}: declined by the host's authorisation or fault rules"),
        }
    }

    /// Which terminal ids the host must know: the load's, from `--tid-base` counting up.
    fn ids_hint(&self) -> String {
        let first = self.per_terminal.first().map(|t| t.terminal.as_str());
        let last = self.per_terminal.last().map(|t| t.terminal.as_str());
        let n = self.terminals;
        // `testhost --terminals N` expands its built-in terminals, 00000001 and 20000001.
        let testhost = match first {
            Some(id) if id.ends_with("0000001") => format!(", e.g. `testhost --terminals {n}`"),
            _ => String::new(),
        };
        match (first, last) {
            (Some(first), Some(last)) if n > 1 => format!(
                "the host must know ids {first} to {last} (--tid-base and the {} after it){testhost}",
                n - 1
            ),
            (Some(first), _) => format!("the host must know terminal id {first} (--tid-base)"),
            _ => "the host must know the load's terminal ids".to_owned(),
        }
    }
}
