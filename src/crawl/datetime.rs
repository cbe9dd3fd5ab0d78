//! W3C datetimes (`YYYY-MM-DDThh:mm:ssTZD` and its shorter forms): sitemaps' `<lastmod>` and
//! the crawl tools' `lastmodSince`, read as milliseconds since the Unix epoch.

/// Parses a W3C datetime, the `<lastmod>` format, to milliseconds since the Unix epoch:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a full date with `Thh:mm`, optional `:ss` and
/// fraction, and a zone (`Z`, `+hh:mm`, `-hh:mm`). A space for the `T`, a zone without the
/// colon, and no zone at all (read as UTC) are accepted too: common, and unambiguous.
pub fn parse_w3c_datetime(text: &str) -> Option<i64> {
    let mut s = Scanner(text.trim().as_bytes());
    let year = s.number(4)?;
    let (mut month, mut day) = (1, 1);
    let mut full_date = false;
    if s.eat(b'-') {
        month = s.number(2)?;
        if s.eat(b'-') {
            day = s.number(2)?;
            full_date = true;
        }
    }
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut seconds, mut millis, mut offset_minutes) = (0, 0, 0);
    if full_date && (s.eat(b'T') || s.eat(b't') || s.eat(b' ')) {
        let hour = s.number(2)?;
        s.eat(b':').then_some(())?;
        let minute = s.number(2)?;
        let mut second = 0;
        if s.eat(b':') {
            second = s.number(2)?;
            if s.eat(b'.') || s.eat(b',') {
                let digits = s.digits();
                if digits.is_empty() {
                    return None;
                }
                millis = digits
                    .iter()
                    .chain(b"00")
                    .take(3)
                    .fold(0, |ms, d| ms * 10 + i64::from(d - b'0'));
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        seconds = hour * 3600 + minute * 60 + second;
        offset_minutes = s.zone()?;
    }
    if !s.0.is_empty() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + seconds - offset_minutes * 60) * 1000) + millis)
}

/// A cursor over the bytes of a datetime.
struct Scanner<'a>(&'a [u8]);

impl Scanner<'_> {
    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    /// Consumes all the ASCII digits that come next.
    fn digits(&mut self) -> &[u8] {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at(n);
        self.0 = rest;
        digits
    }

    /// Consumes a number of exactly `len` digits.
    fn number(&mut self, len: usize) -> Option<i64> {
        let digits = self.0.get(..len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[len..];
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// Consumes a zone designator, returning its offset east of UTC in minutes (0 when none).
    fn zone(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') || self.0.is_empty() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2)?;
        let minutes = if self.eat(b':') || !self.0.is_empty() {
            self.number(2)?
        } else {
            0
        };
        (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3c_datetimes() {
        let cases = [
            ("1970-01-01", Some(0)),
            ("2024-01-02", Some(1_704_153_600_000)),
            ("2024", Some(1_704_067_200_000)),
            ("2024-02", Some(1_706_745_600_000)),
            ("2024-01-02T03:04:05Z", Some(1_704_164_645_000)),
            ("2024-01-02T03:04:05+02:00", Some(1_704_157_445_000)),
            ("2024-01-02T03:04:05-05:30", Some(1_704_184_445_000)),
            ("2024-01-02T03:04Z", Some(1_704_164_640_000)),
            ("2024-01-02T03:04:05.5Z", Some(1_704_164_645_500)),
            ("2024-01-02T03:04:05.123456+00:00", Some(1_704_164_645_123)),
            ("2024-01-02 03:04:05", Some(1_704_164_645_000)),
            ("2024-01-02T03:04:05+0200", Some(1_704_157_445_000)),
            ("  2024-02-29T00:00:00Z ", Some(1_709_164_800_000)),
            ("1969-12-31T23:59:59Z", Some(-1000)),
            ("2000-03-01", Some(951_868_800_000)),
            ("2023-02-29", None),
            ("2024-13-01", None),
            ("2024-01-32", None),
            ("2024-1-2", None),
            ("2024-01-02T25:00Z", None),
            ("2024-01-02T03Z", None),
            ("2024-01-02T03:04:05.Z", None),
            ("2024-01-02T03:04:05 GMT", None),
            ("2024-01-02Z", None),
            ("yesterday", None),
            ("", None),
            ("0000-01-01", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_w3c_datetime(text), expected, "{text:?}");
        }
    }
}
