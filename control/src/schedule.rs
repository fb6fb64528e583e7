//! Weekly schedules (a DJ's slots): which slot is on now, and how long it has left.
//!
//! Times are UTC: `{"days":["mon","fri"],"start":"20:00","duration_minutes":120}`. A slot
//! may run past midnight into the next day.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// One weekly slot.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub days: Vec<String>,
    pub start: String,
    pub duration_minutes: i64,
}

pub fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// Checks a slot; the message names what is wrong.
pub fn validate(slot: &Slot) -> Result<(), String> {
    if slot.days.is_empty() || slot.days.len() > 7 {
        return Err("a slot needs 1 to 7 days (mon, tue, wed, thu, fri, sat, sun)".into());
    }
    if let Some(bad) = slot.days.iter().find(|d| weekday(d).is_none()) {
        return Err(format!(
            "{bad:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"
        ));
    }
    if NaiveTime::parse_from_str(&slot.start, "%H:%M").is_err() {
        return Err(format!("start {:?} is not a time like 20:00", slot.start));
    }
    if !(1..=1440).contains(&slot.duration_minutes) {
        return Err("duration_minutes must be between 1 and 1440".into());
    }
    Ok(())
}

/// If `now` falls inside one of `slots`, how long until that slot ends (the longest, when
/// slots overlap).
pub fn remaining(slots: &[Slot], now: DateTime<Utc>) -> Option<Duration> {
    let mut best: Option<Duration> = None;
    for slot in slots {
        let Ok(start) = NaiveTime::parse_from_str(&slot.start, "%H:%M") else {
            continue;
        };
        let days: Vec<Weekday> = slot.days.iter().filter_map(|d| weekday(d)).collect();
        // A slot that started yesterday may still be running after midnight.
        for back in 0..=1 {
            let date = now.date_naive() - Duration::days(back);
            if !days.contains(&date.weekday()) {
                continue;
            }
            let begins = date.and_time(start).and_utc();
            let ends = begins + Duration::minutes(slot.duration_minutes);
            if begins <= now && now < ends {
                let left = ends - now;
                best = Some(best.map_or(left, |b| b.max(left)));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn slot(days: &[&str], start: &str, minutes: i64) -> Slot {
        Slot {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            start: start.into(),
            duration_minutes: minutes,
        }
    }

    #[test]
    fn inside_outside_and_past_midnight() {
        // 2026-11-27 is a Friday.
        let friday_night = [slot(&["fri"], "23:00", 120)];
        assert_eq!(
            remaining(&friday_night, at("2026-11-27T23:30:00Z")),
            Some(Duration::minutes(90))
        );
        assert_eq!(
            remaining(&friday_night, at("2026-11-28T00:59:30Z")),
            Some(Duration::seconds(30))
        );
        assert_eq!(remaining(&friday_night, at("2026-11-28T01:00:00Z")), None);
        assert_eq!(remaining(&friday_night, at("2026-11-27T22:59:59Z")), None);
        assert_eq!(
            remaining(&friday_night, at("2026-11-26T23:30:00Z")),
            None,
            "Thursday is not in the slot"
        );
        let overlapping = [
            slot(&["fri"], "20:00", 60),
            slot(&["friday", "sat"], "20:30", 60),
        ];
        assert_eq!(
            remaining(&overlapping, at("2026-11-27T20:45:00Z")),
            Some(Duration::minutes(45))
        );
    }

    #[test]
    fn validation() {
        assert!(validate(&slot(&["mon"], "20:00", 60)).is_ok());
        assert!(validate(&slot(&["moon"], "20:00", 60)).is_err());
        assert!(validate(&slot(&[], "20:00", 60)).is_err());
        assert!(validate(&slot(&["mon"], "25:00", 60)).is_err());
        assert!(validate(&slot(&["mon"], "20:00", 0)).is_err());
    }
}
