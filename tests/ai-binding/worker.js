// A local stand-in for the Workers AI binding (`env.AI`), for end-to-end tests.
//
// The real binding cannot be reached from a machine without a Cloudflare account. This Worker's
// `AiBinding` entrypoint is bound to the platform Worker as `AI` (a service binding with a named
// entrypoint, see tests/e2e/harness.rs), so Kiln's real Workers AI transport
// (src/adapters/model.rs: `env.AI.run(model, inputs)`, streamed or whole) runs unchanged against
// it. It speaks the binding's documented contract for text generation with
// @cf/zai-org/glm-4.7-flash:
//
//   input   {messages: [{role, content}], max_completion_tokens (or the deprecated max_tokens),
//            temperature, stream, response_format, chat_template_kwargs: {enable_thinking},
//            reasoning_effort: "low" | "medium" | "high" | null}
//   whole   an OpenAI `chat.completion` object: choices[0].message.{role, content,
//            reasoning_content}, choices[0].finish_reason, usage.{prompt_tokens,
//            completion_tokens, total_tokens}
//   stream  a ReadableStream of server-sent events: `data: <chat.completion.chunk>` lines with
//            delta.reasoning_content and delta.content, a chunk with finish_reason and usage,
//            then `data: [DONE]`
//   errors  thrown as `AiError: <code>: <message>`: 5007 unknown model, 5006 input validation,
//            3040 capacity (rate limited), 3043 internal error
//
// Thinking is on unless `chat_template_kwargs.enable_thinking` is false, as on Workers AI: the
// model then reasons first (reasoning_content) and the reasoning counts against the output
// budget, so a small budget can leave no content at all (finish_reason "length"). A
// `reasoning_effort` bounds the thinking: this stand-in thinks REASONING_TOKENS[effort] tokens
// (an assumed scale: the documentation gives no figures, only that lower effort thinks less).
//
// What the model answers comes from the scripted OpenAI-compatible model server the tests run
// (MODEL_SERVER_URL, tests/e2e/model_server.rs): this Worker translates the binding's input into
// a chat request to it, and its answer into the binding's output. It is a test double of a third
// party, not a model.

import { WorkerEntrypoint } from "cloudflare:workers";

/** The models this stand-in serves. */
const MODELS = new Set(["@cf/zai-org/glm-4.7-flash"]);
/** Output budget when the input sets none (Workers AI's text-generation default). */
const DEFAULT_MAX_TOKENS = 256;
/** What the model thinks before answering while thinking is on, in tokens (four characters each). */
const THINKING_TOKENS = 512;
/** Thinking per documented `reasoning_effort`, in tokens. */
const REASONING_TOKENS = { low: 64, medium: 256, high: THINKING_TOKENS };
const THINKING = "Let me work out what the request needs before I answer. ";
/** Characters per streamed piece. */
const PIECE = 200;

function aiError(code, message) {
  return new Error(`AiError: ${code}: ${message}`);
}

/** Checks the input like the binding's schema validation (error 5006). */
function checkInput(model, inputs) {
  if (!MODELS.has(model)) throw aiError(5007, `No such model ${model} or task`);
  if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
    throw aiError(5006, "Input validation error: the input must be an object");
  }
  if (!Array.isArray(inputs.messages) || inputs.messages.length === 0) {
    throw aiError(5006, "Input validation error: required properties at '/' are 'messages'");
  }
  for (const [i, m] of inputs.messages.entries()) {
    if (!m || !["system", "user", "assistant", "tool"].includes(m.role) || typeof m.content !== "string") {
      throw aiError(5006, `Input validation error: /messages/${i} must have a role and string content`);
    }
  }
  for (const key of ["max_tokens", "max_completion_tokens"]) {
    const v = inputs[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 131072)) {
      throw aiError(5006, `Input validation error: /${key} must be an integer from 1 to 131072`);
    }
  }
  if (inputs.stream !== undefined && typeof inputs.stream !== "boolean") {
    throw aiError(5006, "Input validation error: /stream must be boolean");
  }
  const thinking = inputs.chat_template_kwargs?.enable_thinking;
  if (thinking !== undefined && typeof thinking !== "boolean") {
    throw aiError(5006, "Input validation error: /chat_template_kwargs/enable_thinking must be boolean");
  }
  const effort = inputs.reasoning_effort;
  if (effort !== undefined && effort !== null && !Object.hasOwn(REASONING_TOKENS, effort)) {
    throw aiError(5006, "Input validation error: /reasoning_effort must be one of low, medium, high or null");
  }
}

