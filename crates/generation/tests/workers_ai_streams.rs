//! Hand-written Workers AI chunk streams (written from the documented shapes, not recorded) through the reader the Worker uses (see
//! `tests/fixtures/workers-ai-handwritten/README.md`).

use std::path::PathBuf;

use generation::files::FileParser;
use generation::model::{Reply, StreamReader};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/workers-ai-handwritten")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(name: &str, chunk: usize) -> Result<Reply, generation::model::CallError> {
    let bytes = fixture(name);
    let mut reader = StreamReader::new();
    for part in bytes.chunks(chunk) {
        reader.push(part);
    }
    reader.finish("workers-ai")
}

#[test]
fn both_stream_formats_give_the_same_answer_in_any_chunking() {
    let answer = String::from_utf8(fixture("answer.txt")).unwrap();
    for name in ["glm-chat-chunks.sse", "legacy-response-chunks.sse"] {
        for chunk in [1, 7, 64, 4096] {
            let reply = read(name, chunk).unwrap();
            assert_eq!(reply.content, answer, "{name} in {chunk}-byte chunks");
            assert_eq!(reply.usage, Some((1536, 71)), "{name}");
            assert!(!reply.hit_token_limit());
        }
    }
    assert_eq!(
        read("glm-chat-chunks.sse", 64)
            .unwrap()
            .finish_reason
            .as_deref(),
        Some("stop")
    );
    let files = FileParser::parse(&read("glm-chat-chunks.sse", 3).unwrap().content);
    assert_eq!(files.paths(), vec!["worker.js"]);
}

#[test]
fn a_stream_cut_at_the_token_limit_says_so() {
    let reply = read("glm-length.sse", 5).unwrap();
    assert!(reply.hit_token_limit());
    assert_eq!(reply.usage, Some((1536, 20)));
    assert!(FileParser::parse(&reply.content).truncated());
}

#[test]
fn a_dropped_stream_is_a_retryable_error() {
    let e = read("dropped.sse", 16).unwrap_err();
    assert!(e.is_retryable());
    assert!(e.message().contains("closed the stream"), "{e}");
}
