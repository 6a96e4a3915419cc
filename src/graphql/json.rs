//! GraphQL responses written as JSON, byte for byte what `serde_json::to_vec` writes, faster.
//!
//! serde_json checks every byte of every string against its escape table. The dashboard query's
//! response is mostly strings (ids, timestamps, names, log lines: ~25 KB of ~32 KB), and that
//! check was a tenth of the server's instructions. Here the data tree is walked directly, and a
//! string is scanned eight bytes at a time for the characters JSON escapes (`"`, `\` and control
//! characters); one without them — nearly all — is copied whole. Any string with them, numbers,
//! errors and extensions are written by serde_json itself.

use async_graphql::{BatchResponse, Response, Value};

/// The JSON of a (batch) response.
pub fn to_vec(response: &BatchResponse) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(8 * 1024);
    match response {
        BatchResponse::Single(response) => write_response(&mut out, response)?,
        BatchResponse::Batch(responses) => {
            out.push(b'[');
            for (i, response) in responses.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_response(&mut out, response)?;
            }
            out.push(b']');
        }
    }
    Ok(out)
}

/// A response as async-graphql's `Serialize` writes it: `data`, then `extensions` and `errors`
/// when not empty.
fn write_response(out: &mut Vec<u8>, response: &Response) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &response.data)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut *out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::String(string) => write_str(out, string)?,
        Value::Enum(name) => write_name(out, name),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_name(out, name);
                out.push(b':');
                write_value(out, value)?;
            }
            out.push(b'}');
        }
        Value::Number(_) | Value::Binary(_) => serde_json::to_writer(&mut *out, value)?,
    }
    Ok(())
}

/// A GraphQL name (a response key or an enum value): the parser admits only `[_A-Za-z0-9]`,
/// which JSON never escapes.
fn write_name(out: &mut Vec<u8>, name: &str) {
    debug_assert!(!needs_escape(name.as_bytes()));
    write_quoted(out, name);
}

fn write_str(out: &mut Vec<u8>, string: &str) -> serde_json::Result<()> {
    if needs_escape(string.as_bytes()) {
        return serde_json::to_writer(&mut *out, string);
    }
    write_quoted(out, string);
    Ok(())
}

/// `string` in quotes, as it is: only for strings with nothing to escape.
fn write_quoted(out: &mut Vec<u8>, string: &str) {
    out.reserve(string.len() + 2);
    out.push(b'"');
    out.extend_from_slice(string.as_bytes());
    out.push(b'"');
}

/// Whether `bytes` may hold a character a JSON string escapes: `"`, `\`, or one below U+0020.
/// Eight bytes are tested at once; a word can be flagged by mistake (the string is then written
/// by serde_json, correctly), never missed.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `word` is below `n` (n <= 0x80) only if its lane of the result is set.
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    // A byte equal to `c` is a zero byte of `word ^ c…c`, below 1.
    let equal = |word: u64, c: u8| below(word ^ (ONES * u64::from(c)), 1);
    let test = |word: u64| below(word, 0x20) | equal(word, b'"') | equal(word, b'\\') != 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(chunk).map(u64::from_le_bytes) else { return true };
        if test(word) {
            return true;
        }
    }
    // The last bytes, padded with a letter to a word.
    let mut last = [b'a'; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    test(u64::from_le_bytes(last))
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, Number, ServerError};

    use super::*;

    /// Strings around every escaped character, at every offset within a word.
    fn strings() -> Vec<String> {
        let mut strings = vec![String::new(), "plain".into(), "ünïcødé → ✓ 𝄞".into(), "/slash/ is not escaped".into()];
        let specials = ['"', '\\', '\n', '\t', '\r', '\u{0}', '\u{1f}', '\u{7f}', ' ', 'é'];
        for special in specials {
            for before in 0..17 {
                for after in [0, 1, 7, 8, 9] {
                    strings.push(format!("{}{special}{}", "a".repeat(before), "b".repeat(after)));
                }
            }
        }
        strings
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for string in strings() {
            let mut out = Vec::new();
            write_str(&mut out, &string).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&string).unwrap(), "{string:?}");
        }
    }

    #[test]
    fn responses_are_written_as_serde_json_writes_them() {
        let mut object = IndexMap::new();
        for (i, string) in strings().into_iter().enumerate() {
            object.insert(Name::new(format!("k{i}_{}", string.len())), Value::String(string));
        }
        object.insert(Name::new("n"), Value::Null);
        object.insert(Name::new("t"), Value::Boolean(true));
        object.insert(Name::new("f"), Value::Boolean(false));
        object.insert(Name::new("i"), Value::Number(Number::from(-42)));
        object.insert(Name::new("x"), Value::Number(Number::from_f64(0.1 + 0.2).unwrap()));
        object.insert(Name::new("e"), Value::Enum(Name::new("COMPLETED")));
        object.insert(Name::new("b"), Value::Binary(vec![0, 1, 255].into()));
        object.insert(
            Name::new("l"),
            Value::List(vec![Value::Null, Value::List(vec![]), Value::Object(IndexMap::new())]),
        );
        let data = Value::Object(IndexMap::from([(Name::new("root"), Value::Object(object))]));

        let mut with_errors = Response::new(data.clone());
        with_errors.errors.push(ServerError::new("bad \"input\"\n", None));
        with_errors.extensions.insert("trace".into(), Value::String("x".into()));
        for response in [
            BatchResponse::Single(Response::new(data.clone())),
            BatchResponse::Single(Response::new(Value::Null)),
            BatchResponse::Single(with_errors),
            BatchResponse::Batch(vec![Response::new(data), Response::new(Value::Null)]),
            BatchResponse::Batch(vec![]),
        ] {
            assert_eq!(to_vec(&response).unwrap(), serde_json::to_vec(&response).unwrap());
        }
    }
}
