// Removes build output folders given as arguments (a deleted source must not leave its old output behind).
import { rmSync } from "node:fs";

for (const folder of process.argv.slice(2)) rmSync(new URL(`../${folder}`, import.meta.url), { recursive: true, force: true });
