//! WebCrypto and the JS clock, reached through `globalThis` with `js_sys` so the platform needs no
//! extra `web-sys` features. PBKDF2 runs in the runtime's native code, not in wasm: 100,000
//! iterations cost a few milliseconds there and far more as Rust compiled to wasm.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::domain::password::{Pbkdf2, HASH_LEN};
use crate::error::ApiError;

fn get(target: &JsValue, key: &str) -> Result<JsValue, ApiError> {
    Reflect::get(target, &JsValue::from_str(key))
        .map_err(|e| ApiError::internal(format!("webcrypto: {key}: {e:?}")))
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, ApiError> {
    let f: js_sys::Function = get(target, method)?
        .dyn_into()
        .map_err(|_| ApiError::internal(format!("webcrypto: {method} is not a function")))?;
    let argv = Array::new();
    for a in args {
        argv.push(a);
    }
    Reflect::apply(&f, target, &argv)
        .map_err(|e| ApiError::internal(format!("webcrypto: {method}: {e:?}")))
}

fn crypto() -> Result<JsValue, ApiError> {
    get(&js_sys::global(), "crypto")
}

/// Milliseconds since the epoch from the JS clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Cryptographically secure random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let buf = Uint8Array::new_with_length(N as u32);
    call(&crypto()?, "getRandomValues", &[buf.clone().into()])?;
    let mut out = [0u8; N];
    buf.copy_to(&mut out);
    Ok(out)
}

/// A random version-4 UUID as text.
pub fn uuid_v4() -> Result<String, ApiError> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?)
        .into_uuid()
        .to_string())
}

/// A random token of `N` bytes as lowercase hex (for session ids and generated secrets).
pub fn random_hex<const N: usize>() -> Result<String, ApiError> {
    Ok(random_bytes::<N>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// PBKDF2 through `crypto.subtle`.
pub struct WebCryptoPbkdf2;

impl Pbkdf2 for WebCryptoPbkdf2 {
    async fn derive(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Vec<u8>, ApiError> {
        let subtle = get(&crypto()?, "subtle")?;
        let algo = Object::new();
        set(&algo, "name", &"PBKDF2".into())?;
        let usages = Array::of1(&"deriveBits".into());
        let key_promise = call(
            &subtle,
            "importKey",
            &[
                "raw".into(),
                Uint8Array::from(password).into(),
                algo.into(),
                JsValue::FALSE,
                usages.into(),
            ],
        )?;
        let key = JsFuture::from(js_sys::Promise::from(key_promise))
            .await
            .map_err(|e| ApiError::internal(format!("webcrypto importKey: {e:?}")))?;
        let params = Object::new();
        set(&params, "name", &"PBKDF2".into())?;
        set(&params, "hash", &"SHA-256".into())?;
        set(&params, "salt", &Uint8Array::from(salt).into())?;
        set(&params, "iterations", &JsValue::from(iterations))?;
        let bits_promise = call(
            &subtle,
            "deriveBits",
            &[params.into(), key, JsValue::from((HASH_LEN * 8) as u32)],
        )?;
        let bits = JsFuture::from(js_sys::Promise::from(bits_promise))
            .await
            .map_err(|e| ApiError::internal(format!("webcrypto deriveBits: {e:?}")))?;
        Ok(Uint8Array::new(&bits).to_vec())
    }
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<(), ApiError> {
    Reflect::set(obj, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| ApiError::internal(format!("webcrypto: set {key}: {e:?}")))
}

/// Waits `ms` milliseconds (the runtime's timer).
pub async fn sleep_ms(ms: u64) {
    worker::Delay::from(std::time::Duration::from_millis(ms)).await;
}
