// Entry of the bundled VM process: `node native/build/runner.mjs CONFIG.json`.
import { runnerMain } from "./runner";

runnerMain(process.argv.slice(2));
