//! A strict JSON reader for serde, tuned for the bodies Stripe sends (pretty-printed, mostly fields Latch skips).
//!
//! Owns: turning JSON text into any `Deserialize` type for [`crate::event`]. Must not: know about Stripe's shapes.
//!
//! # Same acceptance as serde_json
//! It accepts and rejects exactly what `serde_json::from_str` does for the same target type (a differential
//! property test in this module and in [`crate::event`] holds it to that): RFC 8259 grammar, no trailing commas or
//! characters, no control characters in strings, 128 levels of nesting for values that are read (skipped values
//! have no limit), `-0` and integers beyond 64 bits read as floats, out-of-range floats are errors, lone UTF-16
//! surrogates are errors in strings that are read and allowed in strings that are skipped. Only error messages
//! differ (a byte offset instead of line and column).
//!
//! # Why not serde_json
//! Speed: whitespace runs (Stripe's indentation) and string bodies are scanned 8 bytes at a time, skipped values
//! are walked without building anything, and strings without escapes are borrowed from the input.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

/// Why a JSON text could not be read into the target type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Reads a whole JSON text (surrounding whitespace allowed, nothing else) as a `T`.
pub(crate) fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Result<T, Error> {
    let mut reader =
        Reader { text, bytes: text.as_bytes(), pos: 0, depth: MAX_DEPTH, scratch: String::new(), open: Vec::new() };
    let value = T::deserialize(&mut reader)?;
    match reader.peek() {
        None => Ok(value),
        Some(_) => Err(reader.error("trailing characters")),
    }
}

/// serde_json's recursion limit for values that are read.
const MAX_DEPTH: u8 = 128;
const ONES: u64 = u64::MAX / 255;
const SPACES: u64 = ONES * b' ' as u64;

struct Reader<'de> {
    text: &'de str,
    bytes: &'de [u8],
    pos: usize,
    /// Containers that may still be entered (serde_json's `remaining_depth`).
    depth: u8,
    /// Unescaped text of the current string when it has escapes.
    scratch: String,
    /// Containers opened by the current [`Reader::skip`]: `true` for an object.
    open: Vec<bool>,
}

/// A string just read: borrowed from the input, or unescaped into the scratch buffer.
enum Text<'de> {
    Borrowed(&'de str),
    Scratch,
}

impl<'de> Reader<'de> {
    fn error(&self, what: &str) -> Error {
        Error(format!("{what} at byte {}", self.pos))
    }

