// Tokenize a file with a TextMate grammar, as VS Code does (vscode-textmate + vscode-oniguruma).
// node scripts/tmtokens.js GRAMMAR.json FILE  ->  JSON: one array of {text, scopes} per line.
// The npm packages come from editors/vscode/node_modules (cd editors/vscode && npm ci).
"use strict";

const fs = require("fs");
const path = require("path");

const modules = path.join(__dirname, "..", "editors", "vscode", "node_modules");
const vsctm = require(path.join(modules, "vscode-textmate"));
const oniguruma = require(path.join(modules, "vscode-oniguruma"));

async function main() {
  const [grammarPath, filePath] = process.argv.slice(2);
  const wasm = fs.readFileSync(path.join(modules, "vscode-oniguruma", "release", "onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
  });
  const scopeName = JSON.parse(fs.readFileSync(grammarPath, "utf8")).scopeName;
  const grammar = await registry.loadGrammar(scopeName);
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of fs.readFileSync(filePath, "utf8").split("\n")) {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    out.push(result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes })));
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
