//! Usage charts as inline SVG, drawn on the server: bars of uses with refusals stacked on top.

use domain::usage::{Granularity, UsageSeries};
use maud::{Markup, html};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
const BOTTOM: f64 = 2.0;

/// A bar chart of `series`, one bar per bucket, titled for screen readers by `label`.
pub(crate) fn bars(series: &UsageSeries, label: &str) -> Markup {
    let peak = series.buckets.iter().map(|b| b.uses + b.refusals).max().unwrap_or(0).max(1);
    let n = series.buckets.len().max(1) as f64;
    let slot = WIDTH / n;
    let bar = (slot * 0.8).max(1.0);
    let plot = HEIGHT - BOTTOM;
    let scale = |v: u64| v as f64 / peak as f64 * (plot - 8.0);
    let format = match series.window.granularity() {
        Granularity::Hour => "%d %b %H:00",
        Granularity::Day => "%a %d %b",
    };
    let first = series.buckets.first().map(|b| b.start.format(format).to_string()).unwrap_or_default();
    let last = series.buckets.last().map(|b| b.start.format(format).to_string()).unwrap_or_default();
    let per = match series.window.granularity() {
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    };
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(label) {
                title { (label) }
                line x1="0" y1=(plot) x2=(WIDTH) y2=(plot) stroke="#c9d0db" stroke-width="1" {}
                @for (i, b) in series.buckets.iter().enumerate() {
                    @let x = i as f64 * slot + (slot - bar) / 2.0;
                    @let uses = scale(b.uses);
                    @let refusals = scale(b.refusals);
                    g {
                        title { (b.start.format(format)) ": " (b.uses) " uses, " (b.refusals) " refusals" }
                        rect x=(fmt(x)) y=(fmt(plot - uses)) width=(fmt(bar)) height=(fmt(uses)) fill="#2f5bd3" {}
                        @if b.refusals > 0 {
                            rect x=(fmt(x)) y=(fmt(plot - uses - refusals)) width=(fmt(bar)) height=(fmt(refusals)) fill="#d9534f" {}
                        }
                    }
                }
            }
            div.axis { span { (first) } span { "busiest " (per) ": " (peak) } span { (last) } }
            figcaption.legend {
                span { span.swatch.uses {} (count(series.uses(), "use", "uses")) }
                span { span.swatch.refusals {} (count(series.refusals(), "refusal", "refusals")) }
            }
        }
    }
}

/// `n` and the noun that goes with it.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use domain::usage::{HourlyUse, UsageWindow};

    #[test]
    fn a_chart_has_one_bar_per_bucket_and_stacks_refusals() {
        let start = chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("a time");
        let window = UsageWindow::new(start, start + chrono::Duration::days(7), Granularity::Day).expect("valid");
        let key = domain::id::ApiKeyId::generate(start, &domain::SeededEntropy::new(1));
        let hourly = [HourlyUse { key, hour: start + chrono::Duration::hours(30), uses: 9, refusals: 3 }];
        let svg = bars(&window.series(&hourly), "uses").into_string();
        assert_eq!(svg.matches("fill=\"#2f5bd3\"").count(), 7, "one bar per day");
        assert_eq!(svg.matches("fill=\"#d9534f\"").count(), 1, "refusals only where there are some");
        assert!(svg.contains("Mon 02 Nov: 9 uses, 3 refusals"));
    }
}