    /// The next byte that is not whitespace, without consuming it.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        loop {
            let c = *self.bytes.get(self.pos)?;
            match c {
                b' ' => {
                    self.pos += 1;
                    if self.bytes.get(self.pos) == Some(&b' ') {
                        self.skip_spaces();
                    }
                }
                b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Some(c),
            }
        }
    }

    /// Skips a run of spaces (indentation) 8 bytes at a time.
    #[inline]
    fn skip_spaces(&mut self) {
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { return };
            let other = u64::from_le_bytes(chunk) ^ SPACES;
            if other != 0 {
                self.pos += (other.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
    }

    /// Advances to the next `"`, `\` or control character inside a string (or the end of the input).
    #[inline]
    fn scan_plain(&mut self) {
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { break };
            let x = u64::from_le_bytes(chunk);
            let control = x.wrapping_sub(ONES * 0x20) & !x;
            let quote = x ^ (ONES * u64::from(b'"'));
            let quote = quote.wrapping_sub(ONES) & !quote;
            let backslash = x ^ (ONES * u64::from(b'\\'));
            let backslash = backslash.wrapping_sub(ONES) & !backslash;
            let found = (control | quote | backslash) & (ONES << 7);
            if found != 0 {
                self.pos += (found.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
        while let Some(&c) = self.bytes.get(self.pos) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return;
            }
            self.pos += 1;
        }
    }

    fn literal(&mut self, rest: &[u8]) -> Result<(), Error> {
        self.pos += 1;
        if self.bytes.get(self.pos..self.pos + rest.len()) == Some(rest) {
            self.pos += rest.len();
            Ok(())
        } else {
            Err(self.error("expected ident"))
        }
    }

    #[inline]
    fn colon(&mut self) -> Result<(), Error> {
        // Stripe writes `"key": value`: the colon right after the key, then one space.
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
            if self.bytes.get(self.pos) == Some(&b' ') {
                self.pos += 1;
            }
            return Ok(());
        }
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.error("expected `:`")),
            None => Err(self.error("EOF while parsing an object")),
        }
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'de str, Error> {
        // Cut at ASCII quotes and escapes of valid UTF-8, so always on a char boundary.
        self.text.get(start..end).ok_or_else(|| self.error("string not on a character boundary"))
    }

    /// Reads a string whose opening quote was consumed, unescaping and validating it as serde_json does for
    /// strings that are read.
    fn read_str(&mut self) -> Result<Text<'de>, Error> {
        let mut start = self.pos;
        self.scan_plain();
        if self.bytes.get(self.pos) == Some(&b'"') {
            let text = self.slice(start, self.pos)?;
            self.pos += 1;
            return Ok(Text::Borrowed(text));
        }
        self.scratch.clear();
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    let tail = self.slice(start, self.pos)?;
                    self.scratch.push_str(tail);
                    self.pos += 1;
                    return Ok(Text::Scratch);
                }
                Some(b'\\') => {
                    let part = self.slice(start, self.pos)?;
                    self.scratch.push_str(part);
                    self.pos += 1;
                    self.escape()?;
                    start = self.pos;
                    self.scan_plain();
                }
                Some(_) => return Err(self.error("control character (\\u0000-\\u001F) found while parsing a string")),
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    fn next_byte(&mut self) -> Result<u8, Error> {
        let c = *self.bytes.get(self.pos).ok_or_else(|| self.error("EOF while parsing a string"))?;
        self.pos += 1;
        Ok(c)
    }

    fn escape(&mut self) -> Result<(), Error> {
        let c = match self.next_byte()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => return Err(self.error("invalid escape")),
        };
        self.scratch.push(c);
        Ok(())
    }

    /// `\uXXXX` (after the `u`), with UTF-16 surrogate pairs; a lone surrogate is an error.
    fn unicode_escape(&mut self) -> Result<(), Error> {
        let n = u32::from(self.hex4()?);
        let code = if (0xDC00..=0xDFFF).contains(&n) {
            return Err(self.error("lone leading surrogate in hex escape"));
        } else if (0xD800..=0xDBFF).contains(&n) {
            if self.next_byte()? != b'\\' || self.next_byte()? != b'u' {
                return Err(self.error("unexpected end of hex escape"));
            }
            let low = u32::from(self.hex4()?);
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(self.error("lone leading surrogate in hex escape"));
            }
            (((n - 0xD800) << 10) | (low - 0xDC00)) + 0x1_0000
        } else {
            n
        };
        let c = char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?;
        self.scratch.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, Error> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let c = self.next_byte()?;
            let d = (c as char).to_digit(16).ok_or_else(|| self.error("invalid escape"))?;
            n = (n << 4) | d as u16;
        }
        Ok(n)
    }

    /// Skips a string whose opening quote was consumed: escapes must be well-formed, surrogates are not paired
    /// (serde_json's rule for ignored strings).
    fn skip_str(&mut self) -> Result<(), Error> {
        loop {
            self.scan_plain();
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.next_byte()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            self.hex4()?;
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character (\\u0000-\\u001F) found while parsing a string")),
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.bytes.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Checks the number grammar from the current byte; answers whether it has a fraction or an exponent.
    fn number_grammar(&mut self) -> Result<bool, Error> {
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.bytes.get(self.pos), Some(b'0'..=b'9')) {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut float = false;
        if self.bytes.get(self.pos) == Some(&b'.') {
            float = true;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(float)
    }

    /// Reads a number as serde_json does: `u64`, negative `i64`, else `f64` (`-0` and integers beyond 64 bits
    /// included); a float that overflows is an error.
    fn number<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, Error> {
        let start = self.pos;
        let float = self.number_grammar()?;
        let text = self.slice(start, self.pos)?;
        if !float {
            let (negative, digits) = match text.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, text),
            };
            if let Ok(n) = digits.parse::<u64>() {
                if !negative {
                    return visitor.visit_u64(n);
                }
                // serde_json: `-0` and values below i64::MIN are floats.
                let value = (n as i64).wrapping_neg();
                return if value >= 0 { visitor.visit_f64(-(n as f64)) } else { visitor.visit_i64(value) };
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => visitor.visit_f64(f),
            _ => Err(self.error("number out of range")),
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth -= 1;
        if self.depth == 0 { Err(self.error("recursion limit exceeded")) } else { Ok(()) }
    }

    /// Skips one value without building anything, iteratively (no nesting limit, as serde_json's ignore).
    fn skip(&mut self) -> Result<(), Error> {
        // Scalars first: most skipped values are strings, numbers and nulls.
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                return self.skip_str();
            }
            Some(b'n') => return self.literal(b"ull"),
            Some(b'-' | b'0'..=b'9') => return self.number_grammar().map(drop),
            _ => {}
        }
        let base = self.open.len();
        let skipped = self.skip_from(base);
        self.open.truncate(base);
        skipped
    }

    fn skip_from(&mut self, base: usize) -> Result<(), Error> {
        loop {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a value")),
                Some(b'"') => {
                    self.pos += 1;
                    self.skip_str()?;
                }
                Some(b'n') => self.literal(b"ull")?,
                Some(b't') => self.literal(b"rue")?,
                Some(b'f') => self.literal(b"alse")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number_grammar()?;
                }
                Some(b'[') => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        self.open.push(false);
                        continue;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'}') => self.pos += 1,
                        Some(b'"') => {
                            self.pos += 1;
                            self.skip_str()?;
                            self.colon()?;
                            self.open.push(true);
                            continue;
                        }
                        Some(_) => return Err(self.error("key must be a string")),
                        None => return Err(self.error("EOF while parsing an object")),
                    }
                }
                Some(_) => return Err(self.error("expected value")),
            }
            // A value ended: close what it ends, or move to the next element or entry.
            loop {
                if self.open.len() == base {
                    return Ok(());
                }
                let object = self.open.last().copied().unwrap_or_default();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            if self.peek() != Some(b'"') {
                                return Err(self.error("key must be a string"));
                            }
                            self.pos += 1;
                            self.skip_str()?;
                            self.colon()?;
                        }
                        break;
                    }
                    Some(b']') if !object => {
                        self.pos += 1;
                        self.open.pop();
                    }
                    Some(b'}') if object => {
                        self.pos += 1;
                        self.open.pop();
                    }
                    Some(_) => return Err(self.error("expected `,` or the end of the container")),
                    None => return Err(self.error("EOF while parsing a container")),
                }
            }
        }
    }

    fn end(&mut self, close: u8) -> Result<(), Error> {
        if self.peek() == Some(close) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error("trailing characters in a container"))
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'n') => {
                self.literal(b"ull")?;
                visitor.visit_unit()
            }
            Some(b't') => {
                self.literal(b"rue")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"alse")?;
                visitor.visit_bool(false)
            }
            Some(b'-' | b'0'..=b'9') => self.number(visitor),
            Some(b'"') => {
                self.pos += 1;
                match self.read_str()? {
                    Text::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Text::Scratch => visitor.visit_str(&self.scratch),
                }
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let value = visitor.visit_seq(Seq { reader: &mut *self, first: true });
                self.depth += 1;
                let value = value?;
                self.end(b']')?;
                Ok(value)
            }
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let value = visitor.visit_map(Map { reader: &mut *self, first: true });
                self.depth += 1;
                let value = value?;
                self.end(b'}')?;
                Ok(value)
            }
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek() == Some(b'n') {
            self.literal(b"ull")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.peek() {
            Some(b'"') => visitor.visit_enum(UnitVariant { reader: self }),
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let value = visitor.visit_enum(MapVariant { reader: &mut *self });
                self.depth += 1;
                let value = value?;
                self.end(b'}')?;
                Ok(value)
            }
            Some(_) => Err(self.error("expected value")),
            None => Err(self.error("EOF while parsing a value")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.skip()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq
        tuple tuple_struct map struct identifier
    }
}

