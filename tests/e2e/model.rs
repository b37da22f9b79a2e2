//! Builds through a language model: the model session's Worker calls the scripted, local
//! OpenAI-compatible [`ModelServer`].

use crate::{model_scenarios, Kiln, ModelServer, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    model_scenarios![model_server_reachable]
}

/// The model session is healthy and the model server it is configured with answers.
fn model_server_reachable(k: &Kiln, m: &ModelServer) {
    assert_eq!(k.api.try_get_status("/api/health"), Some(200));
    let r = m.send(
        "GET",
        "/v1/models",
        Some(crate::model_server::DEFAULT_KEY),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let models = r.json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], crate::model_server::MODEL_ID);
}
