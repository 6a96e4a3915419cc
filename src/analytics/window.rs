//! Figures over a time window, from the rollups where they are complete and from raw rows
//! where they are not.
//!
//! The rollups are complete for the hours before the hour of the last rollup run (the
//! horizon). A window `[from, to)` is cut into: whole days before the horizon (daily rollups),
//! whole hours before the horizon (hourly rollups), and the rest — partial hours at the edges,
//! and everything from the horizon on, including the current hour — from raw rows. So figures
//! are never older than the data, and a 30-day window reads a few hundred rollup rows.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use entity::{job_metrics_daily, job_metrics_hourly, metrics_daily, metrics_hourly};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::figures::{InvocationFigures, InvocationRow, JobFigures, JobRow};
use super::rollup::{self, day_of, hour_of, invocation_samples, job_samples, job_sources};

/// How figures are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    Day,
    /// The whole window as one bucket (keyed by its start).
    Whole,
}

impl Bucket {
    /// The start of the bucket holding `t`, in a window starting at `from`.
    pub fn start(self, t: DateTime<Utc>, from: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Bucket::Hour => hour_of(t),
            Bucket::Day => day_of(t),
            Bucket::Whole => from,
        }
    }
}

/// A piece of a window and where its figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Days(DateTime<Utc>, DateTime<Utc>),
    Hours(DateTime<Utc>, DateTime<Utc>),
    Raw(DateTime<Utc>, DateTime<Utc>),
}

fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let h = hour_of(t);
    if h == t { h } else { h + TimeDelta::hours(1) }
}

fn ceil_day(t: DateTime<Utc>) -> DateTime<Utc> {
    let d = day_of(t);
    if d == t { d } else { d + TimeDelta::days(1) }
}

/// Cuts `[from, to)` into pieces (see the module documentation). Days are used only when the
/// result is not wanted per hour.
fn pieces(from: DateTime<Utc>, to: DateTime<Utc>, horizon: Option<DateTime<Utc>>, bucket: Bucket) -> Vec<Piece> {
    let mut out = Vec::new();
    let rolled_from = ceil_hour(from);
    let rolled_to = horizon.map_or(rolled_from, |h| hour_of(h).min(hour_of(to)));
    if rolled_from >= rolled_to {
        out.push(Piece::Raw(from, to));
        return out;
    }
    if from < rolled_from {
        out.push(Piece::Raw(from, rolled_from));
    }
    let (days_from, days_to) = (ceil_day(rolled_from), day_of(rolled_to));
    if bucket != Bucket::Hour && days_from < days_to {
        if rolled_from < days_from {
            out.push(Piece::Hours(rolled_from, days_from));
        }
        out.push(Piece::Days(days_from, days_to));
        if days_to < rolled_to {
            out.push(Piece::Hours(days_to, rolled_to));
        }
    } else {
        out.push(Piece::Hours(rolled_from, rolled_to));
    }
    if rolled_to < to {
        out.push(Piece::Raw(rolled_to, to));
    }
    out
}

/// The rollup horizon: hours before it are complete in the rollups.
pub async fn horizon(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(rollup::state(db).await?.and_then(|s| s.watermark).map(hour_of))
}

/// Invocation figures per (bucket start, source function) over `[from, to)`.
pub async fn invocation_figures(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    source_function: Option<&str>,
) -> Result<BTreeMap<(DateTime<Utc>, String), InvocationFigures>, DbErr> {
    let mut out: BTreeMap<(DateTime<Utc>, String), InvocationFigures> = BTreeMap::new();
    let mut add = |t: DateTime<Utc>, key: String, f: &InvocationFigures| {
        out.entry((bucket.start(t, from), key)).or_default().merge(f);
    };
    for piece in pieces(from, to, horizon(db).await?, bucket) {
        match piece {
            Piece::Days(a, b) => {
                let mut q = metrics_daily::Entity::find()
                    .filter(metrics_daily::Column::DayBucket.gte(a))
                    .filter(metrics_daily::Column::DayBucket.lt(b));
                if let Some(f) = source_function {
                    q = q.filter(metrics_daily::Column::SourceFunction.eq(f));
                }
                for row in q.all(db).await? {
                    add(row.day_bucket, row.source_function.clone(), &row.figures());
                }
            }
            Piece::Hours(a, b) => {
                let mut q = metrics_hourly::Entity::find()
                    .filter(metrics_hourly::Column::HourBucket.gte(a))
                    .filter(metrics_hourly::Column::HourBucket.lt(b));
                if let Some(f) = source_function {
                    q = q.filter(metrics_hourly::Column::SourceFunction.eq(f));
                }
                for row in q.all(db).await? {
                    add(row.hour_bucket, row.source_function.clone(), &row.figures());
                }
            }
            Piece::Raw(a, b) => {
                for (key, created_at, sample) in invocation_samples(db, a, b, source_function).await? {
                    let mut f = InvocationFigures::default();
                    f.add(&sample);
                    add(created_at, key, &f);
                }
            }
        }
    }
    Ok(out)
}

