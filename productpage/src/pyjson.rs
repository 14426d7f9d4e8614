//! JSON text the way upstream's `json.dumps` writes it.
//!
//! The API routes re-serialize what the backends sent: keys in their original order, `", "`
//! between items, `": "` after keys, and every non-ASCII character escaped as `\uXXXX`
//! (`ensure_ascii`). Clients that compare bodies textually (upstream's own tests do) keep working.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// `value` serialized with Python's default `json.dumps` separators and ASCII escaping.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    if value.serialize(&mut ser).is_err() {
        return "null".to_owned();
    }
    // The formatter writes ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(w, "\\u{byte:04x}"),
        };
        w.write_all(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn round(text: &str) -> String {
        to_string(&serde_json::from_str::<Value>(text).unwrap())
    }

    #[test]
    fn python_separators_and_key_order() {
        // Upstream's documented re-serialized ratings answer.
        assert_eq!(
            round(r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#),
            r#"{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}"#
        );
        assert_eq!(
            round(r#"{"b":[1,2,{}],"a":[]}"#),
            r#"{"b": [1, 2, {}], "a": []}"#
        );
    }

    #[test]
    fn non_ascii_is_escaped_like_ensure_ascii() {
        assert_eq!(
            round(r#"["é😀\n\"\u0001"]"#),
            r#"["\u00e9\ud83d\ude00\n\"\u0001"]"#
        );
    }
}
