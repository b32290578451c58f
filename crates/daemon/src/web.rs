//! What the web pages of central's dashboard and a node's console share:
//! escaping, the look, and the token login (`?token=` once, which sets a
//! cookie; or `Authorization: Bearer`).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The pages' look: CJK fonts installed with the system, nothing fetched.
pub const STYLE: &str = "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
header{background:#0b3d91;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}\
header a{color:#fff;text-decoration:none}header a.on{font-weight:bold;border-bottom:2px solid #fff}\
main{padding:16px 24px}h1{font-size:22px}h2{font-size:18px;margin-top:28px}\
table{border-collapse:collapse;background:#fff;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}\
th{background:#eef2f6}td.n{text-align:right}.cards{display:flex;flex-wrap:wrap;gap:12px}\
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 16px;min-width:120px}\
.card b{display:block;font-size:22px}.off{color:#cf222e}.on-line{color:#1a7f37}.note{color:#57606a;font-size:13px}";

/// An HTML page as the answer, with `status`.
pub fn html(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
}

/// `text` percent-encoded for a query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query value with `%XX` and `+` decoded.
pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in a query string.
pub fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// Whether `request` carries `token`, and whether it came in the query
/// (then the answer should set the cookie).
pub enum Presented {
    /// As a bearer header or the cookie.
    Held,
    /// As `?token=`.
    InQuery,
    /// Not at all, or a wrong one.
    Missing,
}

/// How `request` presents `token`; `cookie` names the cookie that keeps it.
pub fn presented(request: &Request, cookie: &str, token: &str) -> Presented {
    let headers = request.headers();
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let prefix = format!("{cookie}=");
    let kept = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|c| c.trim().strip_prefix(prefix.as_str())));
    if bearer == Some(token) || kept == Some(token) {
        Presented::Held
    } else if query_value(request.uri().query(), "token") == Some(token) {
        Presented::InQuery
    } else {
        Presented::Missing
    }
}

/// Runs `request` if it presents `token`, setting the cookie when the token
/// came in the query; answers `refused` otherwise.
pub async fn require_token(
    token: &str,
    cookie: &str,
    request: Request,
    next: Next,
    refused: impl FnOnce() -> Response,
) -> Response {
    match presented(&request, cookie, token) {
        Presented::Held => next.run(request).await,
        Presented::Missing => refused(),
        Presented::InQuery => {
            let mut response = next.run(request).await;
            let value = format!("{cookie}={token}; HttpOnly; SameSite=Strict; Path=/");
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_and_decoded() {
        assert_eq!(url_decode("%E9%9C%80%E6%B1%82.xlsx"), "需求.xlsx");
        assert_eq!(url_decode("a+b%2"), "a b%2");
        assert_eq!(url_decode(&url_encode("储能 芯片&x=1")), "储能 芯片&x=1");
    }
}
