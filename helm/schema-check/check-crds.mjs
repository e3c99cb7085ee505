// Validates ServiceMonitor and PrometheusRule manifests against the
// prometheus-operator API types shipped by @kubernetes-models/prometheus-operator
// (generated from prometheus-operator's Go types, the source of its CRDs).
//
//   node check-crds.mjs MANIFESTS.json
//
// MANIFESTS.json holds a JSON array of objects. Two checks per object:
//  1. the package's JSON-schema validator (types, enums, patterns, required);
//  2. TypeScript's excess-property check against the package's interfaces,
//     which rejects unknown fields, as `kubectl apply` (strict field
//     validation) would.
// Prints one line per problem and exits 1 if there is any.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const MODELS = {
  ServiceMonitor: { model: ServiceMonitor, iface: "IServiceMonitor" },
  PrometheusRule: { model: PrometheusRule, iface: "IPrometheusRule" },
};
const PACKAGE = "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const problems = [];
const name = (doc) => `${doc.kind}/${doc.metadata?.name ?? "?"}`;

// 1. JSON-schema validation.
for (const doc of docs) {
  const entry = MODELS[doc.kind];
  if (!entry) {
    problems.push(`${name(doc)}: no prometheus-operator schema for kind ${doc.kind}`);
    continue;
  }
  try {
    new entry.model(doc).validate();
  } catch (err) {
    problems.push(`${name(doc)}: ${err.message}`);
  }
}

// 2. Unknown fields: type-check each manifest as a typed object literal.
const here = path.dirname(fileURLToPath(import.meta.url));
const virtual = path.join(here, "__manifests__.ts");
const lines = [];
const owner = []; // line number -> document
for (const [kind, { iface }] of Object.entries(MODELS)) {
  lines.push(`import type { ${iface} } from "${PACKAGE}/${kind}";`);
  owner.push(null);
}
docs.forEach((doc, i) => {
  if (!MODELS[doc.kind]) return;
  const body = JSON.stringify(doc, null, 2).split("\n");
  body[0] = `export const doc${i}: ${MODELS[doc.kind].iface} = ${body[0]}`;
  body[body.length - 1] += ";";
  for (const line of body) {
    lines.push(line);
    owner.push(doc);
  }
});
const source = lines.join("\n") + "\n";
const options = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: [],
};
const host = ts.createCompilerHost(options);
const { getSourceFile, fileExists, readFile } = host;
host.getSourceFile = (file, lang, ...rest) =>
  file === virtual
    ? ts.createSourceFile(file, source, lang, true)
    : getSourceFile.call(host, file, lang, ...rest);
host.fileExists = (file) => file === virtual || fileExists.call(host, file);
host.readFile = (file) => (file === virtual ? source : readFile.call(host, file));
const program = ts.createProgram([virtual], options, host);
for (const diag of ts.getPreEmitDiagnostics(program)) {
  const text = ts.flattenDiagnosticMessageText(diag.messageText, "\n");
  if (diag.file && diag.start !== undefined) {
    const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
    const doc = owner[line];
    const where = doc ? name(doc) : `line ${line + 1}`;
    problems.push(`${where}: ${lines[line].trim()}: ${text}`);
  } else {
    problems.push(text);
  }
}

for (const problem of problems) console.log(`ERROR ${problem}`);
if (problems.length === 0) console.log(`OK ${docs.map(name).join(", ")}`);
process.exit(problems.length ? 1 : 0);
