//! The envelope of the JSON-RPC request every bot sends —
//! `{"jsonrpc": "2.0", "id": 1, "method": "run_keyword", "params": [...]}`
//! — read by hand: serde's derived reader spent about 2k instructions a
//! call on the four keys and three small values around the params.
//!
//! Only that shape is read here: the four members, each once, in any
//! order, `params` optional; keys and strings without escapes; an id that
//! is null, a string or a plain non-negative integer. The params are read
//! by hand where they are plain JSON ([`super::plain_params`]), else by
//! serde as before. Anything else (an escape, another member, a
//! negative or fractional id, a duplicate, trailing text, ...) is `None`,
//! and the caller reads the body with serde as it always did, so answers
//! stay exactly what they were.

use jsonrpsee::types::Id;

use super::cursor::Cursor;
use super::http::{Call, CallId};
use super::Params;

/// The call `body` holds when it has the common shape, else `None`.
pub(super) fn read(body: &[u8]) -> Option<Call<'_>> {
    // One UTF-8 check for the body, cheaper than one per string (a body
    // that is not UTF-8 is left to serde, which refuses it).
    let text = std::str::from_utf8(body).ok()?;
    let mut at = Cursor::new(text);
    at.expect(b'{')?;
    let (mut jsonrpc, mut id, mut method, mut params) = (None, None, None, None);
    loop {
        let key = at.plain_bytes()?;
        at.expect(b':')?;
        let fresh = match key {
            // Any other version is answered by jsonrpsee either way.
            b"jsonrpc" => match at.plain_bytes()? {
                b"2.0" => jsonrpc.replace("2.0").is_none(),
                _ => return None,
            },
            b"method" => method.replace(at.plain_string()?).is_none(),
            b"id" => id.replace(at.id()?).is_none(),
            b"params" => params.replace(at.params()?).is_none(),
            _ => return None,
        };
        if !fresh {
            return None;
        }
        match at.next_token()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    at.skip_whitespace();
    if at.at != body.len() {
        return None;
    }
    Some(Call {
        jsonrpc: jsonrpc?,
        id: CallId(id?),
        method: method?,
        // As serde reads `Option<Params>`: `null` is no params.
        params: params.filter(|p| !matches!(p, Params::Null)),
    })
}

/// What serde makes of `body` where [`read`] reads it (`true` when [`read`]
/// leaves it to serde): the fuzz target `jsonrpc_envelope` holds this on
/// any bytes.
pub fn read_as_serde_reads(body: &[u8]) -> bool {
    let Some(fast) = read(body) else {
        return true;
    };
    serde_json::from_slice::<Call<'_>>(body).is_ok_and(|serde| shown(&fast) == shown(&serde))
}

/// A call as text, to compare what two readers made of one body.
fn shown(call: &Call<'_>) -> String {
    let params = (call.params.as_ref()).map_or("absent".to_owned(), super::plain_params::shown);
    format!("{} {:?} {} {params}", call.jsonrpc, call.id.0, call.method)
}

/// The envelope's own values.
impl<'a> Cursor<'a> {
    /// `null`, a plain string or a non-negative integer in u64, written as
    /// JSON writes integers (no leading zero, sign, fraction or exponent).
    fn id(&mut self) -> Option<Id<'a>> {
        self.skip_whitespace();
        let rest = self.rest();
        match rest.first()? {
            b'"' => return self.plain_string().map(|s| Id::Str(s.into())),
            b'n' if rest.starts_with(b"null") => {
                self.at += 4;
                return Some(Id::Null);
            }
            _ => {}
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let after = rest.get(digits).copied();
        let delimited = matches!(after, Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}'));
        if digits == 0 || (digits > 1 && rest[0] == b'0') || !delimited {
            return None;
        }
        self.at += digits;
        // The digits' value, or None past u64 (serde reads that as a float).
        let number = rest[..digits].iter().try_fold(0u64, |n, digit| {
            n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })?;
        Some(Id::Number(number))
    }

    /// The params from here: by hand when plain
    /// ([`super::plain_params`]), else by serde.
    fn params(&mut self) -> Option<Params> {
        if let Some((params, used)) = super::plain_params::read(self.text.get(self.at..)?) {
            self.at += used;
            return Some(params);
        }
        let mut values = serde_json::Deserializer::from_slice(self.rest()).into_iter::<Params>();
        let params = values.next()?.ok()?;
        self.at += values.byte_offset();
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::cursor::one_byte_variants;

    fn by_serde(body: &str) -> Option<Call<'_>> {
        serde_json::from_slice(body.as_bytes()).ok()
    }

    #[test]
    fn the_common_shape_is_read_as_serde_reads_it() {
        for body in [
            r#"{"jsonrpc": "2.0", "id": 1, "method": "run_keyword", "params": ["Get Time Based OTP", ["JBSWY3DPEHPK3PXP"], {}]}"#,
            r#"{"jsonrpc":"2.0","id":0,"method":"run_keyword","params":["K",[],{"a":1}]}"#,
            " \r\n\t{ \"params\" : { \"name\" : \"K\" } , \"method\" : \"run_keyword\" , \"id\" : \"abc\" , \"jsonrpc\" : \"2.0\" } \n",
            r#"{"jsonrpc":"2.0","id":null,"method":"get_keyword_names"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m","params":null}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"m","params":5}"#,
            r#"{"jsonrpc":"2.0","id":"é ☃","method":"ünï","params":["\u00e9\n"]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1,2.5,true,null,"x",[[]],{"k":{}}]}"#,
        ] {
            let fast = read(body.as_bytes()).unwrap_or_else(|| panic!("read by hand: {body}"));
            let serde = by_serde(body).unwrap_or_else(|| panic!("read by serde: {body}"));
            assert_eq!(shown(&fast), shown(&serde), "{body}");
        }
    }

    #[test]
    fn mangled_bodies_are_read_as_serde_reads_them_or_left_to_it() {
        // Every body one byte away from a common one (deleted, or replaced
        // by a byte that matters to JSON): whatever is read by hand, serde
        // reads the same.
        let body =
            br#"{"jsonrpc": "2.0", "id": 12, "method": "run_keyword", "params": ["K", ["x"], {}]}"#;
        let mut read_by_hand = 0;
        for variant in one_byte_variants(body, b"\" \\{}[],:0-.e\x01\xff") {
            let Some(fast) = read(&variant) else { continue };
            read_by_hand += 1;
            let serde: Call<'_> = serde_json::from_slice(&variant)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&variant)));
            assert_eq!(
                shown(&fast),
                shown(&serde),
                "{}",
                String::from_utf8_lossy(&variant)
            );
        }
        assert!(read_by_hand > 100, "{read_by_hand}");
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        for body in [
            // Escapes, in a key or a value.
            r#"{"json\u0072pc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.\u0030","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"a\"b","method":"m"}"#,
            // Another version (jsonrpsee answers it).
            r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
            // Another member, a duplicate, a missing one.
            r#"{"jsonrpc":"2.0","id":1,"method":"m","extra":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            // Ids serde reads otherwise or refuses.
            r#"{"jsonrpc":"2.0","id":-1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":1e3,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":01,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":nul,"method":"m"}"#,
            // Not one object, or not JSON.
            r#"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m"} x"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m",}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m""#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1e999]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1,]}"#,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\tb\"}",
            "",
        ] {
            assert!(read(body.as_bytes()).is_none(), "read by hand: {body}");
        }
        // Not UTF-8 inside a string.
        assert!(read(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}").is_none());
    }
}
