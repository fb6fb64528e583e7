//! When a playlist plays: a calendar slot that repeats once, daily, weekly (on chosen days)
//! or monthly. Times are UTC, as for DJ slots; a slot may run past midnight.
//!
//! `{"repeat":"weekly","days":["sat","sun"],"start":"08:00","duration_minutes":180}`,
//! `{"repeat":"once","date":"2026-12-31","start":"22:00","duration_minutes":240}`,
//! `{"repeat":"monthly","day":1,"start":"12:00","duration_minutes":60}`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::weekday;

#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub repeat: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    pub start: String,
    pub duration_minutes: i64,
}

impl Calendar {
    /// Checks the slot; the message names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if NaiveTime::parse_from_str(&self.start, "%H:%M").is_err() {
            return Err(format!("start {:?} is not a time like 20:00", self.start));
        }
        if !(1..=1440).contains(&self.duration_minutes) {
            return Err("duration_minutes must be between 1 and 1440".into());
        }
        match self.repeat.as_str() {
            "daily" => Ok(()),
            "weekly" => {
                if self.days.is_empty() {
                    return Err("a weekly slot needs days (mon … sun)".into());
                }
                match self.days.iter().find(|d| weekday(d).is_none()) {
                    Some(bad) => Err(format!("{bad:?} is not a day (mon … sun)")),
                    None => Ok(()),
                }
            }
            "once" => match self.date.as_deref().map(parse_date) {
                Some(Some(_)) => Ok(()),
                _ => Err("a one-off slot needs date as YYYY-MM-DD".into()),
            },
            "monthly" => match self.day {
                Some(1..=31) => Ok(()),
                _ => Err("a monthly slot needs day (1 to 31)".into()),
            },
            other => Err(format!(
                "repeat {other:?} is not once, daily, weekly or monthly"
            )),
        }
    }

    /// Whether `now` falls inside the slot.
    pub fn is_on(&self, now: DateTime<Utc>) -> bool {
        let Ok(start) = NaiveTime::parse_from_str(&self.start, "%H:%M") else {
            return false;
        };
        // A slot that began yesterday may still run after midnight.
        (0..=1).any(|back| {
            let date = now.date_naive() - Duration::days(back);
            if !self.starts_on(date) {
                return false;
            }
            let begins = date.and_time(start).and_utc();
            begins <= now && now < begins + Duration::minutes(self.duration_minutes)
        })
    }

    fn starts_on(&self, date: NaiveDate) -> bool {
        match self.repeat.as_str() {
            "daily" => true,
            "weekly" => self
                .days
                .iter()
                .filter_map(|d| weekday(d))
                .any(|w| w == date.weekday()),
            "once" => self.date.as_deref().and_then(parse_date) == Some(date),
            "monthly" => self.day == Some(date.day()),
            _ => false,
        }
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn cal(json: &str) -> Calendar {
        let c: Calendar = serde_json::from_str(json).expect("calendar");
        c.validate().expect("valid");
        c
    }

    #[test]
    fn each_kind_of_repeat() {
        // 2026-11-28 is a Saturday.
        let weekend = cal(
            r#"{"repeat":"weekly","days":["sat","sun"],"start":"08:00","duration_minutes":180}"#,
        );
        assert!(weekend.is_on(at("2026-11-28T09:00:00Z")));
        assert!(!weekend.is_on(at("2026-11-27T09:00:00Z")));
        assert!(!weekend.is_on(at("2026-11-28T11:00:00Z")));
        let nye =
            cal(r#"{"repeat":"once","date":"2026-12-31","start":"22:00","duration_minutes":240}"#);
        assert!(nye.is_on(at("2027-01-01T01:30:00Z")), "runs past midnight");
        assert!(!nye.is_on(at("2027-12-31T23:00:00Z")));
        let first = cal(r#"{"repeat":"monthly","day":1,"start":"12:00","duration_minutes":60}"#);
        assert!(first.is_on(at("2026-12-01T12:30:00Z")));
        assert!(!first.is_on(at("2026-12-02T12:30:00Z")));
        let daily = cal(r#"{"repeat":"daily","start":"06:00","duration_minutes":60}"#);
        assert!(daily.is_on(at("2026-11-30T06:59:59Z")));
    }

    #[test]
    fn bad_slots_say_what_is_wrong() {
        for (json, says) in [
            (
                r#"{"repeat":"hourly","start":"08:00","duration_minutes":60}"#,
                "repeat",
            ),
            (
                r#"{"repeat":"weekly","start":"08:00","duration_minutes":60}"#,
                "days",
            ),
            (
                r#"{"repeat":"once","date":"31/12","start":"08:00","duration_minutes":60}"#,
                "date",
            ),
            (
                r#"{"repeat":"daily","start":"8pm","duration_minutes":60}"#,
                "start",
            ),
            (
                r#"{"repeat":"monthly","day":32,"start":"08:00","duration_minutes":60}"#,
                "day",
            ),
        ] {
            let c: Calendar = serde_json::from_str(json).expect("parses");
            let e = c.validate().expect_err(json);
            assert!(e.contains(says), "{e}");
        }
    }
}
