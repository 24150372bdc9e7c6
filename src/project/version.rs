//! Migration versions and file names: `<version>_<name>.sql`.

use std::cmp::Ordering;
use std::fmt;

/// A migration version: 1 to 20 decimal digits, compared as a number.
///
/// 20 digits go beyond a 64-bit integer, hence `u128`. The digits as written
/// are the number padded with zeros to their count, so keeping the count is
/// enough for `0003` to print as `0003` (and a version needs no allocation:
/// a run over 10,000 migrations holds 10,000 of them).
///
/// The number is kept as two 64-bit halves: a `u128` field would align the
/// struct to 16 bytes and make every migration record 16 bytes larger.
#[derive(Debug, Clone, Copy, Eq)]
pub struct Version {
    low: u64,
    high: u64,
    width: u8,
}

impl Version {
    /// Parses 1 to 20 ASCII digits.
    pub fn parse(digits: &str) -> Option<Version> {
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Version::new(digits.parse().ok()?, digits.len() as u8))
    }

    /// A version with `number`, written with at least `width` digits.
    pub fn with_width(number: u128, width: usize) -> Version {
        let digits = if number == 0 {
            1
        } else {
            number.ilog10() as usize + 1
        };
        Version::new(number, width.max(digits).min(u8::MAX as usize) as u8)
    }

    fn new(number: u128, width: u8) -> Version {
        Version {
            low: number as u64,
            high: (number >> 64) as u64,
            width,
        }
    }

    /// The version as a number: `0003` is 3.
    pub fn number(&self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }

    /// The digits as written: `0003`.
    pub fn digits(&self) -> String {
        self.to_string()
    }

    /// How many digits it is written with.
    pub fn width(&self) -> usize {
        usize::from(self.width)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.number() == other.number()
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.number().cmp(&other.number())
    }
}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number().hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.number();
        write!(f, "{number:0width$}", width = self.width())
    }
}

/// Why a file name is not a migration name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("not a `.sql` file")]
    NotSql,
    #[error("the name must be `<version>_<name>.sql`, e.g. `0001_create_households.sql`")]
    Shape,
    #[error("the version must be 1 to 20 digits")]
    Version,
    #[error("the name after the version may only use a-z, 0-9 and `_`")]
    Name,
}

/// Parses `0001_create_households.sql` into its version and name.
pub fn parse_file_name(file_name: &str) -> Result<(Version, String), NameError> {
    let stem = file_name.strip_suffix(".sql").ok_or(NameError::NotSql)?;
    let (digits, name) = stem.split_once('_').ok_or(NameError::Shape)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::Shape);
    }
    let version = Version::parse(digits).ok_or(NameError::Version)?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(NameError::Name);
    }
    Ok((version, name.to_string()))
}

/// Turns a free-text message into a file-name slug: `Add households table!`
/// becomes `add_households_table`.
pub fn slug(message: &str) -> String {
    let mut out = String::new();
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let mut out = out.trim_end_matches('_').to_string();
    out.truncate(60);
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        "migration".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(Version::parse("0003"), Version::parse("3"));
        assert!(Version::parse("10").unwrap() > Version::parse("9").unwrap());
        assert_eq!(Version::parse("0").unwrap().number(), 0);
        let big = Version::parse("99999999999999999999").unwrap();
        assert_eq!(big.number(), 99_999_999_999_999_999_999u128);
        assert!(Version::parse("123456789012345678901").is_none());
        assert!(Version::parse("").is_none());
        assert_eq!(Version::with_width(7, 4).to_string(), "0007");
        assert_eq!(Version::with_width(12345, 4).to_string(), "12345");
        assert_eq!(
            Version::parse("00000000000000").unwrap().digits(),
            "00000000000000"
        );
        assert_eq!(Version::parse("0042").unwrap().width(), 4);
    }

    #[test]
    fn file_names() {
        let (v, n) = parse_file_name("0001_create_households.sql").unwrap();
        assert_eq!((v.number(), n.as_str()), (1, "create_households"));
        assert!(parse_file_name("00000000000000_diesel_initial_setup.sql").is_ok());
        assert_eq!(parse_file_name("0001_x.txt"), Err(NameError::NotSql));
        assert_eq!(parse_file_name("create.sql"), Err(NameError::Shape));
        assert_eq!(parse_file_name("v1_create.sql"), Err(NameError::Shape));
        assert_eq!(parse_file_name("0001_Create.sql"), Err(NameError::Name));
        assert_eq!(parse_file_name("0001_.sql"), Err(NameError::Name));
        assert_eq!(
            parse_file_name("123456789012345678901_x.sql"),
            Err(NameError::Version)
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Add households table!"), "add_households_table");
        assert_eq!(slug("  --- "), "migration");
        assert_eq!(slug("café au lait"), "caf_au_lait");
    }
}
