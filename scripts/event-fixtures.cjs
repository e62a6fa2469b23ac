// Event payload fixtures for the action's tests, checked against GitHub's webhook schemas
// (npm package @octokit/openapi-webhooks).
//   node scripts/event-fixtures.cjs --write   # (re)make fixtures/events/*.json
//   node scripts/event-fixtures.cjs           # check every fixture against its schema
// A fixture is the smallest payload the schema accepts (every required field, nothing else),
// with the fields ml-gates reads set to meaningful values.
const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const spec = require("@octokit/openapi-webhooks/generated/api.github.com.json");

const FIXTURES = {
  "pull_request.json": {
    webhook: "pull-request-opened",
    set: { number: 7, "pull_request.number": 7, "pull_request.head.sha": "0123456789abcdef0123456789abcdef01234567" },
  },
  "push.json": {
    webhook: "push",
    set: { ref: "refs/heads/main", "repository.default_branch": "main" },
  },
  "workflow_dispatch.json": {
    webhook: "workflow-dispatch",
    set: { inputs: { "skip-training": "true" } },
  },
  "repository_dispatch.json": {
    webhook: "repository-dispatch-sample.collected",
    set: { action: "drift-alert", client_payload: { feature: "age", psi: 0.31 } },
  },
};

const resolve = (schema) => {
  while (schema && schema.$ref) schema = schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
  return schema;
};

function minimal(schema, depth = 0) {
  schema = resolve(schema);
  if (!schema || depth > 40) return null;
  if ("const" in schema) return schema.const;
  if (schema.enum) return schema.enum.find((v) => v !== null) ?? schema.enum[0];
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => minimal(s, depth + 1)));
  for (const key of ["oneOf", "anyOf"]) {
    if (schema[key]) {
      const branches = schema[key].map(resolve);
      const nullable = branches.find((b) => b.type === "null");
      return nullable ? null : minimal(branches[0], depth + 1);
    }
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.includes("null") ? "null" : type[0];
  if (schema.nullable) type = "null";
  switch (type) {
    case "null":
      return null;
    case "object": {
      const out = {};
      for (const name of schema.required || []) out[name] = minimal((schema.properties || {})[name] || {}, depth + 1);
      return out;
    }
    case "array":
      return [];
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    case "string":
      if (schema.format === "date-time") return "2026-11-27T00:00:00Z";
      if (schema.format === "uri" || schema.format === "uri-template") return "https://example.com/x";
      if (schema.format === "email") return "octo@example.com";
      return "x";
    default:
      return schema.properties ? minimal({ ...schema, type: "object" }, depth) : null;
  }
}

function setPath(obj, dotted, value) {
  const keys = dotted.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ?? (o[k] = {});
  o[keys[keys.length - 1]] = value;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(spec, "spec");
const validator = (webhook) => {
  const schema = spec.webhooks[webhook].post.requestBody.content["application/json"].schema;
  return ajv.compile({ $ref: "spec" + schema.$ref });
};

const folder = path.join(__dirname, "..", "fixtures", "events");
let problems = 0;
for (const [file, { webhook, set }] of Object.entries(FIXTURES)) {
  const target = path.join(folder, file);
  if (process.argv.includes("--write")) {
    const schema = spec.webhooks[webhook].post.requestBody.content["application/json"].schema;
    const payload = minimal(schema);
    for (const [k, v] of Object.entries(set)) setPath(payload, k, v);
    fs.writeFileSync(target, JSON.stringify(payload, null, 1) + "\n");
  }
  const validate = validator(webhook);
  const payload = JSON.parse(fs.readFileSync(target, "utf8"));
  if (!validate(payload)) {
    problems += 1;
    console.log(`${file} (${webhook}): ${ajv.errorsText(validate.errors).slice(0, 2000)}`);
  }
}
console.log(`webhooks: ${Object.keys(FIXTURES).length} event fixtures checked against @octokit/openapi-webhooks, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
