// Every request the tests sent to the fake GitHub API, checked against GitHub's official OpenAPI
// description (npm package @octokit/openapi): the method and path must be a documented operation,
// query parameters documented for it, and a JSON body valid against its request-body schema.
// Usage: node scripts/check-openapi.cjs FILE.jsonl ...   (one {"method","path","body"} per line)
const fs = require("fs");
const Ajv = require("ajv");
const spec = require("@octokit/openapi/generated/api.github.com.deref.json");

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const templates = Object.keys(spec.paths).map((t) => ({
  template: t,
  regex: new RegExp("^" + t.replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));
let checked = 0;
let problems = 0;
const fail = (msg) => {
  problems += 1;
  console.log(msg);
};
for (const file of process.argv.slice(2)) {
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const { method, path, body } = JSON.parse(line);
    const url = new URL(path, "https://api.github.com");
    const found = templates.find((t) => t.regex.test(url.pathname));
    const operation = found && spec.paths[found.template][method.toLowerCase()];
    checked += 1;
    if (!operation) {
      fail(`${method} ${url.pathname}: not an operation of GitHub's REST API`);
      continue;
    }
    const known = new Set((operation.parameters || []).filter((p) => p.in === "query").map((p) => p.name));
    for (const name of url.searchParams.keys()) {
      if (!known.has(name)) fail(`${method} ${found.template}: undocumented query parameter '${name}'`);
    }
    const schema = operation.requestBody?.content?.["application/json"]?.schema;
    if (schema) {
      const validate = ajv.compile(schema);
      if (!validate(body)) fail(`${method} ${found.template} (${operation.operationId}): ${ajv.errorsText(validate.errors)}`);
    } else if (body !== null && body !== undefined) {
      fail(`${method} ${found.template}: sends a body the operation does not take`);
    }
  }
}
console.log(`OpenAPI: ${checked} requests checked against GitHub's description, ${problems} problems`);
process.exit(problems === 0 && checked > 0 ? 0 : 1);
