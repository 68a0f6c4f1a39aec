//! The report's plots, drawn with plotters into inline SVG.

use std::collections::BTreeMap;

use gnfc_data::Outcome;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::dataset::RunData;
use crate::lockfiles::NodeStats;

type DrawResult = Result<(), Box<dyn std::error::Error>>;

const WIDTH: u32 = 720;

/// Colours for series that are not outcomes (combos).
const PALETTE: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn outcome_colour(o: Outcome) -> RGBColor {
    match o {
        Outcome::Pass => RGBColor(76, 175, 80),
        Outcome::Partial => RGBColor(255, 193, 7),
        Outcome::LockFail => RGBColor(229, 57, 53),
        Outcome::EnumerateFail => RGBColor(255, 112, 67),
        Outcome::Timeout => RGBColor(126, 87, 194),
        Outcome::HarnessError => RGBColor(120, 144, 156),
        Outcome::Skipped => RGBColor(224, 224, 224),
    }
}

fn combo_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draws into an SVG string; a drawing error becomes a note instead of a plot.
fn svg(height: u32, draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(root.clone()))
            .and_then(|()| root.present().map_err(Into::into))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!("<p class=\"note\">plot not drawn: {e}</p>"),
    }
}

/// A square legend mark of `colour`.
fn swatch(colour: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
}

/// Draws the legend box of a chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn label(names: &[String], x: f64) -> String {
    let i = x.floor();
    if (x - i - 0.5).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Outcome shares per combo, as stacked bars (percent).
pub fn outcome_shares(data: &RunData, counts: &[Vec<usize>]) -> String {
    let n = data.combos.len().max(1) as f64;
    svg(360, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Outcome shares per combo", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..n, 0.0..100.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(data.combos.len() * 2 + 1)
            .x_label_formatter(&|x| label(&data.combos, *x))
            .y_desc("% of tests that applied")
            .draw()?;
        // Shares of the tests that applied: skipped tests are in no bar.
        for (oi, outcome) in Outcome::ALL.iter().enumerate() {
            if !outcome.applies() {
                continue;
            }
            let colour = outcome_colour(*outcome);
            let bars = counts.iter().enumerate().map(|(ci, row)| {
                let total = crate::applicable(row).max(1) as f64;
                let below = crate::applicable(&row[..oi.min(row.len())]);
                let y0 = 100.0 * below as f64 / total;
                let y1 = y0 + 100.0 * row.get(oi).copied().unwrap_or(0) as f64 / total;
                let x = ci as f64;
                Rectangle::new([(x + 0.15, y0), (x + 0.85, y1)], colour.filled())
            });
            chart
                .draw_series(bars)?
                .label(outcome.as_str())
                .legend(swatch(colour));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// Failed tests per error class (the most frequent), one bar per combo.
pub fn failures_by_class(data: &RunData, top: usize) -> String {
    let mut per_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for t in &data.tests {
        if let Some(class) = data.str(t.class) {
            let row = per_class
                .entry(class)
                .or_insert_with(|| vec![0; data.combos.len()]);
            if let Some(c) = row.get_mut(t.combo as usize) {
                *c += 1;
            }
        }
    }
    let mut classes: Vec<(&str, Vec<usize>)> = per_class.into_iter().collect();
    classes.sort_by_key(|(_, row)| std::cmp::Reverse(row.iter().sum::<usize>()));
    classes.truncate(top);
    let names: Vec<String> = classes.iter().map(|(c, _)| (*c).to_owned()).collect();
    let max = classes
        .iter()
        .flat_map(|(_, r)| r.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let height = 80 + 26 * classes.len().max(1) as u32;
    let combos = data.combos.len().max(1) as f64;
    svg(height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Failures by error class", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..max * 1.05, 0.0..names.len().max(1) as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(names.len() * 2 + 1)
            .y_label_formatter(&|y| label(&names, *y))
            .x_desc("tests")
            .draw()?;
        for (ci, combo) in data.combos.iter().enumerate() {
            let colour = combo_colour(ci);
            let h = 0.8 / combos;
            let bars = classes.iter().enumerate().map(|(i, (_, row))| {
                let y = i as f64 + 0.1 + h * ci as f64;
                let v = row.get(ci).copied().unwrap_or(0) as f64;
                Rectangle::new([(0.0, y), (v, y + h)], colour.filled())
            });
            chart
                .draw_series(bars)?
                .label(combo.as_str())
                .legend(swatch(colour));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Locks per number of locked inputs, one line per combo.
pub fn inputs_per_lock(stats: &[NodeStats]) -> String {
    let max_nodes = stats
        .iter()
        .filter_map(|s| s.distribution.keys().next_back().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let max_locks = stats
        .iter()
        .flat_map(|s| s.distribution.values().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    svg(320, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Inputs per lock", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..max_nodes as f64 + 0.5, 0.0..max_locks as f64 * 1.1)?;
        chart
            .configure_mesh()
            .x_labels((max_nodes + 2).min(30) as usize)
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .x_desc("locked inputs")
            .y_desc("locks")
            .draw()?;
        let width = 0.8 / stats.len().max(1) as f64;
        for (ci, s) in stats.iter().enumerate() {
            let colour = combo_colour(ci);
            let bars = s.distribution.iter().map(|(n, count)| {
                let x = *n as f64 - 0.4 + width * ci as f64;
                Rectangle::new([(x, 0.0), (x + width, *count as f64)], colour.filled())
            });
            let name = format!("{} (mean {:.2})", s.combo, s.mean);
            chart.draw_series(bars)?.label(name).legend(swatch(colour));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// Power-of-two buckets of milliseconds: bucket k holds [2^k, 2^(k+1)).
fn bucket(ms: i64) -> usize {
    (64 - (ms.max(1) as u64).leading_zeros()) as usize - 1
}

/// Distribution of a stage's time per combo, on power-of-two buckets.
pub fn time_distribution(
    data: &RunData,
    title: &str,
    stage_ms: impl Fn(&crate::dataset::TestResult) -> Option<i64>,
) -> String {
    const BUCKETS: usize = 24; // up to ~4.6 hours
    let mut hist = vec![vec![0usize; BUCKETS]; data.combos.len()];
    for t in &data.tests {
        if let (Some(ms), Some(row)) = (stage_ms(t), hist.get_mut(t.combo as usize)) {
            row[bucket(ms).min(BUCKETS - 1)] += 1;
        }
    }
    let used = hist
        .iter()
        .flat_map(|r| r.iter().rposition(|c| *c > 0))
        .max()
        .unwrap_or(0)
        + 1;
    let max = hist.iter().flatten().copied().max().unwrap_or(1).max(1);
    svg(300, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0usize..used, 0.0..max as f64 * 1.1)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|k| duration_label(1u64 << *k))
            .x_desc("at least")
            .y_desc("tests")
            .draw()?;
        for (ci, combo) in data.combos.iter().enumerate() {
            let colour = combo_colour(ci);
            chart
                .draw_series(LineSeries::new(
                    hist[ci]
                        .iter()
                        .take(used)
                        .enumerate()
                        .map(|(k, c)| (k, *c as f64)),
                    colour.stroke_width(2),
                ))?
                .label(combo.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], colour));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

fn duration_label(ms: u64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms}ms"),
        ms if ms < 120_000 => format!("{}s", ms / 1000),
        ms => format!("{}m", ms / 60_000),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn time_buckets_are_powers_of_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(1023), 9);
        assert_eq!(bucket(1024), 10);
        assert_eq!(duration_label(2048), "2s");
    }
}