/// The elements of an array being read.
struct Seq<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let r = &mut *self.reader;
        match r.peek() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => {
                r.pos += 1;
                if r.peek() == Some(b']') {
                    return Err(r.error("trailing comma"));
                }
            }
            Some(_) if self.first => {}
            Some(_) => return Err(r.error("expected `,` or `]`")),
            None => return Err(r.error("EOF while parsing a list")),
        }
        self.first = false;
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// The entries of an object being read.
struct Map<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let r = &mut *self.reader;
        match r.peek() {
            Some(b'}') => return Ok(None),
            Some(b',') if !self.first => {
                r.pos += 1;
                match r.peek() {
                    Some(b'"') => {}
                    Some(b'}') => return Err(r.error("trailing comma")),
                    Some(_) => return Err(r.error("key must be a string")),
                    None => return Err(r.error("EOF while parsing an object")),
                }
            }
            Some(b'"') if self.first => {}
            Some(_) if self.first => return Err(r.error("key must be a string")),
            Some(_) => return Err(r.error("expected `,` or `}`")),
            None => return Err(r.error("EOF while parsing an object")),
        }
        self.first = false;
        r.pos += 1;
        seed.deserialize(Key { reader: &mut *self.reader }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.reader.colon()?;
        seed.deserialize(&mut *self.reader)
    }
}

