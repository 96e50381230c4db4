//! A position in a JSON text, and the pieces both hand readers need
//! ([`super::envelope`] for the request, [`super::plain_params`] for its
//! params): white space, the next token, and strings without escapes,
//! borrowed from the text. Each reader adds its own values in an `impl`
//! of its own.

/// Bytes that end a string read here: its closing quote, or what it
/// cannot hold unescaped (a backslash starts an escape, left to serde);
/// also the texts the JSON-RPC answer writes without serde.
pub(super) static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A UTF-8 text (the caller checked it once) and how far it is read.
pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    /// What is left to read.
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    /// JSON's white space: space, tab, line feed, carriage return.
    pub(super) fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after white space, read.
    pub(super) fn next_token(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    /// The next token, when it is `byte`.
    pub(super) fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_token()? == byte).then_some(())
    }

    /// A string without escapes or control characters, after white space.
    pub(super) fn plain_string(&mut self) -> Option<&'a str> {
        let len = self.plain_bytes()?.len();
        // Between two quotes of UTF-8 text: a whole string.
        self.text.get(self.at - 1 - len..self.at - 1)
    }

    /// [`Cursor::plain_string`]'s bytes, for a key or value only compared
    /// with ASCII text (which no other UTF-8 text equals).
    pub(super) fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let rest = self.rest();
        let len = rest.iter().position(|&b| STRING_STOP[usize::from(b)])?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }
}

/// Every text one byte away from `text`: each byte deleted, or replaced by
/// each of `replacements` (bytes that matter to JSON). The hand readers'
/// tests hold each variant to what serde reads.
#[cfg(test)]
pub(super) fn one_byte_variants(text: &[u8], replacements: &[u8]) -> Vec<Vec<u8>> {
    let mut variants = Vec::new();
    for at in 0..text.len() {
        variants.push([&text[..at], &text[at + 1..]].concat());
        for &byte in replacements {
            let mut changed = text.to_vec();
            changed[at] = byte;
            variants.push(changed);
        }
    }
    variants
}
