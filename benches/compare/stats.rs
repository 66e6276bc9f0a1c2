//! Order statistics over a handful of samples: median, p95, p99 by the
//! nearest-rank method (no interpolation, so every reported value was seen).

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank percentile `p` (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarize(samples: &[Duration]) -> Summary {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    Summary {
        samples: ms.len(),
        min_ms: ms[0],
        p50_ms: percentile(&ms, 50.0),
        p95_ms: percentile(&ms, 95.0),
        p99_ms: percentile(&ms, 99.0),
        max_ms: ms[ms.len() - 1],
    }
}

/// "12.3 ms" / "4.56 s": milliseconds below ten seconds read best.
pub fn format_ms(ms: f64) -> String {
    if ms < 10_000.0 { format!("{ms:.1} ms") } else { format!("{:.2} s", ms / 1000.0) }
}

/// kspy / peer, printed as "0.05×" (two significant digits, so a small
/// ratio reads "0.0039×", not "0.00×"); "—" when the peer has no value.
pub fn ratio(kspy: f64, peer: Option<f64>) -> String {
    match peer {
        Some(peer) if peer > 0.0 => {
            let r = kspy / peer;
            let decimals = if r >= 1.0 { 2 } else { (1 - r.log10().floor() as i32).clamp(2, 6) as usize };
            format!("{r:.decimals$}×")
        }
        _ => "—".to_owned(),
    }
}