/// Job figures per (bucket start, job name) over `[from, to)`.
pub async fn job_figures(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    job_name: Option<&str>,
) -> Result<BTreeMap<(DateTime<Utc>, String), JobFigures>, DbErr> {
    let mut out: BTreeMap<(DateTime<Utc>, String), JobFigures> = BTreeMap::new();
    for piece in pieces(from, to, horizon(db).await?, bucket) {
        match piece {
            Piece::Days(a, b) => {
                let mut q = job_metrics_daily::Entity::find()
                    .filter(job_metrics_daily::Column::DayBucket.gte(a))
                    .filter(job_metrics_daily::Column::DayBucket.lt(b));
                if let Some(name) = job_name {
                    q = q.filter(job_metrics_daily::Column::JobName.eq(name));
                }
                for row in q.all(db).await? {
                    out.entry((bucket.start(row.day_bucket, from), row.job_name.clone()))
                        .or_default()
                        .merge(&row.figures());
                }
            }
            Piece::Hours(a, b) => {
                let mut q = job_metrics_hourly::Entity::find()
                    .filter(job_metrics_hourly::Column::HourBucket.gte(a))
                    .filter(job_metrics_hourly::Column::HourBucket.lt(b));
                if let Some(name) = job_name {
                    q = q.filter(job_metrics_hourly::Column::JobName.eq(name));
                }
                for row in q.all(db).await? {
                    out.entry((bucket.start(row.hour_bucket, from), row.job_name.clone()))
                        .or_default()
                        .merge(&row.figures());
                }
            }
            Piece::Raw(a, b) => {
                for (key, created_at, status, duration) in job_samples(db, a, b, job_name).await? {
                    out.entry((bucket.start(created_at, from), key)).or_default().add(status, duration);
                }
                // Source functions per job and hour; an hour straddling the piece's edge may
                // name a function whose job there fell outside it, which is harmless for a list
                // of functions involved.
                for (hour, key, source_function) in job_sources(db, a, b).await? {
                    if let Some(f) = out.get_mut(&(bucket.start(hour.max(a), from), key)) {
                        f.source_functions.insert(source_function);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
    }

    #[test]
    fn windows_are_cut_at_hours_days_and_the_horizon() {
        // Rolled up until 3 March 10:00; the window runs from 1 March 22:30 to 3 March 10:45.
        let p = pieces(t(1, 22, 30), t(3, 10, 45), Some(t(3, 10, 5)), Bucket::Whole);
        assert_eq!(
            p,
            [
                Piece::Raw(t(1, 22, 30), t(1, 23, 0)),
                Piece::Hours(t(1, 23, 0), t(2, 0, 0)),
                Piece::Days(t(2, 0, 0), t(3, 0, 0)),
                Piece::Hours(t(3, 0, 0), t(3, 10, 0)),
                Piece::Raw(t(3, 10, 0), t(3, 10, 45)),
            ]
        );
        // Per hour: no days.
        let p = pieces(t(1, 22, 30), t(3, 10, 45), Some(t(3, 10, 5)), Bucket::Hour);
        assert_eq!(p[1], Piece::Hours(t(1, 23, 0), t(3, 10, 0)));
        // Never rolled up: all raw.
        assert_eq!(pieces(t(1, 0, 0), t(2, 0, 0), None, Bucket::Day), [Piece::Raw(t(1, 0, 0), t(2, 0, 0))]);
        // A window ending before the horizon.
        let p = pieces(t(1, 0, 0), t(1, 5, 0), Some(t(3, 0, 0)), Bucket::Day);
        assert_eq!(p, [Piece::Hours(t(1, 0, 0), t(1, 5, 0))]);
    }
}
