//! The checksums other tools record for a migration file, recomputed from the file: what lets
//! `keel adopt` tell that a file changed after the tool applied it.
//!
//! - sqlx (`sqlx-core/src/migrate/migration.rs`): SHA-384 of the file's text exactly as read
//!   (`-- no-transaction` line, BOM and line endings included).
//! - Flyway (`ChecksumCalculator.calculateChecksumForResource`): the file read line by line
//!   with `BufferedReader.readLine` (which ends a line at `\n`, `\r\n` or `\r` and drops the
//!   ending), a BOM dropped from the first line, each line's UTF-8 bytes fed to one
//!   `java.util.zip.CRC32`, stored as a Java `int`. Line endings and blank lines therefore do
//!   not count; every other byte does.

use sha2::{Digest, Sha384};

/// sqlx's checksum of a migration file's bytes.
pub fn sqlx(bytes: &[u8]) -> Vec<u8> {
    Sha384::digest(bytes).to_vec()
}

/// Flyway's checksum of a migration file's bytes (UTF-8, Flyway's default encoding).
pub fn flyway(bytes: &[u8]) -> i32 {
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut crc = Crc32::default();
    // The bytes of every line without its ending, one after the other. In UTF-8, `\r` and
    // `\n` are never part of another character, so dropping them byte by byte is exact.
    for chunk in text.split(|&b| b == b'\n' || b == b'\r') {
        crc.update(chunk);
    }
    crc.value() as i32
}

/// CRC-32 as zlib and `java.util.zip.CRC32` compute it (IEEE 802.3, reflected polynomial
/// 0xEDB88320, initial value and final XOR 0xFFFFFFFF).
struct Crc32 {
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Crc32 {
        Crc32 { state: u32::MAX }
    }
}

/// The CRC of every byte value, computed once at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state =
                CRC_TABLE[((self.state ^ u32::from(b)) & 0xFF) as usize] ^ (self.state >> 8);
        }
    }

    fn value(&self) -> u32 {
        self.state ^ u32::MAX
    }
}

/// Bytes as lowercase hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        // The check value of CRC-32/ISO-HDLC, and zlib.crc32(b"SELECT 1;").
        let mut c = Crc32::default();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xCBF4_3926);
        let mut c = Crc32::default();
        c.update(b"SELECT 1;");
        assert_eq!(c.value(), 0x04B2_335C);
    }

    #[test]
    fn flyway_ignores_line_endings_blank_lines_and_a_bom() {
        let lf = flyway(b"create table PERSON (\n    ID int not null\n);\n");
        assert_eq!(
            flyway(b"create table PERSON (\r\n    ID int not null\r\n);\r\n"),
            lf
        );
        assert_eq!(
            flyway(b"create table PERSON (\r    ID int not null\r);"),
            lf
        );
        assert_eq!(
            flyway(b"\xef\xbb\xbfcreate table PERSON (\n\n    ID int not null\n);\n\n"),
            lf
        );
        // The lines, concatenated, and nothing else.
        let mut c = Crc32::default();
        c.update(b"create table PERSON (    ID int not null);");
        assert_eq!(lf, c.value() as i32);
        // Anything else in a line counts: a trailing space, a comment.
        assert_ne!(
            flyway(b"create table PERSON ( \n    ID int not null\n);\n"),
            lf
        );
    }

    #[test]
    fn flyway_checksum_is_a_signed_int() {
        // CRC32("SELECT 8;") is 0xD5708815, above i32::MAX: Java's `(int)` cast makes it
        // negative, and Flyway stores the negative number.
        assert_eq!(flyway(b"SELECT 8;\n"), -714_045_419);
    }

    #[test]
    fn sqlx_hashes_the_bytes_as_they_are() {
        // SHA-384 of the empty string (FIPS 180-2 test vector).
        assert_eq!(
            hex(&sqlx(b"")),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
        );
        assert_eq!(
            hex(&sqlx(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        // Line endings count for sqlx.
        assert_ne!(sqlx(b"SELECT 1;\n"), sqlx(b"SELECT 1;\r\n"));
    }
}
