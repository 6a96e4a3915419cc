//! The figures rollups hold, and how they merge.
//!
//! Durations are summarised by a DDSketch with 1 % relative accuracy: a percentile it reports is
//! within 1 % of the value at that rank among the real durations. Sketches merge without loss
//! of that guarantee, so the percentiles of any window are those of the merged sketches of its
//! hours (or days). Counts, sums, minimum and maximum are exact.

use std::collections::BTreeSet;

use entity::status::{InvocationStatus, JobExecutionStatus};
use entity::{job_metrics_daily, job_metrics_hourly, metrics_daily, metrics_hourly};
use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of the duration percentiles.
pub const RELATIVE_ACCURACY: f64 = 0.01;

fn sketch() -> DDSketch {
    DDSketch::new(Config::new(RELATIVE_ACCURACY, 2048, 1.0e-9))
}

/// A set of durations in milliseconds: exact count, sum, minimum and maximum, and a sketch for
/// percentiles.
#[derive(Clone, Default)]
pub struct Durations {
    sketch: Option<DDSketch>,
    pub count: i64,
    pub sum: f64,
    pub min: Option<i32>,
    pub max: Option<i32>,
}

impl std::fmt::Debug for Durations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durations")
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("p50", &self.quantile(0.5))
            .finish()
    }
}

impl PartialEq for Durations {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count
            && self.sum == other.sum
            && self.min == other.min
            && self.max == other.max
            && self.encode() == other.encode()
    }
}

impl Durations {
    pub fn add(&mut self, ms: i32) {
        self.sketch.get_or_insert_with(sketch).add(f64::from(ms));
        self.count += 1;
        self.sum += f64::from(ms);
        self.min = Some(self.min.map_or(ms, |m| m.min(ms)));
        self.max = Some(self.max.map_or(ms, |m| m.max(ms)));
    }

    pub fn merge(&mut self, other: &Durations) {
        if let Some(theirs) = &other.sketch {
            match &mut self.sketch {
                // Both sketches use the same configuration, which is all `merge` requires.
                Some(ours) => {
                    let _ = ours.merge(theirs);
                }
                None => self.sketch = Some(theirs.clone()),
            }
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The `q` quantile (0 to 1): the value at rank `q × (count − 1)`, within 1 %.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let value = self.sketch.as_ref()?.quantile(q).ok()??;
        // The sketch answers within its accuracy; never outside what was seen.
        Some(value.clamp(f64::from(self.min?), f64::from(self.max?)))
    }

    pub fn encode(&self) -> Option<Vec<u8>> {
        self.sketch.as_ref().map(DDSketch::to_java_bytes)
    }

    pub fn decode(bytes: Option<&[u8]>, count: i32, sum: f64, min: Option<i32>, max: Option<i32>) -> Self {
        let sketch = bytes.and_then(|b| match DDSketch::from_java_bytes(b) {
            Ok(sketch) => Some(sketch),
            Err(err) => {
                tracing::warn!(error = ?err, "ignoring an unreadable duration sketch");
                None
            }
        });
        Durations { sketch, count: i64::from(count), sum, min, max }
    }
}

/// Figures of a set of invocations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InvocationFigures {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    pub running: i64,
    pub events_detected: i64,
    pub jobs_run: i64,
    pub jobs_succeeded: i64,
    pub jobs_failed: i64,
    pub durations: Durations,
}

/// The columns of an invocation row that rollups summarise.
#[derive(Clone, Debug)]
pub struct InvocationSample {
    pub status: InvocationStatus,
    pub duration_ms: Option<i32>,
    pub events_detected: i32,
    pub jobs_run: i32,
    pub jobs_succeeded: i32,
    pub jobs_failed: i32,
}

impl InvocationFigures {
    pub fn add(&mut self, s: &InvocationSample) {
        self.total += 1;
        match s.status {
            InvocationStatus::Completed => self.completed += 1,
            InvocationStatus::Failed => self.failed += 1,
            InvocationStatus::Running => self.running += 1,
        }
        if let Some(ms) = s.duration_ms {
            self.durations.add(ms);
        }
        self.events_detected += i64::from(s.events_detected);
        self.jobs_run += i64::from(s.jobs_run);
        self.jobs_succeeded += i64::from(s.jobs_succeeded);
        self.jobs_failed += i64::from(s.jobs_failed);
    }

    pub fn merge(&mut self, o: &InvocationFigures) {
        self.total += o.total;
        self.completed += o.completed;
        self.failed += o.failed;
        self.running += o.running;
        self.events_detected += o.events_detected;
        self.jobs_run += o.jobs_run;
        self.jobs_succeeded += o.jobs_succeeded;
        self.jobs_failed += o.jobs_failed;
        self.durations.merge(&o.durations);
    }

