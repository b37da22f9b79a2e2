//! A small blocking HTTP client for the platform API and app hosts.
//!
//! Non-2xx statuses are values, not errors: scenarios assert on them.

use serde_json::Value;
use ureq::http;

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers (lowercase names).
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// The body parsed as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code of a JSON error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The error message of a JSON error body.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Client bound to one Kiln session.
pub struct Api {
    base: String,
    port: u16,
    agent: ureq::Agent,
}

impl Api {
    /// A client for `base`.
    pub fn new(base: &str, port: u16) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.to_string(),
            port,
            agent,
        }
    }

    /// Sends a request; `host` overrides the Host header (app hosts resolve to loopback anyway,
    /// but not every resolver knows `*.localhost`, so we connect to 127.0.0.1 and name the host).
    ///
    /// `wrangler dev` restarts its local runtime now and then (observed once in a full CI run:
    /// the workerd runtime went away between two scenarios); its proxy then answers a POST that was
    /// in flight with a 503 [`RUNTIME_RESTARTED`] and retries only GET and HEAD itself. That answer
    /// comes from the dev server, never from Kiln, so the request is sent once more after the
    /// runtime is back, and the retry is reported on stdout.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        host: Option<&str>,
    ) -> Reply {
        let reply = self.send_once(method, path, token, headers, body.clone(), host);
        if reply.status != 503 || !reply.body.starts_with(RUNTIME_RESTARTED) {
            return reply;
        }
        println!("note: {method} {path}: the dev server restarted its runtime mid-request; sending it again");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.try_get_status("/api/health") != Some(200)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.send_once(method, path, token, headers, body, host)
    }

    fn send_once(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        host: Option<&str>,
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(h) = host {
            req = req.header("host", h);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let result = match body {
            Some(b) => self.agent.run(req.body(b).expect("request")),
            None => self.agent.run(req.body(()).expect("request")),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: transport error: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(50 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Status of a GET, or None when the server is not accepting connections yet.
    pub fn try_get_status(&self, path: &str) -> Option<u16> {
        let req = http::Request::builder()
            .uri(format!("{}{}", self.base, path))
            .body(())
            .ok()?;
        self.agent.run(req).ok().map(|r| r.status().as_u16())
    }

    /// GET with an optional token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, &[], None, None)
    }

    /// DELETE with an optional token.
    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, token, &[], None, None)
    }

    /// A JSON request.
    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            method,
            path,
            token,
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
            None,
        )
    }

    /// POST with JSON.
    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json("POST", path, token, body)
    }

    /// POST with a raw body (for malformed and oversize inputs).
    pub fn post_raw(&self, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        self.send(
            "POST",
            path,
            token,
            &[("content-type", "application/json")],
            Some(body.to_vec()),
            None,
        )
    }

    /// GET on an app host `<slug>.localhost:<port>`.
    pub fn get_app(&self, slug: &str, path: &str) -> Reply {
        let host = format!("{slug}.localhost:{}", self.port);
        self.send("GET", path, None, &[], None, Some(&host))
    }

    /// Registers a fresh account and returns `(token, user_id)`.
    ///
    /// Each call comes from its own client address (`CF-Connecting-IP`, which `wrangler dev`
    /// passes through when the request carries it): scenario users stand for different people, so
    /// the per-address sign-in limit must not couple unrelated scenarios.
    pub fn register(&self, email: &str, password: &str) -> (String, String) {
        let ip = unique_ip();
        let r = self.send(
            "POST",
            "/api/auth/register",
            None,
            &[
                ("content-type", "application/json"),
                ("cf-connecting-ip", &ip),
            ],
            Some(
                serde_json::json!({ "email": email, "password": password })
                    .to_string()
                    .into_bytes(),
            ),
            None,
        );
        assert_eq!(r.status, 201, "register {email}: {}", r.body);
        let v = r.json();
        (
            v["token"].as_str().unwrap().to_string(),
            v["user"]["id"].as_str().unwrap().to_string(),
        )
    }

    /// Registers a user with a unique email and returns its token.
    pub fn new_user(&self) -> String {
        self.register(&unique_email(), "correct horse battery").0
    }

    /// Creates a project and returns its JSON.
    pub fn create_project(&self, token: &str, name: &str) -> Value {
        let r = self.post(
            "/api/projects",
            Some(token),
            &serde_json::json!({ "name": name }),
        );
        assert_eq!(r.status, 201, "create project {name}: {}", r.body);
        r.json()["project"].clone()
    }
}

/// The start of the body `wrangler dev`'s proxy answers when its runtime restarted during a
/// non-GET request.
pub const RUNTIME_RESTARTED: &str = "Your worker restarted mid-request.";

/// A fresh email address per call (the state dir is fresh per run, so a counter is enough).
pub fn unique_email() -> String {
    format!("user{}@example.test", next())
}

/// A fresh private client address per call (10.0.0.1, 10.0.0.2, …).
pub fn unique_ip() -> String {
    let n = next();
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

/// A counter shared by the unique names above.
fn next() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `id:` (the seq).
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:` lines joined.
    pub data: String,
}

impl Api {
    /// Opens an SSE stream and reads until `count` events arrived or the server closes it; then
    /// drops the connection (a client disconnecting).
    pub fn sse(
        &self,
        path: &str,
        token: &str,
        last_event_id: Option<u64>,
        count: usize,
    ) -> Vec<SseEvent> {
        use std::io::BufRead;
        let mut req = http::Request::builder()
            .uri(format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let mut resp = self
            .agent
            .run(req.body(()).expect("request"))
            .expect("sse connect");
        assert_eq!(resp.status().as_u16(), 200, "sse status");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        let reader = std::io::BufReader::new(resp.body_mut().as_reader());
        let mut out = Vec::new();
        let mut cur = SseEvent {
            id: None,
            event: None,
            data: String::new(),
        };
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                if !cur.data.is_empty() {
                    out.push(std::mem::replace(
                        &mut cur,
                        SseEvent {
                            id: None,
                            event: None,
                            data: String::new(),
                        },
                    ));
                    if out.len() >= count {
                        break;
                    }
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id: ") {
                cur.id = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("event: ") {
                cur.event = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("data: ") {
                if !cur.data.is_empty() {
                    cur.data.push('\n');
                }
                cur.data.push_str(v);
            }
        }
        out
    }
}
