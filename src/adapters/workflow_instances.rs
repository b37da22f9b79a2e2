//! Workflow instances: the `BUILD_WORKFLOW` (`BuildWorkflow`, one instance per build, id = build
//! id) and `ROLLBACK_WORKFLOW` (`RollbackWorkflow`, id = rollback id) bindings. workers-rs has no
//! typed Workflow binding, so this calls the JS object's documented methods: `create({id,
//! params})` and `get(id)` on the binding, `status()`, `pause()`, `resume()` and `terminate()` on
//! an instance.
//!
//! Outcomes are decided from the engine's state, never from the text of its errors: a `create`
//! that fails is a [`Created::Duplicate`] only if `get` then finds the instance; a `terminate`
//! that fails is [`Terminated::Ended`] only if the status then says the instance is over.

use js_sys::{Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::bindings;
use crate::error::ApiError;

/// The build workflow's binding.
const BUILD: &str = "BUILD_WORKFLOW";
/// The rollback workflow's binding.
const ROLLBACK: &str = "ROLLBACK_WORKFLOW";

/// The text of a JS error (its `message`, else its debug form), for logs and internal errors.
fn js_text(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn js_err(what: &str, e: &JsValue) -> ApiError {
    ApiError::internal(format!("{what}: {}", js_text(e)))
}

async fn call(target: &JsValue, method: &str, arg: Option<&JsValue>) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &method.into())?.dyn_into()?;
    let p: Promise = match arg {
        Some(a) => f.call1(target, a)?,
        None => f.call0(target)?,
    }
    .dyn_into()?;
    JsFuture::from(p).await
}

/// What a [`Workflow::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new instance was created.
    Started,
    /// The engine already has an instance with that id (the create was refused).
    Duplicate,
}

/// What a [`Instance::terminate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminated {
    /// It was going (running, queued, waiting, paused) and is terminated now.
    Terminated,
    /// It had already ended (complete, errored or terminated).
    Ended,
}

/// Whether an engine status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "complete" | "errored" | "terminated")
}

/// A create the engine refused: a duplicate if the instance exists now, else the refusal.
fn refused_create(exists: bool, refusal: ApiError) -> Result<Created, ApiError> {
    if exists {
        Ok(Created::Duplicate)
    } else {
        Err(refusal)
    }
}

/// A terminate the engine refused: ended if the status read after it is final, else the refusal.
fn refused_terminate(status: Option<&str>, refusal: ApiError) -> Result<Terminated, ApiError> {
    match status {
        Some(s) if is_final(s) => Ok(Terminated::Ended),
        _ => Err(refusal),
    }
}

/// A Workflow binding.
pub struct Workflow {
    binding: JsValue,
    name: &'static str,
}

impl Workflow {
    /// The build workflow.
    pub fn builds(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            binding: bindings::workflow(env, BUILD)?,
            name: BUILD,
        })
    }

    /// The rollback workflow.
    pub fn rollbacks(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            binding: bindings::workflow(env, ROLLBACK)?,
            name: ROLLBACK,
        })
    }

    /// The instance with this id, or `None` when the engine has none (its `get` refuses the id).
    pub async fn get(&self, id: &str) -> Option<Instance> {
        call(&self.binding, "get", Some(&JsValue::from_str(id)))
            .await
            .ok()
            .map(|js| Instance { js })
    }

    /// Creates the instance `id` with `params`; [`Created::Duplicate`] when the engine refuses
    /// the create and already holds an instance with that id, the create's error otherwise.
    pub async fn create<P: Serialize>(&self, id: &str, params: &P) -> Result<Created, ApiError> {
        let options = Object::new();
        Reflect::set(&options, &"id".into(), &JsValue::from_str(id))
            .map_err(|e| js_err("options", &e))?;
        let params =
            js_sys::JSON::parse(&serde_json::to_string(params).map_err(ApiError::internal)?)
                .map_err(|e| js_err("params", &e))?;
        Reflect::set(&options, &"params".into(), &params).map_err(|e| js_err("options", &e))?;
        match call(&self.binding, "create", Some(&options)).await {
            Ok(_) => Ok(Created::Started),
            Err(e) => refused_create(
                self.get(id).await.is_some(),
                js_err(&format!("create {} instance {id}", self.name), &e),
            ),
        }
    }
}

/// One Workflow instance.
pub struct Instance {
    js: JsValue,
}

impl Instance {
    /// The engine's status (`queued`, `running`, `paused`, `waiting`, `complete`, `errored`,
    /// `terminated`, …).
    pub async fn status(&self) -> Result<String, ApiError> {
        let status = call(&self.js, "status", None)
            .await
            .map_err(|e| js_err("workflow status", &e))?;
        Reflect::get(&status, &"status".into())
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| ApiError::internal("workflow status: no status in the answer"))
    }

    /// Pauses it.
    pub async fn pause(&self) -> Result<(), ApiError> {
        call(&self.js, "pause", None)
            .await
            .map(|_| ())
            .map_err(|e| js_err("workflow pause", &e))
    }

    /// Resumes it.
    pub async fn resume(&self) -> Result<(), ApiError> {
        call(&self.js, "resume", None)
            .await
            .map(|_| ())
            .map_err(|e| js_err("workflow resume", &e))
    }

    /// Terminates it if it is still going. A terminate the engine refuses is
    /// [`Terminated::Ended`] when the status then is final (it ended in between), the error
    /// otherwise.
    pub async fn terminate(&self) -> Result<Terminated, ApiError> {
        if self.status().await.is_ok_and(|s| is_final(&s)) {
            return Ok(Terminated::Ended);
        }
        match call(&self.js, "terminate", None).await {
            Ok(_) => Ok(Terminated::Terminated),
            Err(e) => refused_terminate(
                self.status().await.ok().as_deref(),
                js_err("terminate workflow", &e),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_create_is_a_duplicate_only_when_the_instance_exists() {
        let refusal = || ApiError::internal("create BUILD_WORKFLOW instance b1: boom");
        assert_eq!(
            refused_create(true, refusal()).ok(),
            Some(Created::Duplicate)
        );
        // The error's words decide nothing: without the instance it is the refusal itself.
        let worded = ApiError::internal("instance already exists");
        assert!(matches!(
            refused_create(false, worded),
            Err(ApiError::Internal(m)) if m == "instance already exists"
        ));
    }

    #[test]
    fn a_refused_terminate_is_an_ended_instance_only_when_its_status_is_final() {
        let refusal = || ApiError::internal("terminate workflow: cannot terminate");
        for status in ["complete", "errored", "terminated"] {
            assert_eq!(
                refused_terminate(Some(status), refusal()).ok(),
                Some(Terminated::Ended),
                "{status}"
            );
        }
        for status in [Some("running"), Some("paused"), Some("queued"), None] {
            assert!(refused_terminate(status, refusal()).is_err(), "{status:?}");
        }
    }
}
