//! Throughput of the model-output parsers on a synthetic 200 kB multi-file answer.
//!
//! Run with `cargo run -p generation --release --example bench_parser`. It parses the answer whole,
//! in 64-byte chunks (the shape of a streamed answer), and as the SSE stream a provider would send
//! (64-byte network chunks, deltas fed to the file parser as they arrive), and prints MB/s for each.
//! It also times a SEARCH/REPLACE block that matches nowhere in a 3,000-line file, the worst case
//! of fuzzy matching.
//! A model produces well under 1 kB/s, so anything above a few MB/s is far from being a bottleneck;
//! the point is to notice a regression to quadratic behaviour.

use std::hint::black_box;
use std::time::{Duration, Instant};

use generation::files::{apply_edits, EditBlock, FileParser};
use generation::sse::{SseEvent, SseParser};

const TARGET_BYTES: usize = 200 * 1024;

const HANDLER: &str = r#"router.get('/api/items/:id', async (request, env, params) => {
  const user = await requireUser(request, env);
  const item = await env.DB.prepare('SELECT * FROM items WHERE id = ? AND user_id = ?')
    .bind(params.id, user.id)
    .first();
  if (!item) {
    return error(404, 'Item not found');
  }
  return json(item);
});

"#;

const COMPONENT: &str = r#"function ItemCard({ item, onDelete }) {
  return html`
    <li class="flex items-center gap-3 bg-white rounded-lg p-3 shadow-sm">
      <span class="flex-1">${item.title} — ${item.note ?? ''}</span>
      <button class="text-red-500 text-sm" onClick=${() => onDelete(item)}>Delete</button>
    </li>
  `;
}

"#;

/// An answer of about [`TARGET_BYTES`]: prose, fenced and unfenced files, a README with nested
/// fences, some CRLF, a duplicate.
fn synthetic_answer() -> String {
    let mut out = String::from("I'll build the complete app. Here are all the files.\n\n");
    let mut n = 0;
    while out.len() < TARGET_BYTES {
        n += 1;
        out.push_str(&format!(
            "=== FILE: src/routes/items{n}.js ===\n```javascript\n"
        ));
        for _ in 0..6 {
            out.push_str(HANDLER);
        }
        out.push_str("```\n=== END FILE ===\n\nNext, the component:\n\n");
        out.push_str(&format!("=== FILE: public/components/Item{n}.js ===\n"));
        for _ in 0..4 {
            out.push_str(&COMPONENT.replace('\n', "\r\n"));
        }
        out.push_str("=== END FILE ===\n");
        out.push_str(&format!(
            "=== FILE: migrations/{n:04}_items.sql ===\nCREATE TABLE IF NOT EXISTS items{n} (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n=== END FILE ===\n"
        ));
        if n % 5 == 0 {
            out.push_str(&format!(
                "=== FILE: public/docs/README{n}.md ===\n```markdown\n# Items\n\n```bash\nnpx wrangler dev\n```\n```\n=== END FILE ===\n"
            ));
        }
    }
    out.push_str("=== FILE: src/routes/items1.js ===\nexport {};\n=== END FILE ===\nDone!\n");
    out
}

/// The answer as Workers-AI-style SSE events of about 12 characters each.
fn as_sse(answer: &str) -> Vec<u8> {
    let mut out = String::new();
    let chars: Vec<char> = answer.chars().collect();
    for piece in chars.chunks(12) {
        let text: String = piece.iter().collect();
        out.push_str("data: ");
        out.push_str(&serde_json::json!({ "response": text }).to_string());
        out.push_str("\n\n");
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

/// Runs `f` repeatedly for about a second and returns MB/s over `bytes` per run.
fn measure(bytes: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        f();
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    bytes as f64 * f64::from(runs) / secs / 1e6
}

fn main() {
    let answer = synthetic_answer();
    let parsed = FileParser::parse(&answer);
    println!(
        "answer: {} bytes, {} files, {} diagnostics",
        answer.len(),
        parsed.files.len(),
        parsed.diagnostics.len()
    );

    let whole = measure(answer.len(), || {
        black_box(FileParser::parse(black_box(&answer)));
    });
    println!("files, whole:           {whole:8.1} MB/s");

    let chunked = measure(answer.len(), || {
        let mut parser = FileParser::new();
        let bytes = answer.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let mut end = (start + 64).min(bytes.len());
            while !answer.is_char_boundary(end) {
                end += 1;
            }
            parser.push(&answer[start..end]);
            start = end;
        }
        black_box(parser.finish());
    });
    println!("files, 64-byte chunks:  {chunked:8.1} MB/s");

    let stream = as_sse(&answer);
    let streamed = measure(stream.len(), || {
        let mut sse = SseParser::new();
        let mut files = FileParser::new();
        let mut events = Vec::new();
        for chunk in stream.chunks(64) {
            events.clear();
            sse.push_into(chunk, &mut events);
            for event in &events {
                if let SseEvent::Delta { content } = event {
                    files.push(content);
                }
            }
        }
        black_box(files.finish());
    });
    println!(
        "sse + files, 64-byte:   {streamed:8.1} MB/s of stream ({} bytes)",
        stream.len()
    );

    let file: String = (0..3000)
        .map(|i| format!("  const value{i} = await env.DB.prepare('SELECT {i}').first();\n"))
        .collect();
    let miss = EditBlock {
        search: (0..20)
            .map(|i| format!("    app.get('/route{i}', handler{i});"))
            .collect::<Vec<_>>()
            .join("\n"),
        replace: String::new(),
    };
    let start = Instant::now();
    let result = apply_edits(&file, std::slice::from_ref(&miss));
    println!(
        "edit miss, 3000 lines:  {:8.1} ms ({})",
        start.elapsed().as_secs_f64() * 1e3,
        result.map_or_else(|e| e.to_string(), |_| "applied?".into())
    );
}
