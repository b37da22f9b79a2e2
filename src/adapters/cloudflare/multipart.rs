//! `multipart/form-data` bodies built by hand (the Worker has `FormData`, but building the bytes
//! here keeps request building a pure function that native tests can read back).

use sha2::{Digest, Sha256};

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Field name.
    pub name: String,
    /// File name, when the part is a file.
    pub filename: Option<String>,
    /// The part's content type.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A form's `content-type` header and body. The boundary is derived from the parts' bytes (a
/// SHA-256), so it cannot occur in them by accident and the same parts give the same body.
pub fn form(parts: &[Part]) -> (String, Vec<u8>) {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.name.as_bytes());
        h.update(&p.bytes);
    }
    let digest = h.finalize();
    let boundary: String = std::iter::once("kiln-".to_string())
        .chain(digest.iter().take(16).map(|b| format!("{b:02x}")))
        .collect();
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match &p.filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n",
                escape(&p.name),
                escape(f)
            ),
            None => format!(
                "Content-Disposition: form-data; name=\"{}\"\r\n",
                escape(&p.name)
            ),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", p.content_type).as_bytes());
        body.extend_from_slice(&p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Quotes and line breaks cannot appear in a quoted field name (HTML's form encoding).
fn escape(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_by_one_boundary_with_their_headers() {
        let (ct, body) = form(&[
            Part {
                name: "metadata".into(),
                filename: None,
                content_type: "application/json".into(),
                bytes: b"{\"a\":1}".to_vec(),
            },
            Part {
                name: "worker.js".into(),
                filename: Some("worker.js".into()),
                content_type: "application/javascript+module".into(),
                bytes: b"export default {}".to_vec(),
            },
        ]);
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":1}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"worker.js\"; filename=\"worker.js\"\r\nContent-Type: application/javascript+module\r\n\r\nexport default {{}}\r\n\
             --{boundary}--\r\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn names_cannot_break_out_of_their_quotes() {
        let (_, body) = form(&[Part {
            name: "a\"\r\nX: y".into(),
            filename: None,
            content_type: "text/plain".into(),
            bytes: vec![],
        }]);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("name=\"a%22%0D%0AX: y\""), "{text}");
    }
}
