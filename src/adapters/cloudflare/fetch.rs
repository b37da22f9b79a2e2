//! The Worker's transport for the REST client: `worker::Fetch` and `worker::Delay`.

use worker::{Fetch, Headers, Method as WMethod, Request, RequestInit};

use super::client::{HttpRequest, HttpResponse, Method, Transport};

/// Sends requests with the Workers runtime's `fetch`.
pub struct FetchTransport;

fn method(m: Method) -> WMethod {
    match m {
        Method::Get => WMethod::Get,
        Method::Post => WMethod::Post,
        Method::Put => WMethod::Put,
        Method::Delete => WMethod::Delete,
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        // Errors name the failing stage only: the request (and its Authorization header) stays out.
        let headers = Headers::new();
        for (n, v) in &request.headers {
            headers
                .set(n, v)
                .map_err(|_| format!("header {n} is not valid"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(method(request.method))
            .with_headers(headers);
        if !request.body.is_empty() {
            let array = js_sys::Uint8Array::from(request.body.as_slice());
            init.with_body(Some(array.into()));
        }
        let req = Request::new_with_init(&request.url, &init)
            .map_err(|e| format!("request could not be built: {e}"))?;
        let mut resp = Fetch::Request(req)
            .send()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        let status = resp.status_code();
        let headers = resp.headers().entries().collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    async fn sleep(&self, ms: u64) {
        crate::adapters::webcrypto::sleep_ms(ms).await;
    }
}
