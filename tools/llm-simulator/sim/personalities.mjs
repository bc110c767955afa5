// Servers as they behave today: what each refuses, with the status and error text it answers.
// `refusal(name, provider, body)` returns `{ status, body }` or null. Sources, per personality:
// openai — api.openai.com; GPT-5.x and o-series refuse `max_tokens` (platform docs, 2025-2026);
// llama-cpp-python — 0.3.x server: pydantic allows response_format type text|json_object only,
//   answers HTTP 500; serves one request at a time (seen in scripts/real-model runs, not committed);
// vllm — accepts json_schema and json_object and both token fields;
// lmstudio — accepts json_schema, refuses json_object with 400;
// text-only — an OpenAI-compatible server with no JSON modes at all;
// strict-fields — a server whose request model forbids unknown fields (422, FastAPI style).

const error = (status, message, extra = {}) => ({ status, body: JSON.stringify({ error: { message, ...extra } }) });

const rules = {
  openai(body) {
    if (/^(gpt-5|o\d)/.test(body.model ?? "") && "max_tokens" in body) {
      return error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", {
        type: "invalid_request_error",
        param: "max_tokens",
        code: "unsupported_parameter",
      });
    }
    return null;
  },
  "llama-cpp-python"(body) {
    const type = body.response_format?.type;
    if (type && type !== "text" && type !== "json_object") {
      return error(
        500,
        `[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': "Input should be 'text' or 'json_object'", 'input': '${type}'}]`,
        { type: "internal_server_error" },
      );
    }
    return null;
  },
  vllm() {
    return null;
  },
  lmstudio(body) {
    const type = body.response_format?.type;
    if (type && type !== "json_schema" && type !== "text") return error(400, "'response_format.type' must be 'json_schema' or 'text'");
    return null;
  },
  "text-only"(body) {
    return body.response_format ? error(400, "Unrecognized request argument supplied: response_format") : null;
  },
  "strict-fields"(body) {
    const extra = ["prompt_cache_key", "stream_options", "max_completion_tokens"].find((k) => k in body);
    return extra
      ? {
          status: 422,
          body: JSON.stringify({ detail: [{ type: "extra_forbidden", loc: ["body", extra], msg: "Extra inputs are not permitted" }] }),
        }
      : null;
  },
};

export const personalities = Object.keys(rules);

export function refusal(name, provider, body) {
  if (provider !== "openai") return null;
  const rule = rules[name];
  if (!rule) throw new Error(`unknown simulator personality ${name}`);
  return rule(body);
}

/** Servers that answer one request at a time (llama.cpp's Python server). */
export const serial = new Set(["llama-cpp-python"]);