const tokens = (text) => Math.ceil(text.length / 4);

export class AiBinding extends WorkerEntrypoint {
  /** `env.AI.run(model, inputs)`: the binding's one method for text generation. */
  async run(model, inputs) {
    checkInput(model, inputs);
    const budget = inputs.max_completion_tokens ?? inputs.max_tokens ?? DEFAULT_MAX_TOKENS;
    const thinking = inputs.chat_template_kwargs?.enable_thinking !== false;

    // The scripted answer, asked for whole; the original input goes along so tests can read it.
    const resp = await fetch(`${this.env.MODEL_SERVER_URL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.env.MODEL_SERVER_KEY}` },
      body: JSON.stringify({ ...inputs, model, stream: false, workers_ai_input: inputs }),
    });
    const text = await resp.text();
    if (resp.status === 429) throw aiError(3040, "Capacity temporarily exceeded, please try again.");
    if (resp.status >= 500) throw aiError(3043, "Internal server error");
    if (!resp.ok) {
      let message = text;
      try {
        message = JSON.parse(text).error.message;
      } catch {}
      throw aiError(5006, `Input validation error: ${message}`);
    }
    const completion = JSON.parse(text);
    const choice = completion.choices[0];
    let content = choice.message.content ?? "";
    let reasoning = choice.message.reasoning_content ?? "";
    let finish = choice.finish_reason;

    // Thinking on: the reasoning comes first and is paid from the same budget.
    if (thinking) {
      const think = REASONING_TOKENS[inputs.reasoning_effort] ?? THINKING_TOKENS;
      const thought = THINKING.repeat(Math.ceil((think * 4) / THINKING.length));
      reasoning = thought.slice(0, Math.min(think, budget) * 4) + reasoning;
    }
    const left = Math.max(0, budget - tokens(reasoning));
    if (tokens(content) > left) {
      content = content.slice(0, left * 4);
      finish = "length";
    }
    const prompt_tokens = completion.usage?.prompt_tokens ?? 0;
    const completion_tokens = tokens(reasoning) + tokens(content);
    const usage = { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
    const id = `id-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);

    if (!inputs.stream) {
      const message = { role: "assistant", content: content === "" ? null : content };
      if (reasoning) message.reasoning_content = reasoning;
      return {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, finish_reason: finish }],
        usage,
      };
    }

    const events = [];
    const chunk = (delta, finish_reason = null, extra = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason }], ...extra })}\n\n`;
    for (let i = 0; i < reasoning.length; i += PIECE) {
      events.push(chunk({ role: "assistant", reasoning_content: reasoning.slice(i, i + PIECE) }));
    }
    for (let i = 0; i < content.length; i += PIECE) {
      events.push(chunk({ role: "assistant", content: content.slice(i, i + PIECE) }));
    }
    events.push(chunk({}, finish, { usage }));
    events.push("data: [DONE]\n\n");
    const encoder = new TextEncoder();
    return new ReadableStream({
      start(controller) {
        for (const e of events) controller.enqueue(encoder.encode(e));
        controller.close();
      },
    });
  }
}

export default {
  /** Not an HTTP service: the binding is reached by RPC only. */
  async fetch() {
    return new Response("the AI binding stand-in answers RPC calls only\n", { status: 404 });
  },
};
