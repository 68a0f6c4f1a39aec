//! A run loaded for reporting: every test and output, compactly (repeated strings interned,
//! one flat vector each), so a million-test run fits in a few hundred megabytes.

use std::collections::HashMap;
use std::ops::Range;

use gnfc_data::{Db, Outcome, OutputStatus, RunRow};

use crate::combo_name;
use crate::compare::Side;
use crate::ReportError;

/// An interned string: an index into [`Strings`].
pub type Sym = u32;

/// Distinct strings of a run (classes, categories, attribute paths, lock hashes).
#[derive(Debug, Default)]
pub struct Strings {
    all: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym>,
}

impl Strings {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(sym) = self.index.get(s) {
            return *sym;
        }
        let sym = Sym::try_from(self.all.len()).unwrap_or(Sym::MAX);
        self.all.push(s.into());
        self.index.insert(s.into(), sym);
        sym
    }

    pub fn get(&self, sym: Sym) -> &str {
        self.all.get(sym as usize).map_or("", |s| s)
    }

    pub fn find(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }
}

/// One test of the run.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub id: i64,
    pub flake_id: i64,
    /// Index into [`RunData::flakes`].
    pub flake: u32,
    /// Index into [`RunData::combos`].
    pub combo: u16,
    pub outcome: Option<Outcome>,
    pub class: Option<Sym>,
    pub category: Option<Sym>,
    pub detail: Option<Box<str>>,
    pub exit_code: Option<i64>,
    pub lock_ms: Option<i64>,
    pub enumerate_ms: Option<i64>,
    pub eval_ms: Option<i64>,
    pub total_ms: Option<i64>,
    pub lockfile: Option<Sym>,
    pub attempt: i64,
    pub flaky: bool,
    /// The first attempt's outcome and class when the test is flaky.
    pub flaky_first: Option<Outcome>,
    pub flaky_first_class: Option<Sym>,
    /// Its outputs, in [`RunData::outputs`].
    pub outputs: Range<u32>,
}

/// One evaluated output.
#[derive(Debug, Clone)]
pub struct OutputResult {
    pub attr: Sym,
    pub status: OutputStatus,
    pub drv_path: Option<Box<str>>,
    pub eval_ms: i64,
    pub class: Option<Sym>,
    pub category: Option<Sym>,
    pub detail: Option<Box<str>>,
}

/// Everything a report shows of one run.
#[derive(Debug)]
pub struct RunData {
    pub run: RunRow,
    /// Flake labels (`owner/name[/subdir]`), in first-seen (plan) order.
    pub flakes: Vec<String>,
    /// `implementation/resolver`, sorted.
    pub combos: Vec<String>,
    pub tests: Vec<TestResult>,
    pub outputs: Vec<OutputResult>,
    pub strings: Strings,
    /// `flakes.len() × combos.len()`: the test of each (flake, combo), `u32::MAX` if none.
    cells: Vec<u32>,
    flake_index: HashMap<String, u32>,
}

const NO_TEST: u32 = u32::MAX;

