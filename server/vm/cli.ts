// `npm run vm -- --kernel FILE [options]`: run one VM in the foreground,
// like `lkvm run`. Exit 0 when the guest powers off, non-zero otherwise
// (config.ts EXIT_CODES); bad arguments: one line, exit 2.

import { EXIT_CODES, parseRunConfig, type VmRunConfigInput } from "./config";
import { runVm } from "./runner";

const USAGE = `usage: npm run vm -- --kernel FILE [--initrd FILE] [--cmdline STR] [--disk FILE[,ro]]...
       [--vcpus N] [--memory MiB] [--serial stdio|unix:PATH] [--vnc unix:PATH] [--net tap:NAME[,mac=MAC]]
       [--framebuffer WxH|none] [--control unix:PATH] [--pid-file FILE] [--name NAME]`;

class ArgError extends Error {}

function int(flag: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new ArgError(`${flag}: expected a whole number, got '${v}'`);
  return Number(v);
}

export function parseArgs(argv: string[]): VmRunConfigInput {
  const cfg: VmRunConfigInput = { memoryMiB: 256, vcpus: 1, kernel: "", disks: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    }
    const next = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new ArgError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--kernel": cfg.kernel = next(); break;
      case "--initrd": cfg.initrd = next(); break;
      case "--cmdline": cfg.cmdline = next(); break;
      case "--disk": {
        const [path, ...opts] = next().split(",");
        if (!path) throw new ArgError("--disk: empty path");
        for (const o of opts) if (o !== "ro" && o !== "rw") throw new ArgError(`--disk: unknown option '${o}' (ro or rw)`);
        cfg.disks!.push({ path, readonly: opts.includes("ro") });
        break;
      }
      case "--vcpus": cfg.vcpus = int(flag, next()); break;
      case "--memory":
      case "--mem": cfg.memoryMiB = int(flag, next()); break;
      case "--serial": {
        const v = next();
        if (v !== "stdio" && v !== "none" && !/^unix:.+/.test(v)) throw new ArgError("--serial: stdio, none or unix:PATH");
        cfg.serial = v as VmRunConfigInput["serial"];
        break;
      }
      case "--vnc": {
        const v = next();
        if (!/^unix:.+/.test(v)) throw new ArgError("--vnc: unix:PATH");
        cfg.vnc = v as VmRunConfigInput["vnc"];
        break;
      }
      case "--control": {
        const v = next();
        if (!/^unix:.+/.test(v)) throw new ArgError("--control: unix:PATH");
        cfg.control = v as VmRunConfigInput["control"];
        break;
      }
      case "--net": {
        const v = next();
        const m = /^tap:([^,]+)(?:,mac=(.+))?$/.exec(v);
        if (!m) throw new ArgError("--net: tap:NAME[,mac=xx:xx:xx:xx:xx:xx]");
        cfg.net = { tap: m[1]!, ...(m[2] ? { mac: m[2] } : {}) };
        break;
      }
      case "--framebuffer":
      case "--fb": {
        const v = next();
        if (v === "none" || v === "0") cfg.framebuffer = null;
        else {
          const m = /^(\d+)x(\d+)$/.exec(v);
          if (!m) throw new ArgError("--framebuffer: WIDTHxHEIGHT or none");
          cfg.framebuffer = { width: Number(m[1]), height: Number(m[2]) };
        }
        break;
      }
      case "--pid-file": cfg.pidFile = next(); break;
      case "--name": cfg.name = next(); break;
      case "-h":
      case "--help":
        throw new ArgError(USAGE);
      default:
        throw new ArgError(`unknown argument '${arg}' (--help lists them)`);
    }
  }
  if (!cfg.kernel) throw new ArgError("--kernel FILE is required");
  return cfg;
}

export function cliMain(argv: string[]): void {
  let cfg;
  try {
    cfg = parseRunConfig(parseArgs(argv));
  } catch (e) {
    if (e instanceof ArgError && e.message === USAGE) {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(EXIT_CODES.usage);
  }
  runVm(cfg);
}
