//! The body of an imported file as ranges of its source file, so that any offset in the body
//! (and so in the keel file written from it) leads back to the original file.

use super::SourceText;
use std::ops::Range;
use std::sync::Arc;

/// A body made of pieces of one source file, in order.
#[derive(Debug, Clone)]
pub struct Body {
    pub file: Arc<SourceText>,
    /// Byte ranges of `file.text`, ascending and disjoint.
    segments: Vec<Range<usize>>,
}

impl Body {
    /// The bytes `range` of `file` (clamped to the text).
    pub fn new(file: Arc<SourceText>, range: Range<usize>) -> Body {
        let end = range.end.min(file.text.len());
        let start = range.start.min(end);
        Body {
            file,
            // One piece to start with; removals may cut it into more.
            segments: std::iter::once(start..end).collect(),
        }
    }

    /// The body's text.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|r| &self.file.text[r.clone()])
            .collect()
    }

    /// The offset in the source file of byte `at` of the body (the end of the last piece for
    /// an offset past the end).
    pub fn source_offset(&self, at: usize) -> usize {
        let mut start = 0;
        for r in &self.segments {
            let len = r.end - r.start;
            if at < start + len {
                return r.start + (at - start);
            }
            start += len;
        }
        self.segments.last().map_or(0, |r| r.end)
    }

    /// The 1-based line in the source file of byte `at` of the body.
    pub fn source_line(&self, at: usize) -> usize {
        let offset = self.source_offset(at);
        self.file.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Drops the bytes `range` of the body (body offsets) from it.
    pub fn remove(&mut self, range: Range<usize>) {
        let mut out = Vec::with_capacity(self.segments.len() + 1);
        let mut start = 0;
        for r in &self.segments {
            let len = r.end - r.start;
            // This piece's part before and after the removed range, in body offsets.
            let (piece_start, piece_end) = (start, start + len);
            if range.start > piece_start {
                let keep_end = range.start.min(piece_end);
                out.push(r.start..r.start + (keep_end - piece_start));
            }
            if range.end < piece_end {
                let keep_start = range.end.max(piece_start);
                out.push(r.start + (keep_start - piece_start)..r.end);
            }
            start = piece_end;
        }
        out.retain(|r| !r.is_empty());
        self.segments = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn body(text: &str, range: Range<usize>) -> Body {
        Body::new(
            Arc::new(SourceText {
                rel: PathBuf::from("a.sql"),
                shown: PathBuf::from("m/a.sql"),
                text: text.to_string(),
            }),
            range,
        )
    }

    #[test]
    fn offsets_lead_back_to_the_source_after_removals() {
        let text = "-- up\nBEGIN;\nSELECT 1;\nCOMMIT;\n-- down\n";
        let mut b = body(text, 6..text.len() - 8);
        assert_eq!(b.text(), "BEGIN;\nSELECT 1;\nCOMMIT;\n");
        b.remove(17..25);
        b.remove(0..7);
        assert_eq!(b.text(), "SELECT 1;\n");
        assert_eq!(&text[b.source_offset(0)..b.source_offset(0) + 6], "SELECT");
        assert_eq!(b.source_line(0), 3);
        assert_eq!(b.source_offset(100), 23);
    }

    #[test]
    fn removing_from_the_middle_keeps_both_sides() {
        let text = "a;\nb;\nc;\n";
        let mut b = body(text, 0..text.len());
        b.remove(3..6);
        assert_eq!(b.text(), "a;\nc;\n");
        assert_eq!(b.source_offset(3), 6);
        assert_eq!(b.source_line(3), 3);
        b.remove(0..1);
        assert_eq!(b.text(), ";\nc;\n");
        assert_eq!(b.source_offset(2), 6);
    }

    #[test]
    fn ranges_are_clamped() {
        let b = body("abc", 2..10);
        assert_eq!(b.text(), "c");
        assert_eq!(body("abc", 5..9).text(), "");
    }
}
