//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// A UTC point in time (GraphQL `DateTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A point in time, as an RFC 3339 string such as `2026-11-20T09:30:00.123456Z`. Inputs may
/// carry any UTC offset; outputs are always in UTC (`Z`), to the microsecond.
#[Scalar(name = "DateTime", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom(format!("{s:?} is not an RFC 3339 date-time"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(rfc3339(&self.0))
    }
}

/// `t` as chrono's `to_rfc3339_opts(SecondsFormat::AutoSi, true)` writes it (no fraction, or 3,
/// 6 or 9 digits of it, and `Z`), without going through `fmt`: responses carry a timestamp on
/// nearly every row, and chrono's formatter was ~3 % of the server's CPU on the dashboard query.
fn rfc3339(t: &chrono::DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Years chrono writes with a sign, and leap seconds.
        return t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    }
    let mut out = String::with_capacity(30);
    push_digits(&mut out, year as u32, 4);
    out.push('-');
    push_digits(&mut out, t.month(), 2);
    out.push('-');
    push_digits(&mut out, t.day(), 2);
    out.push('T');
    push_digits(&mut out, t.hour(), 2);
    out.push(':');
    push_digits(&mut out, t.minute(), 2);
    out.push(':');
    push_digits(&mut out, t.second(), 2);
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    if let Some((value, width)) = fraction {
        out.push('.');
        push_digits(&mut out, value, width);
    }
    out.push('Z');
    out
}

/// `value` in decimal, zero-padded to `width` digits (`value` has at most that many).
fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + (value / divisor % 10) as u8));
        divisor /= 10;
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

impl From<DateTime> for sea_orm::Value {
    fn from(t: DateTime) -> Self {
        t.0.into()
    }
}

impl<'de> serde::Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| DateTime(t.with_timezone(&Utc)))
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 date-time")))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{SecondsFormat, TimeZone, Utc};
    use rand::Rng;

    #[test]
    fn rfc3339_writes_what_chrono_writes() {
        let mut rng = rand::rng();
        let check = |seconds: i64, nanos: u32| {
            let t = Utc.timestamp_opt(seconds, nanos).single().expect("valid time");
            assert_eq!(super::rfc3339(&t), t.to_rfc3339_opts(SecondsFormat::AutoSi, true), "{seconds} s {nanos} ns");
        };
        // Every fraction width, the edges of the four-digit years, and signed years beyond them.
        for (seconds, nanos) in [
            (0, 0),
            (0, 1),
            (1_700_000_000, 120_000_000),
            (1_700_000_000, 123_456_000),
            (1_700_000_000, 123_456_789),
            (1_700_000_000, 1_000),
            (-62_167_219_200, 0),           // 0000-01-01
            (253_402_300_799, 999_999_000), // 9999-12-31T23:59:59.999999
            (253_402_300_800, 0),           // +10000
            (-62_167_219_201, 0),           // -0001
        ] {
            check(seconds, nanos);
        }
        for _ in 0..10_000 {
            let nanos = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(0..1_000) * 1_000_000,
                2 => rng.random_range(0..1_000_000) * 1_000,
                _ => rng.random_range(0..1_000_000_000),
            };
            check(rng.random_range(-62_167_219_200..253_402_300_800), nanos);
        }
    }
}