/// An object key (its opening quote consumed): always read and validated as a string, as serde_json does.
struct Key<'a, 'de> {
    reader: &'a mut Reader<'de>,
}

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.reader.read_str()? {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Scratch => visitor.visit_str(&self.reader.scratch),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// An enum written as a string: a unit variant.
struct UnitVariant<'a, 'de> {
    reader: &'a mut Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(&mut *self.reader)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, Error> {
        Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"newtype variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"tuple variant"))
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"struct variant"))
    }
}

/// An enum written as `{"variant": value}` (opening brace consumed).
struct MapVariant<'a, 'de> {
    reader: &'a mut Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for MapVariant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        // serde_json reads the variant as a string, never as an index.
        if self.reader.peek() != Some(b'"') {
            return Err(self.reader.error("expected a variant name"));
        }
        let variant = seed.deserialize(&mut *self.reader)?;
        self.reader.colon()?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for MapVariant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self.reader)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.reader)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self.reader, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self.reader, "", &[], visitor)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;
    use serde_json::Value;

    const EVENT: &str = include_str!("../benches/fixtures/event.json");

    /// Equal JSON values; floats may differ in the last bit (serde_json's parser is not correctly rounded).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
                _ => false,
            },
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && same(a, b))
            }
            _ => a == b,
        }
    }

    /// The reader accepts exactly what serde_json accepts, and reads the same values.
    fn agrees(text: &str) {
        let ours = from_str::<Value>(text);
        let theirs = serde_json::from_str::<Value>(text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert!(same(a, b), "{text:?}: {a:?} != {b:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
        let ours = from_str::<IgnoredAny>(text).is_ok();
        let theirs = serde_json::from_str::<IgnoredAny>(text).is_ok();
        assert_eq!(ours, theirs, "skipping {text:?}");
    }

    #[test]
    fn same_acceptance_as_serde_json() {
        let deep_read = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        let too_deep = format!("{}1{}", "[".repeat(128), "]".repeat(128));
        for text in [
            EVENT,
            "",
            " ",
            "null",
            " true ",
            "false",
            "nul",
            "tru",
            "1",
            "-1",
            "-0",
            "0",
            "01",
            "-",
            "1.",
            ".5",
            "1.5",
            "1e5",
            "1E+5",
            "1e-5",
            "1e",
            "1e+",
            "-0.0",
            "1e400",
            "-1e400",
            "0e999",
            "1e-400",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            r#""""#,
            r#""a""#,
            r#""\u00e9\n\t\"\\\/\b\f\r""#,
            r#""\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83dx""#,
            r#""\ud83d\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            "\"a\u{1}b\"",
            "\"tab\there\"",
            "\"é ünïcødé\"",
            r#""unterminated"#,
            "[]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[1,2]",
            "{}",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":}"#,
            r#"{1:2}"#,
            r#"{"a":1}x"#,
            "[1] [2]",
            r#"{"a":[{"b":null}],"c":{"d":[true,false,"x"]}}"#,
            r#"{"\ud83d":1}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":{"b":"\ud83d"}}"#,
            &deep_read,
            &too_deep,
            "\u{feff}1",
            "\r\n\t 1 \r\n\t",
        ] {
            agrees(text);
        }
        // Skipped values: lone surrogates and any depth are fine for serde_json's ignore, and for ours.
        let deep_ignored = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        assert!(from_str::<IgnoredAny>(&deep_ignored).is_ok());
        assert!(from_str::<IgnoredAny>(r#"{"\ud83d":"\ude00"}"#).is_ok());
    }

    const ALPHABET: &[char] = &[
        '{', '}', '[', ']', '"', ':', ',', '\\', '/', ' ', '\n', '\t', 'u', 'd', '8', '3', '0', '1', '9', 'e', 'E',
        '+', '-', '.', 'n', 't', 'r', 'f', 'l', 'a', '\u{1}', 'é',
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn mutated_events_read_like_serde_json(
            edits in prop::collection::vec((any::<usize>(), 0..ALPHABET.len(), 0u8..3), 1..6),
        ) {
            let mut chars: Vec<char> = EVENT.chars().collect();
            for (pos, c, op) in edits {
                let at = pos % chars.len().max(1);
                match op {
                    0 if !chars.is_empty() => chars[at] = ALPHABET[c],
                    1 => chars.insert(at, ALPHABET[c]),
                    _ if !chars.is_empty() => { chars.remove(at); }
                    _ => {}
                }
            }
            agrees(&chars.into_iter().collect::<String>());
        }

        #[test]
        fn small_texts_read_like_serde_json(text in "[\\[\\]{}\":,\\\\ 0-9a-fnrtlsuE.+\\-]{0,24}") {
            agrees(&text);
        }
    }
}
