//! Warnings raised where no [`super::Reporter`] is at hand: a line on
//! stderr, as the tool keel mirrors prints it (libpq's password-file
//! warnings).

/// Writes `message` as one line on stderr.
pub fn line(message: &str) {
    eprintln!("{message}");
}