    /// Share of finished invocations that completed, 0 to 1.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.completed + self.failed;
        (finished > 0).then(|| self.completed as f64 / finished as f64)
    }

    /// Share of finished invocations that failed, 0 to 1.
    pub fn failure_rate(&self) -> Option<f64> {
        self.success_rate().map(|s| 1.0 - s)
    }
}

/// Figures of a set of job executions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFigures {
    pub runs: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub running: i64,
    pub durations: Durations,
    pub source_functions: BTreeSet<String>,
}

impl JobFigures {
    pub fn add(&mut self, status: JobExecutionStatus, duration_ms: Option<i32>) {
        self.runs += 1;
        match status {
            JobExecutionStatus::Completed => self.succeeded += 1,
            JobExecutionStatus::Failed => self.failed += 1,
            JobExecutionStatus::Running => self.running += 1,
        }
        if let Some(ms) = duration_ms {
            self.durations.add(ms);
        }
    }

    pub fn merge(&mut self, o: &JobFigures) {
        self.runs += o.runs;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.running += o.running;
        self.durations.merge(&o.durations);
        self.source_functions.extend(o.source_functions.iter().cloned());
    }

    /// Share of finished runs that failed, 0 to 1.
    pub fn failure_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.failed as f64 / finished as f64)
    }
}

/// Rollup rows of invocation figures (`metrics_hourly`, `metrics_daily`).
pub trait InvocationRow {
    fn figures(&self) -> InvocationFigures;
}

/// Rollup rows of job figures (`job_metrics_hourly`, `job_metrics_daily`).
pub trait JobRow {
    fn figures(&self) -> JobFigures;
}

macro_rules! invocation_row {
    ($($module:ident),*) => {$(
        impl InvocationRow for $module::Model {
            fn figures(&self) -> InvocationFigures {
                InvocationFigures {
                    total: i64::from(self.total_invocations),
                    completed: i64::from(self.completed_count),
                    failed: i64::from(self.failed_count),
                    running: i64::from(self.running_count),
                    events_detected: i64::from(self.events_detected),
                    jobs_run: i64::from(self.jobs_run),
                    jobs_succeeded: i64::from(self.jobs_succeeded),
                    jobs_failed: i64::from(self.jobs_failed),
                    durations: Durations::decode(
                        self.duration_sketch.as_deref(),
                        self.duration_count,
                        self.duration_sum_ms,
                        self.min_duration_ms,
                        self.max_duration_ms,
                    ),
                }
            }
        }
    )*};
}

invocation_row!(metrics_hourly, metrics_daily);

macro_rules! job_row {
    ($($module:ident),*) => {$(
        impl JobRow for $module::Model {
            fn figures(&self) -> JobFigures {
                JobFigures {
                    runs: i64::from(self.runs),
                    succeeded: i64::from(self.succeeded),
                    failed: i64::from(self.failed),
                    running: i64::from(self.running),
                    durations: Durations::decode(
                        self.duration_sketch.as_deref(),
                        self.duration_count,
                        self.duration_sum_ms,
                        self.min_duration_ms,
                        self.max_duration_ms,
                    ),
                    source_functions: serde_json::from_value(self.source_functions.clone()).unwrap_or_default(),
                }
            }
        }
    )*};
}

job_row!(job_metrics_hourly, job_metrics_daily);

/// Saturates figures to a GraphQL `Int`.
pub fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The value at rank `q × (n − 1)`, as DDSketch defines a quantile.
    fn exact(sorted: &[i32], q: f64) -> f64 {
        f64::from(sorted[(q * (sorted.len() as f64 - 1.0)) as usize])
    }

    #[test]
    fn percentiles_are_within_one_percent_of_exact_ones_also_after_merging() {
        let mut rng = StdRng::seed_from_u64(5);
        for spread in [1.0, 3.0, 8.0] {
            // Long-tailed durations, in pieces merged like hourly rollups.
            let mut pieces: Vec<Durations> = (0..24).map(|_| Durations::default()).collect();
            let mut all = Vec::new();
            for i in 0..20_000 {
                let ms = (20.0 * (rng.random::<f64>() * spread).exp()).max(1.0) as i32;
                pieces[i % 24].add(ms);
                all.push(ms);
            }
            let mut merged = Durations::default();
            for piece in &pieces {
                let decoded =
                    Durations::decode(piece.encode().as_deref(), piece.count as i32, piece.sum, piece.min, piece.max);
                merged.merge(&decoded);
            }
            all.sort_unstable();
            for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
                let (estimate, truth) = (merged.quantile(q).unwrap(), exact(&all, q));
                assert!(
                    (estimate - truth).abs() <= RELATIVE_ACCURACY * truth + 1e-9,
                    "q {q}: estimate {estimate}, exact {truth}"
                );
            }
            assert_eq!(merged.count, all.len() as i64);
            assert_eq!(merged.min, all.first().copied());
            assert_eq!(merged.max, all.last().copied());
        }
    }
}
