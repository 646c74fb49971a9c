//! Calendar dates as the PDB writes release dates (`YYYY-MM-DD`), for AlphaFold's template
//! date cut-offs (`alphafold/data/templates.py`: `max_template_date`, and the query's release
//! date minus 60 days during training).
use anyhow::{bail, ensure, Context, Result};
use std::fmt;

/// A proleptic Gregorian calendar date; orders chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseDate {
    year: i32,
    month: u32,
    day: u32,
}

impl ReleaseDate {
    /// Parses `YYYY-MM-DD`, checking that the day exists.
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [year, month, day] = parts.as_slice() else {
            bail!("date {text:?} is not YYYY-MM-DD");
        };
        ensure!(
            year.len() == 4 && month.len() == 2 && day.len() == 2,
            "date {text:?} is not YYYY-MM-DD"
        );
        let number = |part: &str| -> Result<u32> {
            part.parse::<u32>()
                .with_context(|| format!("date {text:?} is not YYYY-MM-DD"))
        };
        let (year, month, day) = (number(year)? as i32, number(month)?, number(day)?);
        ensure!(
            (1..=12).contains(&month),
            "date {text:?}: month {month} does not exist"
        );
        ensure!(
            day >= 1 && day <= days_in_month(year, month),
            "date {text:?}: day {day} does not exist in that month"
        );
        Ok(Self { year, month, day })
    }

    /// The date `days` days earlier.
    pub fn minus_days(self, days: i64) -> Self {
        Self::from_day_number(self.day_number() - days)
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    fn day_number(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// Inverse of [`Self::day_number`] (H. Hinnant's `civil_from_days`).
    fn from_day_number(days: i64) -> Self {
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        } as u32;
        let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for ReleaseDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orders_and_prints() {
        let early = ReleaseDate::parse("1995-02-07").unwrap();
        let late = ReleaseDate::parse("2011-11-09").unwrap();
        assert!(early < late);
        assert_eq!(late.to_string(), "2011-11-09");
    }

    #[test]
    fn rejects_malformed_dates() {
        for text in [
            "2021-13-01",
            "2021-02-29",
            "2021-1-01",
            "20210101",
            "",
            "2021-01-0x",
        ] {
            assert!(ReleaseDate::parse(text).is_err(), "{text}");
        }
        assert!(ReleaseDate::parse("2020-02-29").is_ok());
    }

    #[test]
    fn subtracting_days_crosses_months_years_and_leap_days() {
        // Checked with Python: datetime.date(2021, 3, 1) - timedelta(days=60) == date(2020, 12, 31)
        // and date(2020, 3, 1) - timedelta(days=1) == date(2020, 2, 29).
        let date = ReleaseDate::parse("2021-03-01").unwrap();
        assert_eq!(date.minus_days(60).to_string(), "2020-12-31");
        assert_eq!(
            ReleaseDate::parse("2020-03-01")
                .unwrap()
                .minus_days(1)
                .to_string(),
            "2020-02-29"
        );
        assert_eq!(ReleaseDate::parse("1970-01-01").unwrap().day_number(), 0);
        assert_eq!(date.minus_days(0), date);
    }
}
