//! Latency summaries. The load generator keeps every request's latency in microseconds and this
//! module sorts them once at the end: exact percentiles, no histogram buckets to tune, and a
//! few megabytes at most for a ten-second row.

use std::time::Duration;

/// What one load run measured inside its measurement window.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests answered with a 2xx status and envelope code 0.
    pub ok: u64,
    /// Transport failures, non-2xx statuses and non-zero codes.
    pub errors: u64,
    /// The measurement window (warm-up excluded).
    pub window: Duration,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// The first failure seen, warm-up included, for the report.
    pub first_error: Option<String>,
}

impl Summary {
    /// Summarises the latencies of the successful requests.
    pub fn new(
        mut latencies_us: Vec<u32>,
        errors: u64,
        window: Duration,
        first_error: Option<String>,
    ) -> Self {
        latencies_us.sort_unstable();
        Summary {
            ok: latencies_us.len() as u64,
            errors,
            window,
            p50_us: percentile(&latencies_us, 0.50),
            p99_us: percentile(&latencies_us, 0.99),
            max_us: latencies_us.last().copied().map_or(0, u64::from),
            first_error,
        }
    }

    /// Successful requests per second over the window.
    pub fn rps(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

/// The nearest-rank percentile `q` (0..=1) of sorted samples; 0 when there are none.
pub fn percentile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    u64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn rate_over_window() {
        let s = Summary::new(vec![3, 1, 2, 4], 1, Duration::from_secs(2), None);
        assert_eq!(s.ok, 4);
        assert_eq!(s.max_us, 4);
        assert!((s.rps() - 2.0).abs() < 1e-9);
    }
}
