// After tsc: dist/cjs holds CommonJS files inside a "type": "module" package, and this marker tells Node how to
// load them; the command's file is made executable (npm does so on install; `npx autopilot` in this folder needs it).
import { chmodSync, writeFileSync } from "node:fs";

writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{\n  "type": "commonjs"\n}\n');
chmodSync(new URL("../dist/esm/bin.js", import.meta.url), 0o755);