impl RunData {
    /// Loads a run, streaming its rows.
    pub async fn load(db: &Db, run: RunRow) -> Result<RunData, ReportError> {
        let mut strings = Strings::default();
        let mut flakes = Vec::new();
        let mut flake_index: HashMap<String, u32> = HashMap::new();
        let mut combo_syms: Vec<String> = Vec::new();
        let mut combo_index: HashMap<String, u16> = HashMap::new();
        let mut tests = Vec::with_capacity(usize::try_from(run.planned).unwrap_or(0));
        let mut by_id: HashMap<i64, u32> = HashMap::new();
        db.scan_tests(run.id, |t| {
            let flake = match flake_index.get(&t.flake) {
                Some(i) => *i,
                None => {
                    let i = u32::try_from(flakes.len()).unwrap_or(u32::MAX);
                    flake_index.insert(t.flake.clone(), i);
                    flakes.push(t.flake);
                    i
                }
            };
            let name = combo_name(&t.implementation, &t.resolver);
            let combo = *combo_index.entry(name.clone()).or_insert_with(|| {
                combo_syms.push(name);
                u16::try_from(combo_syms.len() - 1).unwrap_or(u16::MAX)
            });
            by_id.insert(t.id, u32::try_from(tests.len()).unwrap_or(u32::MAX));
            tests.push(TestResult {
                id: t.id,
                flake_id: t.flake_id,
                flake,
                combo,
                outcome: t.outcome,
                class: t.class.as_deref().map(|s| strings.intern(s)),
                category: t.category.as_deref().map(|s| strings.intern(s)),
                detail: t.detail.map(String::into_boxed_str),
                exit_code: t.exit_code,
                lock_ms: t.lock_ms,
                enumerate_ms: t.enumerate_ms,
                eval_ms: t.eval_ms,
                total_ms: t.total_ms,
                lockfile: t.lockfile_hash.as_deref().map(|s| strings.intern(s)),
                attempt: t.attempt,
                flaky: t.flaky,
                flaky_first: t.flaky_first_outcome,
                flaky_first_class: t.flaky_first_class.as_deref().map(|s| strings.intern(s)),
                outputs: 0..0,
            });
        })
        .await?;
        let mut outputs: Vec<OutputResult> = Vec::new();
        db.scan_outputs(run.id, |o| {
            let Some(&ti) = by_id.get(&o.test_id) else {
                return;
            };
            let at = u32::try_from(outputs.len()).unwrap_or(u32::MAX);
            if let Some(test) = tests.get_mut(ti as usize) {
                // Outputs come ordered by test, so each test's are contiguous.
                if test.outputs.is_empty() {
                    test.outputs = at..at;
                }
                test.outputs.end = at + 1;
            }
            outputs.push(OutputResult {
                attr: strings.intern(&o.attr_path),
                status: o.status,
                drv_path: o.drv_path.map(String::into_boxed_str),
                eval_ms: o.eval_ms,
                class: o.class.as_deref().map(|s| strings.intern(s)),
                category: o.category.as_deref().map(|s| strings.intern(s)),
                detail: o.detail.map(String::into_boxed_str),
            });
        })
        .await?;
        drop(by_id);

        // Combos sorted by name, so every report lists them in the same order.
        let mut order: Vec<u16> = (0..u16::try_from(combo_syms.len()).unwrap_or(0)).collect();
        order.sort_by(|a, b| combo_syms[*a as usize].cmp(&combo_syms[*b as usize]));
        let mut rank = vec![0u16; order.len()];
        for (new, old) in order.iter().enumerate() {
            rank[*old as usize] = u16::try_from(new).unwrap_or(u16::MAX);
        }
        let combos: Vec<String> = order
            .iter()
            .map(|i| combo_syms[*i as usize].clone())
            .collect();
        for t in &mut tests {
            t.combo = rank[t.combo as usize];
        }
        let mut cells = vec![NO_TEST; flakes.len() * combos.len()];
        for (i, t) in tests.iter().enumerate() {
            let cell = t.flake as usize * combos.len() + t.combo as usize;
            cells[cell] = u32::try_from(i).unwrap_or(NO_TEST);
        }
        Ok(RunData {
            run,
            flakes,
            combos,
            tests,
            outputs,
            strings,
            cells,
            flake_index,
        })
    }

    /// The test of a flake with a combo.
    pub fn test(&self, flake: u32, combo: u16) -> Option<&TestResult> {
        let cell = flake as usize * self.combos.len() + combo as usize;
        match self.cells.get(cell) {
            Some(&i) if i != NO_TEST => self.tests.get(i as usize),
            _ => None,
        }
    }

    pub fn flake_named(&self, label: &str) -> Option<u32> {
        self.flake_index.get(label).copied()
    }

    pub fn combo_named(&self, name: &str) -> Option<u16> {
        self.combos
            .iter()
            .position(|c| c == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// A combo's implementation and resolver.
    pub fn implementation_resolver(&self, combo: u16) -> (&str, &str) {
        self.combos
            .get(combo as usize)
            .and_then(|c| c.rsplit_once('/'))
            .unwrap_or(("", ""))
    }

    pub fn outputs_of(&self, test: &TestResult) -> &[OutputResult] {
        self.outputs
            .get(test.outputs.start as usize..test.outputs.end as usize)
            .unwrap_or(&[])
    }

    pub fn str(&self, sym: Option<Sym>) -> Option<&str> {
        sym.map(|s| self.strings.get(s))
    }

    /// A recorded test as the comparison model sees it (`None` while pending).
    pub fn side(&self, test: &TestResult) -> Option<Side<'_>> {
        test.outcome.map(|outcome| {
            Side::of_test(
                outcome,
                self.str(test.class),
                self.str(test.category),
                test.flaky,
            )
        })
    }

    pub fn output_side(&self, output: &OutputResult) -> Side<'_> {
        Side::of_output(
            output.status,
            self.str(output.class),
            self.str(output.category),
        )
    }

    /// `outcome (class)` of a test, `pending` if not recorded.
    pub fn verdict(&self, test: &TestResult) -> String {
        gnfc_data::verdict(test.outcome, self.str(test.class))
    }

    /// The first attempt's `outcome (class)` of a flaky test.
    pub fn first_verdict(&self, test: &TestResult) -> Option<String> {
        test.flaky_first
            .map(|o| gnfc_data::verdict(Some(o), self.str(test.flaky_first_class)))
    }
}
