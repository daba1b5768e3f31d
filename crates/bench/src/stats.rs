//! Latency statistics as Iggy's benchmark computes them: percentiles by linear interpolation on
//! rank p/100·(n−1), plus average, min, max and standard deviation; the group figure of each is
//! the average of the actors' figures.

use serde::Serialize;

/// The percentiles reported, as in the article's tables.
pub const PERCENTILES: [(&str, f64); 6] =
    [("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9), ("p9999", 99.99)];

/// Summary of one actor's (or a group's) latencies, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub std_dev: f64,
    /// In the order of [`PERCENTILES`].
    pub percentiles: Vec<f64>,
    pub mb_per_s: f64,
    pub msgs_per_s: f64,
}

/// The value at percentile `p` of sorted `v` (linear interpolation between ranks).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

impl Summary {
    /// Summarises latencies (ms) of batches of `batch_bytes` bytes and `batch_messages` messages
    /// that took `wall_secs` in total.
    pub fn of(
        latencies_ms: &[f64],
        batch_bytes: usize,
        batch_messages: usize,
        wall_secs: f64,
    ) -> Self {
        let mut sorted = latencies_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len().max(1) as f64;
        let avg = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n;
        let wall = wall_secs.max(1e-9);
        Self {
            samples: sorted.len(),
            avg,
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            std_dev: var.sqrt(),
            percentiles: PERCENTILES.iter().map(|&(_, p)| percentile(&sorted, p)).collect(),
            mb_per_s: (sorted.len() * batch_bytes) as f64 / 1e6 / wall,
            msgs_per_s: (sorted.len() * batch_messages) as f64 / wall,
        }
    }

    /// The group figure: the average of each actor's figures (throughput is summed).
    pub fn group(actors: &[Summary]) -> Self {
        let n = actors.len().max(1) as f64;
        let mean = |f: &dyn Fn(&Summary) -> f64| actors.iter().map(f).sum::<f64>() / n;
        Self {
            samples: actors.iter().map(|a| a.samples).sum(),
            avg: mean(&|a| a.avg),
            min: mean(&|a| a.min),
            max: mean(&|a| a.max),
            std_dev: mean(&|a| a.std_dev),
            percentiles: (0..PERCENTILES.len())
                .map(|i| mean(&|a| a.percentiles.get(i).copied().unwrap_or(0.0)))
                .collect(),
            mb_per_s: actors.iter().map(|a| a.mb_per_s).sum(),
            msgs_per_s: actors.iter().map(|a| a.msgs_per_s).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 90.0), 4.6);
        assert_eq!(percentile(&v, 100.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0], 1_000_000, 1000, 2.0);
        assert_eq!((s.avg, s.min, s.max), (2.5, 1.0, 4.0));
        assert!((s.mb_per_s - 2.0).abs() < 1e-9 && (s.msgs_per_s - 2000.0).abs() < 1e-9);
        let g = Summary::group(&[s.clone(), Summary::of(&[3.0], 1, 1, 1.0)]);
        assert_eq!(g.avg, 2.75);
    }
}
