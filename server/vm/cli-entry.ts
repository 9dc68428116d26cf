// Entry of the bundled CLI (native/build/cli.mjs), loaded by scripts/vm.mjs.
import { cliMain } from "./cli";

cliMain(process.argv.slice(2));
